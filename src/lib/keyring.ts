/**
 * AES-256-GCM sealing under a versioned key ring (ENCRYPTION_KEYS). The newest key seals; every key
 * opens what it sealed. The caller's context (tenant id and secret name) is bound as additional
 * authenticated data, so a ciphertext copied to another tenant or name fails to open.
 */
import { fromBase64, toBase64 } from "./crypto";

export interface Sealed {
  keyVersion: number;
  iv: string;
  ciphertext: string;
}

/** One key of the ring (ENCRYPTION_KEYS). */
export interface KeyRingEntry {
  version: number;
  /** Raw 256-bit AES key. */
  key: Uint8Array;
}

const imported = new WeakMap<Uint8Array, Promise<CryptoKey>>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function importKey(entry: KeyRingEntry): Promise<CryptoKey> {
  let key = imported.get(entry.key);
  if (!key) {
    key = crypto.subtle.importKey("raw", entry.key, "AES-GCM", false, ["encrypt", "decrypt"]);
    imported.set(entry.key, key);
  }
  return key;
}

export class KeyRing {
  constructor(private readonly entries: KeyRingEntry[]) {}

  get newestVersion(): number | undefined {
    return this.entries[0]?.version;
  }

  async seal(plaintext: string, context: string): Promise<Sealed> {
    const newest = this.entries[0];
    if (!newest) {
      throw new Error("the key ring is empty");
    }
    // A random 96-bit IV per message (NIST SP 800-38D §8.2.2).
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
      await importKey(newest),
      encoder.encode(plaintext),
    );
    return { keyVersion: newest.version, iv: toBase64(iv), ciphertext: toBase64(new Uint8Array(sealed)) };
  }

  /** Throws if the key version is unknown, or the data or context were tampered with. */
  async open(sealed: Sealed, context: string): Promise<string> {
    const entry = this.entries.find((e) => e.version === sealed.keyVersion);
    if (!entry) {
      throw new Error(`no key v${sealed.keyVersion} in the key ring`);
    }
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(sealed.iv), additionalData: encoder.encode(context) },
      await importKey(entry),
      fromBase64(sealed.ciphertext),
    );
    return decoder.decode(plain);
  }
}
