/**
 * End-user tokens (`ert_…`): short-lived (≤ 24 h), signed bearer tokens an admin key mints for a
 * browser or widget, restricted to scopes (`query`, `ingest`), collections and a metadata filter,
 * each no wider than the minting key's. A token is `ert_<payload>.<signature>`: the payload is
 * base64url JSON, the signature HMAC-SHA256 under a key derived (HKDF) from the ENCRYPTION_KEYS
 * ring entry the payload names, so verifying one reads no database; ring rotation keeps old
 * tokens valid while their ring key stays in the ring. A token dies with the key that minted it:
 * the key's row is read through the same isolate cache as the key itself (no database read when
 * warm; a revocation elsewhere is seen within API_KEY_CACHE_TTL_MS).
 */
import type { Config } from "../config";
import { AppError } from "../errors";
import { fromBase64, toBase64 } from "../lib/crypto";
import { randomBase62 } from "../lib/ids";
import type { KeyRingEntry } from "../lib/keyring";
import { iso } from "../schemas/common";
import type { CreateTokenInput, TokenView } from "../schemas/tokens";
import { narrowed } from "./api-keys";
import { assertCovers, type KeyPrincipal, parsedFilter, type Scope } from "./principal";

/** The longest a token may live. */
export const MAX_TOKEN_SECONDS = 86_400;
/** A token longer than this is not one of ours (filters are bounded, so payloads are). */
const MAX_TOKEN_LENGTH = 16_384;
const PREFIX = "ert_";
const encoder = new TextEncoder();

/** What a token says, as signed. */
export interface TokenClaims {
  /** Version of the ENCRYPTION_KEYS entry its signing key derives from. */
  v: number;
  /** Tenant, minting key and token ids. */
  t: string;
  k: string;
  j: string;
  s: Scope[];
  c: string[] | null;
  f: Record<string, unknown> | null;
  /** Expiry, epoch seconds. */
  e: number;
}

const signingKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

/** The HMAC key of a ring entry: HKDF-SHA256 with its own label, never the sealing key itself. */
function signingKey(entry: KeyRingEntry): Promise<CryptoKey> {
  let key = signingKeys.get(entry.key);
  if (!key) {
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", entry.key, "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode("edgerag end-user token v1") },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      );
    })();
    signingKeys.set(entry.key, key);
  }
  return key;
}

const base64url = (bytes: Uint8Array) => toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromBase64url = (text: string) => fromBase64(text.replace(/-/g, "+").replace(/_/g, "/"));

export async function signToken(claims: TokenClaims, ring: KeyRingEntry[]): Promise<string> {
  const entry = ring.find((e) => e.version === claims.v);
  if (!entry) {
    throw new AppError("misconfigured", "No ENCRYPTION_KEYS entry to sign tokens with.");
  }
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign("HMAC", await signingKey(entry), encoder.encode(`${PREFIX}${payload}`));
  return `${PREFIX}${payload}.${base64url(new Uint8Array(signature))}`;
}

/** The token's claims if it is ours, intact and unexpired; otherwise why not. */
export async function verifyToken(
  token: string,
  ring: KeyRingEntry[],
  now = Date.now(),
): Promise<{ claims: TokenClaims } | { reason: string }> {
  const dot = token.lastIndexOf(".");
  if (!token.startsWith(PREFIX) || token.length > MAX_TOKEN_LENGTH || dot < 0) {
    return { reason: "Malformed token." };
  }
  const payload = token.slice(PREFIX.length, dot);
  let claims: TokenClaims;
  let signature: Uint8Array;
  try {
    signature = fromBase64url(token.slice(dot + 1));
    claims = JSON.parse(new TextDecoder().decode(fromBase64url(payload))) as TokenClaims;
  } catch {
    return { reason: "Malformed token." };
  }
  const entry = ring.find((e) => e.version === claims?.v);
  // crypto.subtle.verify compares in constant time.
  if (
    !entry ||
    !(await crypto.subtle.verify("HMAC", await signingKey(entry), signature, encoder.encode(`${PREFIX}${payload}`)))
  ) {
    return { reason: "Invalid token." };
  }
  if (typeof claims.e !== "number" || claims.e * 1000 <= now) {
    return { reason: "The token has expired." };
  }
  return { claims };
}

/**
 * Mints a token for `creator` (an admin key): scopes, collections and filter no wider than the
 * key's own (its filter is ANDed in), for at most MAX_TOKEN_SECONDS.
 */
export async function mintToken(config: Config, creator: KeyPrincipal, input: CreateTokenInput): Promise<TokenView> {
  if (creator.token) {
    throw new AppError("forbidden", "A token cannot mint tokens; use an API key.");
  }
  const ring = config.keyRing;
  const newest = ring[0];
  if (!newest) {
    throw new AppError("misconfigured", "End-user tokens are unavailable: ENCRYPTION_KEYS is not set.");
  }
  const collectionIds = input.collection_ids ? [...new Set(input.collection_ids)] : (creator.collectionIds ?? null);
  const filter = narrowed(creator, input.filter);
  assertCovers(
    creator,
    { scopes: input.scopes, collectionIds, filter: parsedFilter(filter) },
    "a token with these scopes and collections",
  );
  const expiresAt = Math.floor(Date.now() / 1000) + input.expires_in;
  const claims: TokenClaims = {
    v: newest.version,
    t: creator.tenantId,
    k: creator.keyId,
    j: randomBase62(16),
    s: input.scopes,
    c: collectionIds,
    f: filter,
    e: expiresAt,
  };
  return {
    token: await signToken(claims, ring),
    token_id: claims.j,
    scopes: input.scopes,
    collection_ids: claims.c,
    filter: claims.f,
    expires_at: iso(expiresAt * 1000) as string,
  };
}
