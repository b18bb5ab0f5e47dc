/**
 * A local stand-in for an OpenAI-compatible API (Node side), speaking its wire format:
 * `POST /v1/embeddings` with `Authorization: Bearer <key>`, body `{model, input: string |
 * string[], encoding_format?: "float" | "base64", dimensions?}` → `{object:"list", data:
 * [{object:"embedding", index, embedding}], model, usage}`; errors as `{error:{message, type,
 * code}}` with 400 / 401 / 429 (+ Retry-After) / 5xx.
 *
 * Keys starting with `sk-test` are accepted. Tests steer faults per key through
 * `POST /__faults {key, status?, times?, delayMs?}` and read what a key sent through
 * `GET /__requests?key=…`, so parallel tests never see each other's faults.
 */
import { createServer } from "node:http";
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
}

const error = (message: string, type: string, code: string | null = null) => ({
  error: { message, type, code, param: null },
});

export async function startOpenAiStandIn(): Promise<{ url: string; close: () => Promise<void> }> {
  const faults = new Map<string, Fault>();
  const requests = new Map<string, unknown[]>();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (url.pathname === "/__faults" && req.method === "POST") {
        const body = (await readJson(req)) as { key: string } & Partial<Fault>;
        faults.set(body.key, { times: body.times ?? 1, ...body });
        return sendJson(res, 200, { ok: true });
      }
      if (url.pathname === "/__requests" && req.method === "GET") {
        return sendJson(res, 200, requests.get(url.searchParams.get("key") ?? "") ?? []);
      }
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
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
