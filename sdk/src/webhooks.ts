/**
 * Verifies an EdgeRAG webhook (Standard Webhooks v1: https://www.standardwebhooks.com/): the
 * `webhook-signature` header holds `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`
 * entries (several while a secret rotates), the secret being the base64 after `whsec_`.
 */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export interface WebhookEvent {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
  [extra: string]: unknown;
}

const encoder = new TextEncoder();

function header(headers: Headers | Record<string, string | string[] | undefined>, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()]);
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) {
    throw new WebhookVerificationError(`Missing ${name} header.`);
  }
  return text;
}

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/**
 * The event, if `body` (the raw request body, exactly as received) carries a valid signature by
 * `secret` made within `toleranceS` of now (default 5 minutes); otherwise a WebhookVerificationError.
 * `headers`: a `Headers`, or Node's `req.headers`.
 */
export async function verifyWebhook(
  secret: string,
  body: string,
  headers: Headers | Record<string, string | string[] | undefined>,
  { toleranceS = 300, now = Date.now() }: { toleranceS?: number; now?: number } = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - seconds) > toleranceS) {
    throw new WebhookVerificationError("The webhook timestamp is missing or too far from now.");
  }
  const key = await crypto.subtle.importKey(
    "raw",
    base64ToBytes(secret.replace(/^whsec_/, "")),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  const signed = encoder.encode(`${id}.${timestamp}.${body}`);
  for (const entry of signatures.split(" ")) {
    const [version, signature] = entry.split(",", 2);
    if (version !== "v1" || !signature) {
      continue;
    }
    let mac: Uint8Array<ArrayBuffer>;
    try {
      mac = base64ToBytes(signature);
    } catch {
      continue;
    }
    // crypto.subtle.verify compares in constant time.
    if (await crypto.subtle.verify("HMAC", key, mac, signed)) {
      return JSON.parse(body) as WebhookEvent;
    }
  }
  throw new WebhookVerificationError("No webhook signature matches the secret.");
}
