/**
 * Node-side servers for the webhook tests: a receiver whose paths choose its behaviour and that
 * records what it got, a canary that only counts hits (nothing may ever reach it), and a DNS over
 * HTTPS stand-in (the JSON API of 1.1.1.1) with fixed answers.
 */
import { createServer, type IncomingMessage } from "node:http";
import { listen, sendJson } from "../node-http";

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function startCanary() {
  let hits = 0;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    if (req.url === "/_hits") {
      sendJson(res, 200, { hits, paths });
      return;
    }
    hits++;
    paths.push(req.url ?? "");
    res.writeHead(200).end("canary");
  });
  return listen(server);
}

/**
 * `/ok/…` 204 · `/gone/…` 410 · `/fail/…` 500 · `/flaky/…` 500 then 200 alternately ·
 * `/redirect/…` 302 to the canary. `GET /_requests?path=` lists what a path received.
 */
export async function startWebhookReceiver(canaryUrl: string) {
  const received = new Map<string, Received[]>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    if (req.method === "GET" && url.pathname === "/_requests") {
      sendJson(res, 200, received.get(url.searchParams.get("path") ?? "") ?? []);
      return;
    }
    const body = await bodyOf(req);
    const list = received.get(url.pathname) ?? [];
    list.push({ headers: req.headers as Record<string, string>, body, at: Date.now() });
    received.set(url.pathname, list);
    const kind = url.pathname.split("/")[1];
    if (kind === "ok") {
      res.writeHead(204).end();
    } else if (kind === "gone") {
      res.writeHead(410).end();
    } else if (kind === "flaky") {
      res.writeHead(list.length % 2 === 1 ? 500 : 200).end();
    } else if (kind === "redirect") {
      res.writeHead(302, { location: `${canaryUrl}/stolen` }).end();
    } else {
      res.writeHead(500).end("failing on purpose");
    }
  });
  return listen(server);
}

/** Fixed DNS answers: public, private, loopback, link-local, mapped, mixed and missing names. */
export const DNS_ANSWERS: Record<string, Array<{ type: 1 | 28; data: string }>> = {
  "hooks.example.test": [{ type: 1, data: "93.184.216.34" }],
  "private.example.test": [{ type: 1, data: "10.0.0.5" }],
  "loop.example.test": [{ type: 1, data: "127.0.0.1" }],
  "v6loop.example.test": [{ type: 28, data: "::1" }],
  "mixed.example.test": [
    { type: 1, data: "93.184.216.34" },
    { type: 1, data: "192.168.1.10" },
  ],
  "metadata.example.test": [{ type: 1, data: "169.254.169.254" }],
  "mapped.example.test": [{ type: 28, data: "::ffff:127.0.0.1" }],
  "cgnat.example.test": [{ type: 1, data: "100.64.12.1" }],
  "ula.example.test": [{ type: 28, data: "fd12:3456::1" }],
  "127.0.0.1.nip.io": [{ type: 1, data: "127.0.0.1" }],
};

export async function startDohStandIn() {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://doh");
    const name = (url.searchParams.get("name") ?? "").toLowerCase();
    const type = url.searchParams.get("type") === "AAAA" ? 28 : 1;
    if (name === "garbled.example.test") {
      // A captive portal or a misconfigured resolver: 200, but not DNS JSON.
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end("<html><body>Sign in to the network</body></html>");
      return;
    }
    const answers = (DNS_ANSWERS[name] ?? []).filter((a) => a.type === type);
    sendJson(
      res,
      200,
      { Status: DNS_ANSWERS[name] ? 0 : 3, Answer: answers.map((a) => ({ name, ttl: 60, ...a })) },
      {
        "Content-Type": "application/dns-json",
      },
    );
  });
  return listen(server);
}
