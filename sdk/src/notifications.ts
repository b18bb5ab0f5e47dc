/** One of the tenant's events, as the notification stream and the webhooks carry it. */
export interface EdgeRAGEvent {
  seq: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
  created_at: string;
}

export interface NotificationOptions {
  /** Resume after this seq (every stored event after it, then live ones); default: live ones only. */
  after?: number;
  /** Stops the stream (the iterator ends). */
  signal?: AbortSignal;
  /** Longest wait between reconnection attempts, in ms (default 30,000). */
  maxBackoffMs?: number;
  /** Events older than `after` were purged before the stream could replay them (`reset`). */
  onReset?: (info: { oldest_seq: number; last_seq: number }) => void;
}

/** What the stream needs from the client: a single-use ticket, and the WebSocket URL. */
export interface NotificationTransport {
  ticket: () => Promise<string>;
  socketUrl: (ticket: string, after: number | undefined) => string;
  WebSocket: typeof WebSocket;
}

/**
 * The tenant's events over the WebSocket, as an async iterator that survives disconnects: each
 * connection takes a fresh single-use ticket (so it works in browsers, where a WebSocket cannot
 * carry an Authorization header) and resumes after the last seq it yielded, so no event is lost
 * or repeated across reconnects. Backs off 0.5 s, 1 s, 2 s … between failed attempts.
 */
export async function* notifications(
  transport: NotificationTransport,
  options: NotificationOptions = {},
): AsyncGenerator<EdgeRAGEvent> {
  let after = options.after;
  let failures = 0;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  while (!options.signal?.aborted) {
    const queue: Array<EdgeRAGEvent | { closed: true; opened: boolean }> = [];
    let wake: (() => void) | undefined;
    const push = (item: (typeof queue)[number]) => {
      queue.push(item);
      wake?.();
    };
    let socket: WebSocket | undefined;
    let opened = false;
    try {
      socket = new transport.WebSocket(transport.socketUrl(await transport.ticket(), after));
    } catch (error) {
      // A key that may not listen (401, 403) will not be let in by trying again.
      const status = (error as { status?: number }).status;
      if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) {
        throw error;
      }
      push({ closed: true, opened: false });
    }
    const abort = () => {
      socket?.close(1000, "done");
      push({ closed: true, opened });
    };
    options.signal?.addEventListener("abort", abort, { once: true });
    if (socket) {
      socket.addEventListener("open", () => {
        opened = true;
      });
      socket.addEventListener("message", (message) => {
        const parsed = JSON.parse(String(message.data)) as unknown;
        for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
          if (typeof frame?.seq === "number") {
            push(frame as EdgeRAGEvent);
          } else if (frame?.type === "ready" && after === undefined) {
            after = frame.last_seq; // a reconnect resumes from here, not from "live only"
          } else if (frame?.type === "reset") {
            options.onReset?.(frame as { oldest_seq: number; last_seq: number });
          }
        }
      });
      socket.addEventListener("close", () => push({ closed: true, opened }));
      // A refused upgrade: some runtimes report it only as an error.
      socket.addEventListener("error", () => push({ closed: true, opened }));
    }
    try {
      for (;;) {
        const item = queue.shift();
        if (!item) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if ("closed" in item) {
          failures = item.opened ? 0 : failures + 1;
          break;
        }
        if (after !== undefined && item.seq <= after) {
          continue; // already yielded before a reconnect
        }
        after = item.seq;
        yield item;
      }
    } finally {
      options.signal?.removeEventListener("abort", abort);
      if (socket && socket.readyState <= 1) {
        socket.close(1000, "done");
      }
    }
    if (options.signal?.aborted) {
      return;
    }
    const wait = Math.min(maxBackoff, failures === 0 ? 250 : 500 * 2 ** (failures - 1));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", done);
        resolve();
      }
      options.signal?.addEventListener("abort", done, { once: true });
    });
  }
}
