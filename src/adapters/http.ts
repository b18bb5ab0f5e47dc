/**
 * Calling an HTTP API of a provider (embeddings, generation, vectors): bounded retries on
 * 429/5xx/network errors with backoff that honours Retry-After, a timeout per attempt, and failures
 * mapped to AppErrors that never carry the provider's credentials.
 */
import { AppError } from "../errors";
import { recordRetry } from "../telemetry/observe";

export interface ProviderRequest {
  provider: string;
  url: string;
  apiKey: string;
  body: unknown;
  timeoutMs: number;
  /** Extra attempts after the first on 429, 5xx and network errors. */
  retries?: number;
  signal?: AbortSignal | undefined;
}

const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds or an HTTP date; capped so that a provider cannot park us for minutes. */
function retryAfterMs(header: string | null, attempt: number): number {
  const seconds = header === null ? Number.NaN : Number(header);
  if (Number.isFinite(seconds)) {
    return Math.min(MAX_BACKOFF_MS, Math.max(0, seconds * 1_000));
  }
  const date = header === null ? Number.NaN : Date.parse(header);
  if (Number.isFinite(date)) {
    return Math.min(MAX_BACKOFF_MS, Math.max(0, date - Date.now()));
  }
  return Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
}

/** The provider's own error message (OpenAI shape `{error:{message}}` or `{error:"…"}`), shortened. */
export async function providerMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  let message = text;
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const candidate = typeof json.error === "string" ? json.error : (json.error?.message ?? json.message);
    if (typeof candidate === "string") {
      message = candidate;
    }
  } catch {
    // Not JSON: keep the text.
  }
  return message.replace(/\s+/g, " ").trim().slice(0, 200) || `HTTP ${response.status}`;
}

/** POSTs JSON with a Bearer key and returns the successful response (body unread). */
export async function postJson(request: ProviderRequest): Promise<Response> {
  const retries = request.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    const signals = [AbortSignal.timeout(request.timeoutMs)];
    if (request.signal) {
      signals.push(request.signal);
    }
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${request.apiKey}` },
        body: JSON.stringify(request.body),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      if (request.signal?.aborted) {
        throw error;
      }
      const timedOut = (error as Error).name === "TimeoutError";
      if (attempt < retries) {
        recordRetry();
        await sleep(retryAfterMs(null, attempt));
        continue;
      }
      throw timedOut
        ? new AppError("upstream_timeout", `${request.provider} did not answer within ${request.timeoutMs} ms.`, {
            cause: error,
          })
        : new AppError("upstream_unavailable", `${request.provider} could not be reached.`, { cause: error });
    }
    if (response.ok) {
      return response;
    }
    if (RETRYABLE.has(response.status) && attempt < retries) {
      recordRetry();
      await response.body?.cancel();
      await sleep(retryAfterMs(response.headers.get("retry-after"), attempt));
      continue;
    }
    const message = await providerMessage(response);
    if (response.status === 401 || response.status === 403) {
      throw new AppError("misconfigured", `${request.provider} refused the API key (${response.status}: ${message}).`);
    }
    throw new AppError("upstream_unavailable", `${request.provider} answered ${response.status}: ${message}`);
  }
}
