// Real WebSocket clients (the `ws` package) for the notification stream of a served Worker: used by
// the end-to-end check (scripts/e2e-notifications.mjs) and the benchmark (scripts/bench-notify.mjs).
import WebSocket from "ws";

export const ADMIN = "bench-admin-token";

export async function api(base, method, path, { token = ADMIN, body } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A tenant and its admin key. */
export async function newTenant(base, name = `t-${Date.now()}`) {
  const { status, body } = await api(base, "POST", "/v1/admin/tenants", { body: { name } });
  if (status !== 201) {
    throw new Error(`tenant: ${status} ${JSON.stringify(body)}`);
  }
  return { id: body.tenant.id, key: body.api_key.key };
}

/**
 * One client: connects with a key (header) or a ticket, optionally resuming after a seq, and
 * records every event with its receive time. `lastSeq` is what it would resume from.
 */
export function connect(base, { key, ticket, after, batch } = {}) {
  const url = new URL("/v1/notifications/ws", base.replace(/^http/, "ws"));
  if (ticket) {
    url.searchParams.set("ticket", ticket);
  }
  if (after !== undefined) {
    url.searchParams.set("after", String(after));
  }
  if (batch) {
    url.searchParams.set("batch", "1");
  }
  const ws = new WebSocket(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const client = {
    ws,
    events: [],
    controls: [],
    lastSeq: after ?? 0,
    opened: new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
    }),
    closed: new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: String(reason) }))),
    close: () => ws.close(1000, "done"),
    /** The connection is lost: frames still buffered are never processed (as in a real client). */
    drop() {
      client.dropped = true;
      ws.terminate();
    },
  };
  ws.on("message", (raw) => {
    if (client.dropped) {
      return;
    }
    const at = performance.now();
    const parsed = JSON.parse(String(raw));
    for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof frame.seq === "number") {
        client.events.push({ ...frame, at });
        client.lastSeq = frame.seq;
      } else {
        client.controls.push(frame);
      }
    }
  });
  return client;
}

/** Checks a client's events: seqs strictly increasing by one from `from` to `to`. */
export function audit(events, from, to) {
  let lost = 0;
  let duplicated = 0;
  let reordered = 0;
  const seen = new Set();
  let previous = from - 1;
  for (const { seq } of events) {
    if (seen.has(seq)) {
      duplicated++;
      continue;
    }
    seen.add(seq);
    if (seq < previous) {
      reordered++;
    }
    previous = Math.max(previous, seq);
  }
  for (let seq = from; seq <= to; seq++) {
    if (!seen.has(seq)) {
      lost++;
    }
  }
  return { lost, duplicated, reordered };
}

/** Waits until `predicate()` holds, polling, or throws after `ms`. */
export async function until(predicate, ms = 10_000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
