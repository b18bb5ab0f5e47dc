// Small helpers the benchmark and evaluation scripts share: a JSON API client for the served
// Worker, and a JSON-lines reader for BEIR files.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/** `api(method, route, body, token, headers)`: JSON in, JSON out; a non-2xx answer throws with its problem. */
export function apiClient(url) {
  return async (method, route, body, token, headers = {}) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
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
