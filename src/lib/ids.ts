/** Identifiers and random tokens, from the platform CSPRNG (crypto.getRandomValues). */

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `length` characters of base62, unbiased (rejection sampling), ~5.95 bits each. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      // 248 = 4 * 62: bytes at or above it would bias the first characters.
      if (byte < 248 && out.length < length) {
        out += ALPHABET[byte % 62];
      }
    }
  }
  return out;
}

/** A prefixed resource id such as `ten_3kP9…` (16 base62 characters, ~95 bits). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(16)}`;
}

/** Sane client-supplied request ids are echoed; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function isSaneRequestId(value: string | null | undefined): value is string {
  return typeof value === "string" && REQUEST_ID.test(value);
}

export function newRequestId(): string {
  return crypto.randomUUID();
}

/** Where a document's original lives in R2 (`BLOBS`). */
export function blobKey(tenantId: string, documentId: string): string {
  return `t/${tenantId}/d/${documentId}`;
}
