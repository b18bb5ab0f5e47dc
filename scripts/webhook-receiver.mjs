#!/usr/bin/env node
// `npm run webhook:receiver [-- --port 8788] [--secret whsec_…]`: a webhook endpoint on loopback
// for local development. Prints each delivery and, given the endpoint's secret (or WEBHOOK_SECRET),
// verifies its signature with the `standardwebhooks` library (answering 401 when it fails, as a
// real receiver should, so the retry path shows too). `npm run dev` may deliver here because
// .dev.vars.example sets WEBHOOK_ALLOW_LOOPBACK=true; production refuses loopback and plain http.
//
//   npm run webhook:receiver
//   curl -s localhost:8787/v1/webhooks -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
//     -d '{"url":"http://127.0.0.1:8788/hook","events":["document.ready"]}'
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const port = Number(args.get("port") ?? process.env.PORT ?? 8788);
const secret = args.get("secret") ?? process.env.WEBHOOK_SECRET;
const verifier = secret ? new Webhook(secret) : undefined;
const MAX_BODY = 1024 * 1024;

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const id = req.headers["webhook-id"] ?? "?";
    let verdict = "unverified (pass --secret whsec_… to check signatures)";
    let status = 204;
    if (verifier) {
      try {
        verifier.verify(body, req.headers);
        verdict = "signature ok";
      } catch (error) {
        verdict = `signature REFUSED: ${error.message}`;
        status = 401;
      }
    }
    let event = "";
    let data = body;
    try {
      const parsed = JSON.parse(body);
      event = parsed.type ?? "";
      data = JSON.stringify(parsed.data ?? parsed);
    } catch {
      // not JSON: printed as it came
    }
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${event} ${id} — ${verdict}`);
    console.log(`  ${data.length > 400 ? `${data.slice(0, 400)}…` : data}`);
    res.writeHead(status).end();
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`webhook receiver on http://127.0.0.1:${port}/ — register that URL with POST /v1/webhooks`);
  if (!verifier) {
    console.log("no secret given: deliveries are printed, not verified (restart with --secret whsec_…)");
  }
});
