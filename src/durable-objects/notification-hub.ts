import { DurableObject } from "cloudflare:workers";
import { CLOSE, type NewEvent, SOCKET_HEADERS, type StoredEvent } from "../adapters/notify/interface";
import { getConfig } from "../config";
import type { NotificationSettings } from "../config/types";

/** Per socket, kept across hibernation and eviction. */
interface Attachment {
  tenantId: string;
  keyId: string;
  connectedAt: number;
  /** The highest seq the client acknowledged (`{"type":"ack","seq":N}`), 0 if none. */
  acked: number;
  /** Last message from the client (pings are auto-answered and counted separately). */
  lastMessageAt: number;
  /** Messages the hub could not use: a socket that keeps sending them is closed (1008). */
  invalid: number;
}

const MAX_INVALID_MESSAGES = 10;
/** Sockets opened with `?batch=1` get live events as one JSON array per this many ms at most. */
export const COALESCE_MS = 20;
/** Prune at least this often while the hub holds events. */
const PRUNE_EVERY_MS = 60 * 60_000;

type Row = { seq: number; id: string; type: string; data: string; created_at: number };

/**
 * One tenant's notifications: an append-only event log in SQLite storage with a gap-free sequence,
 * read state, and the tenant's WebSockets (hibernation API, so idle sockets cost nothing).
 * Publishing stores first and only then fans out; a resume sends the stored backlog and the
 * live stream continues after it, with no await in between, so nothing is missed or sent twice.
 */
export class NotificationHub extends DurableObject<Env> {
  private readonly settings: NotificationSettings;
  /** Live events not yet sent to the coalescing sockets, and the highest seq each of them has. */
  private pending: Array<{ seq: number; frame: string }> = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly sentUpTo = new WeakMap<WebSocket, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.settings = getConfig(env).notifications;
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        data TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO state VALUES ('last_seq', 0), ('read_up_to', 0);
    `);
    // Pings are answered without waking the object; the time of the last one says "alive".
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  /**
   * Stores the events (in order, each once: an id seen before keeps its seq and is not sent
   * again), then sends each new one to every socket. Returns every event's seq.
   */
  publish(events: NewEvent[]): Array<{ id: string; seq: number; duplicate: boolean }> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const fresh: StoredEvent[] = [];
    const results = this.ctx.storage.transactionSync(() =>
      events.map((event) => {
        const existing = sql.exec<{ seq: number }>("SELECT seq FROM events WHERE id = ?", event.id).toArray()[0];
        if (existing) {
          return { id: event.id, seq: existing.seq, duplicate: true };
        }
        const seq = this.state("last_seq") + 1;
        const createdAt = event.createdAt ?? now;
        sql.exec(
          "INSERT INTO events (seq, id, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
          seq,
          event.id,
          event.type,
          JSON.stringify(event.data),
          createdAt,
        );
        sql.exec("UPDATE state SET value = ? WHERE name = 'last_seq'", seq);
        fresh.push({
          seq,
          id: event.id,
          type: event.type,
          data: event.data,
          created_at: new Date(createdAt).toISOString(),
        });
        return { id: event.id, seq, duplicate: false };
      }),
    );
    for (const event of fresh) {
      const frame = JSON.stringify(event);
      this.broadcast(frame);
      this.pending.push({ seq: event.seq, frame });
    }
    if (this.pending.length > 0 && this.flushTimer === undefined) {
      this.flushTimer = setTimeout(() => this.flush(), COALESCE_MS);
    }
    if (fresh.length > 0) {
      void this.ensureAlarm();
    }
    return results;
  }

  /** Stored events after `after`, oldest first, with the tenant's read mark. */
  list(after: number, limit: number): { items: Array<StoredEvent & { read: boolean }>; next: number | null } {
    const rows = this.ctx.storage.sql
      .exec<Row>("SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", after, limit + 1)
      .toArray();
    const readUpTo = this.state("read_up_to");
    const items = rows.slice(0, limit).map((row) => ({ ...toEvent(row), read: row.seq <= readUpTo }));
    return { items, next: rows.length > limit ? (items.at(-1)?.seq ?? null) : null };
  }

  /** Events stored with `from <= created_at < to` (still retained), for the dashboard. */
  count(from: number, to: number): number {
    return this.ctx.storage.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE created_at >= ? AND created_at < ?", from, to)
      .one().n;
  }

  /** Marks every event up to `upTo` read, for the tenant; the mark never moves back. */
  markRead(upTo: number): void {
    const mark = Math.min(upTo, this.state("last_seq"));
    this.ctx.storage.sql.exec("UPDATE state SET value = MAX(value, ?) WHERE name = 'read_up_to'", mark);
  }

  /** Closes the sockets of a key (revoked, or rotated without grace), with `code`. */
  disconnect(keyId: string, code: number, reason: string): number {
    const sockets = this.ctx.getWebSockets(keyId);
    for (const ws of sockets) {
      closeQuietly(ws, code, reason);
    }
    return sockets.length;
  }

  /** Sockets now connected, and the newest and oldest stored seq (for health and tests). */
  stats(): { sockets: number; lastSeq: number; oldestSeq: number | null; events: number } {
    const row = this.ctx.storage.sql
      .exec<{ oldest: number | null; n: number }>("SELECT MIN(seq) AS oldest, COUNT(*) AS n FROM events")
      .one();
    return {
      sockets: this.ctx.getWebSockets().length,
      lastSeq: this.state("last_seq"),
      oldestSeq: row.oldest,
      events: row.n,
    };
  }

  /**
   * A WebSocket upgrade the Worker has already authenticated: the key and tenant come in trusted
   * headers (the hub is reachable only through the Worker). `?after=N` resumes at once.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const keyId = request.headers.get(SOCKET_HEADERS.keyId);
    const tenantId = request.headers.get(SOCKET_HEADERS.tenantId);
    if (!keyId || !tenantId) {
      return new Response("unauthenticated", { status: 401 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const now = Date.now();
    const attachment: Attachment = { tenantId, keyId, connectedAt: now, acked: 0, lastMessageAt: now, invalid: 0 };
    // Over a cap: accepted, told why with a close code (a browser cannot read an HTTP status).
    const full =
      this.ctx.getWebSockets().length >= this.settings.maxSocketsPerTenant
        ? "too many sockets for this tenant"
        : this.ctx.getWebSockets(keyId).length >= this.settings.maxSocketsPerKey
          ? "too many sockets for this key"
          : undefined;
    const batch = new URL(request.url).searchParams.get("batch") === "1";
    this.ctx.acceptWebSocket(server, [keyId, batch ? "batch" : "single"]);
    server.serializeAttachment(attachment);
    if (batch) {
      this.sentUpTo.set(server, this.state("last_seq"));
    }
    if (full) {
      server.close(CLOSE.tooManySockets, full);
    } else {
      const after = new URL(request.url).searchParams.get("after");
      // `null` (a page's end, passed back) means no resume, as absent; the route validated the rest.
      if (after !== null && after !== "null" && after !== "") {
        this.resume(server, Number(after));
      }
      void this.ensureAlarm();
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const size = typeof message === "string" ? new TextEncoder().encode(message).byteLength : message.byteLength;
    if (size > this.settings.maxMessageBytes) {
      closeQuietly(ws, CLOSE.tooBig, `messages are at most ${this.settings.maxMessageBytes} bytes`);
      return;
    }
    const attachment = ws.deserializeAttachment() as Attachment;
    attachment.lastMessageAt = Date.now();
    const parsed = parseClientMessage(message);
    if (parsed.type === "resume") {
      this.resume(ws, parsed.after);
    } else if (parsed.type === "ack") {
      attachment.acked = Math.max(attachment.acked, parsed.seq);
    } else if (parsed.type === "ping") {
      ws.send('{"type":"pong"}');
    } else {
      attachment.invalid++;
      if (attachment.invalid > MAX_INVALID_MESSAGES) {
        closeQuietly(ws, CLOSE.policy, "too many invalid messages");
        return;
      }
      ws.send(JSON.stringify({ type: "error", detail: parsed.detail }));
    }
    ws.serializeAttachment(attachment);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Completes the closing handshake the client started (1005/1006 cannot be sent back).
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, 1011, "socket error");
  }

  /** Prunes what retention allows, closes idle sockets, and comes back while there is work. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const { retainEvents, retainMs, idleTimeoutMs } = this.settings;
    this.ctx.storage.sql.exec(
      "DELETE FROM events WHERE seq <= ? AND created_at < ?",
      this.state("last_seq") - retainEvents,
      now - retainMs,
    );
    for (const ws of this.ctx.getWebSockets()) {
      const attachment = ws.deserializeAttachment() as Attachment | null;
      const ping = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      const last = Math.max(attachment?.lastMessageAt ?? 0, ping);
      if (now - last > idleTimeoutMs) {
        closeQuietly(ws, CLOSE.idle, "idle: send a ping at least every 30 s");
      }
    }
    // Back while there is work: sockets to watch, or events to prune one day.
    const stored = this.ctx.storage.sql.exec("SELECT 1 FROM events LIMIT 1").toArray().length > 0;
    if (stored || this.ctx.getWebSockets().length > 0) {
      await this.ensureAlarm(true);
    }
  }

  /** Sends every stored event after `after`, in order; from before the retained range, `reset` first. */
  private resume(ws: WebSocket, after: number): void {
    const last = this.state("last_seq");
    const from = Number.isSafeInteger(after) && after >= 0 ? after : 0;
    const oldest = this.ctx.storage.sql
      .exec<{ oldest: number | null }>("SELECT MIN(seq) AS oldest FROM events")
      .one().oldest;
    // Missing events: pruned ones (after < oldest - 1), or a client ahead of this hub.
    if ((oldest !== null && from < oldest - 1) || from > last) {
      ws.send(JSON.stringify({ type: "reset", oldest_seq: oldest ?? last + 1, last_seq: last }));
    }
    const start = Math.min(from, last);
    for (const row of this.ctx.storage.sql.exec<Row>("SELECT * FROM events WHERE seq > ? ORDER BY seq", start)) {
      ws.send(JSON.stringify(toEvent(row)));
    }
    ws.send(JSON.stringify({ type: "ready", last_seq: last }));
    this.sentUpTo.set(ws, last);
  }

  /** One frame per event, at once, to the sockets that did not ask for batches. */
  private broadcast(frame: string): void {
    for (const ws of this.ctx.getWebSockets("single")) {
      try {
        ws.send(frame);
      } catch {
        // A socket closing right now: it resumes from its last seq when it reconnects.
      }
    }
  }

  /** The coalescing sockets: every pending event they lack, as one JSON array, in seq order. */
  private flush(): void {
    const pending = this.pending;
    this.pending = [];
    this.flushTimer = undefined;
    for (const ws of this.ctx.getWebSockets("batch")) {
      const sent = this.sentUpTo.get(ws) ?? 0;
      const frames = pending.filter((p) => p.seq > sent);
      const last = frames.at(-1);
      if (!last) {
        continue;
      }
      try {
        ws.send(`[${frames.map((p) => p.frame).join(",")}]`);
        this.sentUpTo.set(ws, last.seq);
      } catch {
        // Closing: it resumes from its last seq.
      }
    }
  }

  private state(name: "last_seq" | "read_up_to"): number {
    return this.ctx.storage.sql.exec<{ value: number }>("SELECT value FROM state WHERE name = ?", name).one().value;
  }

  /**
   * An alarm soon enough for the idle check (sockets open) or the next prune. Called where there
   * is work (a publish, a connect, an alarm that found some), so it only reads the alarm's time.
   */
  private async ensureAlarm(replace = false): Promise<void> {
    const sockets = this.ctx.getWebSockets().length;
    const due = Date.now() + (sockets > 0 ? Math.min(this.settings.idleTimeoutMs, PRUNE_EVERY_MS) : PRUNE_EVERY_MS);
    const current = await this.ctx.storage.getAlarm();
    if (replace || current === null || current > due) {
      await this.ctx.storage.setAlarm(due);
    }
  }
}

function toEvent(row: Row): StoredEvent {
  return {
    seq: row.seq,
    id: row.id,
    type: row.type,
    data: JSON.parse(row.data) as Record<string, unknown>,
    created_at: new Date(row.created_at).toISOString(),
  };
}

type ClientMessage =
  | { type: "resume"; after: number }
  | { type: "ack"; seq: number }
  | { type: "ping" }
  | { type: "invalid"; detail: string };

function parseClientMessage(message: string | ArrayBuffer): ClientMessage {
  if (typeof message !== "string") {
    return { type: "invalid", detail: "messages are JSON text" };
  }
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return { type: "invalid", detail: "messages are JSON text" };
  }
  const m = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const seq = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined);
  if (m.type === "resume" && seq(m.after) !== undefined) {
    return { type: "resume", after: seq(m.after) as number };
  }
  if (m.type === "ack" && seq(m.seq) !== undefined) {
    return { type: "ack", seq: seq(m.seq) as number };
  }
  if (m.type === "ping") {
    return { type: "ping" };
  }
  return {
    type: "invalid",
    detail: 'expected {"type":"resume","after":N}, {"type":"ack","seq":N} or {"type":"ping"}',
  };
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
