/**
 * Standard Webhooks v1 signatures: `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`,
 * the secret being the base64 after `whsec_`. https://www.standardwebhooks.com/
 */
import { fromBase64, toBase64 } from "./crypto";

const encoder = new TextEncoder();

/** A new signing secret: 24 random bytes, `whsec_<base64>`. */
export function newWebhookSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

export async function signWebhook(secret: string, id: string, timestampS: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.replace(/^whsec_/, "")),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestampS}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}
