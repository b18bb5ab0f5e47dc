import { describe, expect, it } from "vitest";
import { covers, type KeyPrincipal, TENANT_WIDE } from "../../src/services/principal";

const key = (scopes: KeyPrincipal["scopes"], collectionIds: string[] | null): KeyPrincipal => ({
  kind: "key",
  tenantId: "ten_1",
  keyId: "k",
  scopes,
  collectionIds,
  filter: null,
  rateTier: "standard",
});

describe("covers", () => {
  it("lets an unrestricted admin cover everything, tenant-wide things included", () => {
    expect(covers(key(["admin"], null), TENANT_WIDE)).toBe(true);
    expect(covers(key(["admin"], null), { scopes: ["query", "ingest"], collectionIds: ["a"] })).toBe(true);
  });

  it("never lets a restricted key cover all collections or a collection outside its list", () => {
    const restricted = key(["admin"], ["a", "b"]);
    expect(covers(restricted, TENANT_WIDE)).toBe(false);
    expect(covers(restricted, { scopes: ["query"], collectionIds: null })).toBe(false);
    expect(covers(restricted, { scopes: ["query"], collectionIds: ["a", "c"] })).toBe(false);
    expect(covers(restricted, { scopes: ["admin"], collectionIds: ["b", "a"] })).toBe(true);
  });

  it("treats admin as every scope, on either side", () => {
    expect(covers(key(["query", "ingest"], null), { scopes: ["admin"], collectionIds: ["a"] })).toBe(false);
    expect(covers(key(["query", "ingest", "admin"], null), { scopes: ["admin"], collectionIds: null })).toBe(true);
    expect(covers(key(["query"], null), { scopes: ["query", "ingest"], collectionIds: null })).toBe(false);
  });
});
