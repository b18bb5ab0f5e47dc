// Early refusals through `wrangler dev` itself (what `npm run dev` serves): its proxy forwards the
// request body as a stream, and a Worker that answers without reading or cancelling the body had
// its response held until the body ended — an anonymous client could hold connections open for
// minutes. Raw sockets, so that no client library finishes the body for us.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";

const root = path.resolve(import.meta.dirname, "../..");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends `head` and 10 bytes of a 500,000-byte body, never the rest; the status line and how long it
 * took. Real time on purpose: what is tested is that the answer does not wait for the body, so the
 * 5 s bound is the measurement, not a pause.
 */
function unfinished(port, head, waitMs = 5_000) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => socket.write(`${head}0123456789`));
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ status: 0, ms: Date.now() - started });
    }, waitMs);
    socket.on("data", (chunk) => {
      text += chunk;
      if (text.includes("\r\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status: Number(text.split(" ")[1]), ms: Date.now() - started });
      }
    });
    socket.on("error", () => undefined);
  });
}

describe("wrangler dev", () => {
  let dev;
  let port;
  before(async () => {
    port = await freePort();
    const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
    // This Node (the project's), not whichever `node` is first on PATH.
    dev = spawn(process.execPath, [wrangler, "dev", "--ip", "127.0.0.1", "--port", String(port)], {
      cwd: root,
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wrangler dev did not start in 90 s:\n${output}`)), 90_000);
      const watch = (chunk) => {
        output += chunk;
        if (/Ready on/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      dev.stdout.on("data", watch);
      dev.stderr.on("data", watch);
      dev.once("exit", (code) => reject(new Error(`wrangler dev exited ${code}:\n${output}`)));
    });
  });
  after(() => dev?.kill("SIGTERM"));

  const post = (route, extra = "") =>
    `POST ${route} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${extra}Content-Length: 500000\r\n\r\n`;
  for (const [name, head, status] of [
    ["401 without a key", post("/v1/collections"), 401],
    ["401 with a wrong key", post("/v1/collections", "Authorization: Bearer erk_nope_nope\r\n"), 401],
    ["404 for an unknown route", post("/v1/nothing-here"), 404],
    ["405 for a wrong method", post("/health/live"), 405],
  ]) {
    it(`answers ${name} at once while the body is still arriving`, async () => {
      const res = await unfinished(port, head);
      assert.equal(res.status, status, `no ${status} within 5 s (took ${res.ms} ms)`);
      assert.ok(res.ms < 2_000, `the ${status} took ${res.ms} ms`);
    });
  }
});
