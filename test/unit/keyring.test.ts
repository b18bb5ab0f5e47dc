import { describe, expect, it } from "vitest";
import { parseKeyRing } from "../../src/config";
import { KeyRing } from "../../src/lib/keyring";

const v1 = `v1:${btoa("1".repeat(32))}`;
const v2 = `v2:${btoa("2".repeat(32))}`;

describe("KeyRing", () => {
  it("seals with the newest key and opens with any", async () => {
    const old = new KeyRing(parseKeyRing(v1));
    const sealedOld = await old.seal("hello", "ctx");
    const both = new KeyRing(parseKeyRing(`${v1},${v2}`));
    const sealedNew = await both.seal("hello", "ctx");
    expect(sealedOld.keyVersion).toBe(1);
    expect(sealedNew.keyVersion).toBe(2);
    expect(await both.open(sealedOld, "ctx")).toBe("hello");
    expect(await both.open(sealedNew, "ctx")).toBe("hello");
  });

  it("uses a fresh IV per message", async () => {
    const ring = new KeyRing(parseKeyRing(v1));
    const a = await ring.seal("same", "ctx");
    const b = await ring.seal("same", "ctx");
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(atob(a.iv)).toHaveLength(12);
  });

  it("refuses another context, a tampered ciphertext and an unknown version", async () => {
    const ring = new KeyRing(parseKeyRing(v1));
    const sealed = await ring.seal("hello", "tenant-a");
    await expect(ring.open(sealed, "tenant-b")).rejects.toThrow();
    const bytes = Uint8Array.from(atob(sealed.ciphertext), (c) => c.charCodeAt(0));
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await expect(
      ring.open({ ...sealed, ciphertext: btoa(String.fromCharCode(...bytes)) }, "tenant-a"),
    ).rejects.toThrow();
    await expect(ring.open({ ...sealed, keyVersion: 9 }, "tenant-a")).rejects.toThrow(/v9/);
  });
});
