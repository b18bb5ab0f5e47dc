import { call } from "./http";

export interface Frame {
  type?: string;
  seq?: number;
  id?: string;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A client end of the notification socket, opened through the Worker's real entry point. */
export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  /** Frames that were arrays (coalesced live events). */
  arrays: number;
  /** Events only (frames with a seq). */
  events(): Frame[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `predicate` holds for the frames received so far. */
  until(predicate: (frames: Frame[]) => boolean, timeoutMs?: number): Promise<Frame[]>;
  send(value: unknown): void;
  close(): void;
}

export async function openSocket(
  options: { token?: string; query?: string; headers?: Record<string, string> } = {},
): Promise<{ res: Response; socket?: TestSocket }> {
  const res = await call("GET", `/v1/notifications/ws${options.query ?? ""}`, {
    ...(options.token !== undefined ? { token: options.token } : {}),
    headers: { Upgrade: "websocket", ...options.headers },
  });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) {
    return { res };
  }
  ws.accept();
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  // A coalescing socket (?batch=1) gets arrays of events; every other frame is one object.
  ws.addEventListener("message", (event) => {
    const parsed = JSON.parse(event.data as string) as Frame | Frame[];
    if (Array.isArray(parsed)) {
      socket.arrays++;
    }
    frames.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    for (const waiter of [...waiters]) {
      waiter();
    }
  });
  const socket: TestSocket = {
    ws,
    frames,
    arrays: 0,
    events: () => frames.filter((f) => typeof f.seq === "number" && f.type !== "ready" && f.type !== "reset"),
    closed,
    until(predicate, timeoutMs = 5_000) {
      // Checked on every frame as it arrives (a barrier, not a poll); the timeout only bounds a failure.
      if (predicate(frames)) {
        return Promise.resolve(frames);
      }
      return new Promise((resolve, reject) => {
        const waiter = () => {
          if (predicate(frames)) {
            finish();
            resolve(frames);
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms; frames so far: ${JSON.stringify(frames).slice(0, 500)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        waiters.add(waiter);
      });
    },
    send: (value) => ws.send(typeof value === "string" ? value : JSON.stringify(value)),
    close: () => ws.close(1000, "done"),
  };
  return { res, socket };
}

/** Seqs of the events, and whether they are exactly `from`..`to` with nothing missing or doubled. */
export function seqs(frames: Frame[]): number[] {
  return frames.map((f) => f.seq as number);
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
