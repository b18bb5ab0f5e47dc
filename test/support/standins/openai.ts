/**
 * A local stand-in for an OpenAI-compatible API (Node side), speaking its wire format:
 * `POST /v1/embeddings` with `Authorization: Bearer <key>`, body `{model, input: string |
 * string[], encoding_format?: "float" | "base64", dimensions?}` → `{object:"list", data:
 * [{object:"embedding", index, embedding}], model, usage}`; errors as `{error:{message, type,
 * code}}` with 400 / 401 / 429 (+ Retry-After) / 5xx.
 *
 * Keys starting with `sk-test` are accepted. Tests steer faults per key through
 * `POST /__faults {key, status?, times?, delayMs?, reply?}` (`reply`: what the model says instead,
 * e.g. the abstention sentence its prompt names) and read what a key sent through
 * `GET /__requests?key=…`, so parallel tests never see each other's faults.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listen, readJson, sendJson } from "../node-http";
import { hashedEmbedding } from "./hashed-model";

const MODELS: Record<string, { dimensions: number; shortenable: boolean }> = {
  "text-embedding-3-small": { dimensions: 1536, shortenable: true },
  "text-embedding-3-large": { dimensions: 3072, shortenable: true },
  "text-embedding-ada-002": { dimensions: 1536, shortenable: false },
};

interface Fault {
  status?: number;
  times: number;
  delayMs?: number;
  reply?: string;
}

const error = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, code, param: null },
});

export async function startOpenAiStandIn(): Promise<{ url: string; close: () => Promise<void> }> {
  const faults = new Map<string, Fault>();
  const requests = new Map<string, unknown[]>();
  const aborted = new Set<string>();
  /** The W3C `traceparent` of each request, per key: the Worker propagates its trace. */
  const traceparents = new Map<string, string[]>();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (url.pathname === "/__faults" && req.method === "POST") {
        const body = (await readJson(req)) as { key: string } & Partial<Fault>;
        faults.set(body.key, { times: body.times ?? 1, ...body });
        return sendJson(res, 200, { ok: true });
      }
      if (url.pathname === "/__aborted" && req.method === "GET") {
        return sendJson(res, 200, { aborted: aborted.has(url.searchParams.get("key") ?? "") });
      }
      if (url.pathname === "/__requests" && req.method === "GET") {
        return sendJson(res, 200, requests.get(url.searchParams.get("key") ?? "") ?? []);
      }
      if (url.pathname === "/__traceparents" && req.method === "GET") {
        return sendJson(res, 200, traceparents.get(url.searchParams.get("key") ?? "") ?? []);
      }
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
      traceparents.set(key, [...(traceparents.get(key) ?? []), String(req.headers.traceparent ?? "")]);
      if (!key.startsWith("sk-test")) {
        return sendJson(
          res,
          401,
          error(
            "Incorrect API key provided. You can find your API key in your account settings.",
            "invalid_request_error",
            "invalid_api_key",
          ),
        );
      }
      if (url.pathname === "/v1/chat/completions" && req.method === "POST") {
        const body = (await readJson(req)) as Record<string, unknown> | null;
        requests.set(key, [...(requests.get(key) ?? []), body]);
        return chat(body, faults.get(key), req, res, () => aborted.add(key));
      }
      if (url.pathname !== "/v1/embeddings" || req.method !== "POST") {
        return sendJson(res, 404, error(`Invalid URL (${req.method} ${url.pathname})`, "invalid_request_error"));
      }
      const body = (await readJson(req)) as Record<string, unknown> | null;
      requests.set(key, [...(requests.get(key) ?? []), body]);
      const fault = faults.get(key);
      if (fault && fault.times > 0) {
        fault.times -= 1;
        if (fault.delayMs) {
          await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        }
        if (fault.status === 429) {
          return sendJson(res, 429, error("Rate limit reached for requests", "requests", "rate_limit_exceeded"), {
            "retry-after": "0",
          });
        }
        if (fault.status) {
          return sendJson(
            res,
            fault.status,
            error("The server had an error while processing your request.", "server_error"),
          );
        }
      }
      return embeddings(body, res);
    } catch (cause) {
      return sendJson(
        res,
        400,
        error(
          `We could not parse the JSON body of your request. (${(cause as Error).message})`,
          "invalid_request_error",
        ),
      );
    }
  });

  function embeddings(body: Record<string, unknown> | null, res: Parameters<typeof sendJson>[0]) {
    const model = MODELS[String(body?.model)];
    if (!model) {
      return sendJson(
        res,
        404,
        error(`The model \`${String(body?.model)}\` does not exist`, "invalid_request_error", "model_not_found"),
      );
    }
    const input = body?.input;
    const texts = typeof input === "string" ? [input] : input;
    if (
      !Array.isArray(texts) ||
      texts.length === 0 ||
      texts.length > 2_048 ||
      !texts.every((t) => typeof t === "string" && t !== "")
    ) {
      return sendJson(
        res,
        400,
        error("'input' must be a non-empty string or an array of 1 to 2048 non-empty strings", "invalid_request_error"),
      );
    }
    let dimensions = model.dimensions;
    if (body?.dimensions !== undefined) {
      if (
        !model.shortenable ||
        typeof body.dimensions !== "number" ||
        body.dimensions < 1 ||
        body.dimensions > model.dimensions
      ) {
        return sendJson(res, 400, error("This model does not support specifying dimensions.", "invalid_request_error"));
      }
      dimensions = body.dimensions;
    }
    const base64 = body?.encoding_format === "base64";
    const data = texts.map((text, index) => {
      const vector = hashedEmbedding(text, dimensions);
      const embedding = base64 ? Buffer.from(Float32Array.from(vector).buffer).toString("base64") : vector;
      return { object: "embedding", index, embedding };
    });
    const tokens = texts.reduce((sum, t) => sum + Math.ceil(t.length / 4), 0);
    return sendJson(res, 200, {
      object: "list",
      data,
      model: String(body?.model),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  return listen(server);
}

/**
 * A rewrite request (a `<conversation>` block and a follow-up): the "model" labels and quotes its
 * standalone question, the follow-up with the last user turn it leans on, as models often do.
 */
function rewriteReply(user: string): string | undefined {
  const turns = [...user.matchAll(/<turn role="user">([\s\S]*?)<\/turn>/g)];
  const followUp = /\nFollow-up: (.*)$/.exec(user)?.[1];
  if (!user.startsWith("<conversation>") || !followUp) {
    return undefined;
  }
  return `Standalone question: "${followUp.replace(/\?$/, "")}, regarding: ${turns.at(-1)?.[1] ?? ""}"`;
}

/**
 * `POST /v1/chat/completions`: with `stream: true`, server-sent events of
 * `{choices:[{delta:{content}}]}` and `data: [DONE]`; else one JSON completion. The "model" answers
 * with the first sentence of the first source in the context block, cited [1], plus a citation of
 * a source that does not exist ([9]) so that clients must validate markers. Faults as for
 * embeddings; `delayMs` here is the pause between streamed chunks (a slow model), and a client
 * that goes away mid-stream is recorded (`GET /__aborted?key=`).
 */
async function chat(
  body: Record<string, unknown> | null,
  fault: Fault | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  onAbort: () => void,
) {
  const messages = body?.messages;
  if (!Array.isArray(messages) || typeof body?.model !== "string") {
    return sendJson(res, 400, error("'messages' and 'model' are required", "invalid_request_error"));
  }
  if (fault && fault.times > 0 && fault.status) {
    fault.times -= 1;
    return sendJson(
      res,
      fault.status,
      error("The server had an error while processing your request.", "server_error"),
      {
        "retry-after": "0",
      },
    );
  }
  const user = String((messages.at(-1) as { content?: unknown })?.content ?? "");
  const source = /<source n="1"[^>]*>\n([\s\S]*?)\n<\/source>/.exec(user)?.[1] ?? "";
  const sentence = source.split(/(?<=[.!?])\s+/)[0] ?? "";
  const answer =
    fault?.reply ??
    rewriteReply(user) ??
    (sentence ? `According to the sources, ${sentence} [1][9]` : "I could not find it.");
  if (body.stream !== true) {
    return sendJson(res, 200, {
      id: "chatcmpl-standin",
      object: "chat.completion",
      model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }],
    });
  }
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  let closed = false;
  res.on("close", () => {
    if (!res.writableFinished) {
      closed = true;
      onAbort();
    }
  });
  const delay = fault?.delayMs ?? 0;
  for (const word of answer.split(/(?<= )/)) {
    if (closed) {
      return;
    }
    res.write(
      `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: word } }] })}\n\n`,
    );
    if (delay > 0) {
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  res.end("data: [DONE]\n\n");
  void req;
}
