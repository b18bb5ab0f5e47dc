import { connect } from "cloudflare:sockets";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

/**
 * Body limits against a real HTTP server, with hand-written framing: a declared Content-Length,
 * a chunked body, and the request-smuggling shape with both headers. Sent over a raw TCP socket
 * so that no client library normalises the framing first.
 */
async function raw(request: string, waitMs = 10_000): Promise<{ status: number; head: string; body: string }> {
  const url = new URL(env.TEST_WORKER_URL);
  const socket = connect({ hostname: url.hostname, port: Number(url.port) });
  const writer = socket.writable.getWriter();
  await writer.write(new TextEncoder().encode(request));
  let text = "";
  const reader = socket.readable.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const { done, value } = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((resolve) =>
        setTimeout(() => resolve({ done: true, value: undefined }), Math.max(0, deadline - Date.now())),
      ),
    ]);
    if (done) {
      break;
    }
    text += decoder.decode(value, { stream: true });
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(/content-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? Number.NaN);
      if (!Number.isNaN(length) && text.length >= end + 4 + length) {
        break;
      }
    }
  }
  await socket.close();
  const [head = "", body = ""] = text.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), head, body };
}

const big = JSON.stringify({ name: "x".repeat(1_100_000) });
const headers = (extra: string) =>
  `POST /v1/admin/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer e2e-admin-token\r\nContent-Type: application/json\r\n${extra}Connection: close\r\n\r\n`;
const chunked = (body: string) => {
  let out = "";
  for (let i = 0; i < body.length; i += 65_536) {
    const part = body.slice(i, i + 65_536);
    out += `${part.length.toString(16)}\r\n${part}\r\n`;
  }
  return `${out}0\r\n\r\n`;
};

describe("body limits over real HTTP framing", () => {
  it("413 for a body over the limit framed by Content-Length", async () => {
    const res = await raw(`${headers(`Content-Length: ${big.length}\r\n`)}${big}`);
    expect(res.status).toBe(413);
    expect(res.head.toLowerCase()).toContain("content-type: application/problem+json");
  });

  it("413 for a chunked body over the limit", async () => {
    const res = await raw(`${headers("Transfer-Encoding: chunked\r\n")}${chunked(big)}`);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ code: "payload_too_large" });
  });

  it("413 for conflicting Content-Length and Transfer-Encoding (a small CL hiding a large chunked body)", async () => {
    const res = await raw(`${headers("Content-Length: 10\r\nTransfer-Encoding: chunked\r\n")}${chunked(big)}`);
    expect(res.status).toBe(413);
  });

  it("413 at once from a declared Content-Length over the limit, even if the client then stalls", async () => {
    // 10^12 bytes declared, a few sent, the connection left open: nothing may wait for the rest.
    const started = Date.now();
    const res = await raw(`${headers("Content-Length: 1000000000000\r\n")}{"name":"`, 3_000);
    expect(res.status).toBe(413);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("a small body within the limit still works", async () => {
    const body = JSON.stringify({ name: "e2e" });
    const res = await raw(`${headers(`Content-Length: ${body.length}\r\n`)}${body}`);
    expect(res.status).toBe(201);
  });
});
