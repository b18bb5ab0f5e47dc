// Small helpers the benchmark and evaluation scripts share: a JSON API client for the served
// Worker, and a JSON-lines reader for BEIR files.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/**
 * `api(method, route, body, token, headers)`: JSON in (or a FormData body, sent as multipart), JSON
 * out; a non-2xx answer throws with its problem.
 */
export function apiClient(url) {
  return async (method, route, body, token, headers = {}) => {
    const form = body instanceof FormData;
    const res = await fetch(`${url}${route}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(form ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined || form ? body : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) {
      throw new Error(`${method} ${route} -> ${res.status}: ${JSON.stringify(json)}`);
    }
    return json;
  };
}

export async function* jsonl(file) {
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (line.trim()) {
      yield JSON.parse(line);
    }
  }
}

/**
 * Runs `work(item, index)` over `items` with at most `concurrency` at a time; results in order.
 * `onDone(count)` is told after each item (for a progress line).
 */
export async function pool(items, concurrency, work, onDone = () => undefined) {
  const results = new Array(items.length);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i], i);
        onDone(++done);
      }
    }),
  );
  return results;
}

/** `--set "NAME=value,NAME2=value"`: extra Worker settings (a value may hold commas, not `,NAME=`). */
export function settingsFrom(text = "") {
  return Object.fromEntries(
    text
      .split(/,(?=[A-Z][A-Z0-9_]*=)/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}
