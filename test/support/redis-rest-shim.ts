/**
 * A small HTTP server that speaks Upstash's Redis REST protocol in front of a real redis-server,
 * so that @upstash/redis and @upstash/ratelimit are tested against real Redis semantics.
 *
 * Protocol (as the Upstash client uses it): `POST /` with a JSON command array -> `{result}` or
 * `{error}` (HTTP 400); `POST /pipeline` and `POST /multi-exec` with an array of commands -> an array
 * of `{result}|{error}`; `Authorization: Bearer <token>`; with `Upstash-Encoding: base64` every
 * string in a result is base64-encoded except the status reply "OK".
 * Runs in Node (vitest globalSetup, benchmarks), never in the Worker.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { readJson, sendJson } from "./node-http";

type Reply = string | number | null | RedisError | Reply[];

class RedisError {
  constructor(readonly message: string) {}
}
/** A status reply (`+OK`), kept apart from bulk strings because Upstash encodes them differently. */
class Status {
  constructor(readonly text: string) {}
}
type Parsed = string | number | null | RedisError | Status | Parsed[];

function encodeCommand(args: Array<string | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one RESP2 value at `offset`; returns undefined when the buffer holds only part of it. */
function parseReply(buf: Buffer, offset: number): { value: Parsed; next: number } | undefined {
  const lineEnd = buf.indexOf("\r\n", offset);
  if (lineEnd < 0) {
    return undefined;
  }
  const type = String.fromCharCode(buf[offset] ?? 0);
  const line = buf.toString("utf8", offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: new Status(line), next: after };
    case "-":
      return { value: new RedisError(line), next: after };
    case ":":
      return { value: Number(line), next: after };
    case "$": {
      const length = Number(line);
      if (length < 0) {
        return { value: null, next: after };
      }
      if (buf.length < after + length + 2) {
        return undefined;
      }
      return { value: buf.toString("utf8", after, after + length), next: after + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) {
        return { value: null, next: after };
      }
      const items: Parsed[] = [];
      let cursor = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, cursor);
        if (!item) {
          return undefined;
        }
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/** One RESP connection with in-order pipelining: replies resolve the oldest waiting command. */
class RedisConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (v: Parsed) => void; reject: (e: Error) => void }> = [];
  private readonly socket: Socket;
  private failed: Error | undefined;

  constructor(port: number) {
    this.socket = connect({ port, host: "127.0.0.1" });
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk) => this.onData(chunk));
    const fail = (error: Error) => {
      this.failed = error;
      for (const w of this.waiting.splice(0)) {
        w.reject(error);
      }
    };
    this.socket.on("error", fail);
    this.socket.on("close", () => fail(new Error("connection to redis closed")));
  }

  send(args: Array<string | number>): Promise<Parsed> {
    if (this.failed) {
      return Promise.reject(this.failed);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  get broken(): boolean {
    return this.failed !== undefined;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = parseReply(this.buffer, offset);
      if (!parsed) {
        break;
      }
      offset = parsed.next;
      this.waiting.shift()?.resolve(parsed.value);
    }
    this.buffer = this.buffer.subarray(offset);
  }
}

/**
 * Debian's Redis 7.0 rejects the `#!lua flags=allow-key-locking` shebang that @upstash/ratelimit 2.x
 * sends (a scheduling hint Upstash's own server understands). We drop that shebang line, which
 * makes Redis run the script in its classic mode with the same semantics, and map the client's
 * SHA-1 (of the original text) to the SHA-1 of the text Redis actually cached, so EVALSHA still hits.
 */
const shaAliases = new Map<string, string>();
const SHEBANG = /^#!lua[^\n]*\n/;

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

function rewrite(command: Array<string | number>): Array<string | number> {
  const name = String(command[0] ?? "").toUpperCase();
  if (name === "EVAL" || name === "EVAL_RO") {
    const script = String(command[1] ?? "");
    if (SHEBANG.test(script)) {
      const stripped = script.replace(SHEBANG, "");
      shaAliases.set(sha1(script), sha1(stripped));
      return [command[0] ?? "EVAL", stripped, ...command.slice(2)];
    }
  }
  if (name === "EVALSHA" || name === "EVALSHA_RO") {
    const alias = shaAliases.get(String(command[1] ?? "").toLowerCase());
    if (alias) {
      return [command[0] ?? "EVALSHA", alias, ...command.slice(2)];
    }
  }
  return command;
}

function toJson(value: Parsed, base64: boolean): Reply {
  if (value instanceof Status) {
    return base64 && value.text !== "OK" ? Buffer.from(value.text).toString("base64") : value.text;
  }
  if (typeof value === "string") {
    return base64 ? Buffer.from(value).toString("base64") : value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => toJson(item, base64));
  }
  return value;
}

function envelope(value: Parsed, base64: boolean): { result?: Reply; error?: string } {
  return value instanceof RedisError ? { error: value.message } : { result: toJson(value, base64) };
}

function isCommand(value: unknown): value is Array<string | number> {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string" || typeof v === "number");
}

export interface ShimOptions {
  redisPort: number;
  token: string;
  port?: number;
}

export interface Shim {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startRedisRestShim(options: ShimOptions): Promise<Shim> {
  let shared = new RedisConnection(options.redisPort);
  const connection = () => {
    if (shared.broken) {
      shared = new RedisConnection(options.redisPort);
    }
    return shared;
  };
  const send = sendJson;

  const server = createServer(async (req, res) => {
    try {
      if (req.method !== "POST") {
        return send(res, 405, { error: "method not allowed" });
      }
      if (req.headers.authorization !== `Bearer ${options.token}`) {
        return send(res, 401, { error: "Unauthorized" });
      }
      const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
      const body = await readJson(req);
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/" && isCommand(body)) {
        const reply = await connection().send(rewrite(body));
        return send(res, reply instanceof RedisError ? 400 : 200, envelope(reply, base64));
      }
      if ((path === "/pipeline" || path === "/multi-exec") && Array.isArray(body) && body.every(isCommand)) {
        if (path === "/pipeline") {
          const conn = connection();
          const replies = await Promise.all(body.map((command) => conn.send(rewrite(command))));
          return send(
            res,
            200,
            replies.map((reply) => envelope(reply, base64)),
          );
        }
        // A transaction gets its own connection so other clients' commands cannot interleave.
        const conn = new RedisConnection(options.redisPort);
        try {
          await conn.send(["MULTI"]);
          for (const command of body) {
            await conn.send(rewrite(command));
          }
          const replies = await conn.send(["EXEC"]);
          if (replies instanceof RedisError || !Array.isArray(replies)) {
            return send(res, 400, { error: replies instanceof RedisError ? replies.message : "EXECABORT" });
          }
          return send(
            res,
            200,
            replies.map((reply) => envelope(reply, base64)),
          );
        } finally {
          conn.close();
        }
      }
      return send(res, 400, { error: "ERR malformed request" });
    } catch (error) {
      return send(res, 500, { error: `ERR shim: ${(error as Error).message}` });
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        shared.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
