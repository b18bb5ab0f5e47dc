import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/adapters/db/client";
import { parseConfig } from "../../src/config";
import { revealSecret } from "../../src/services/secrets";
import { testDb } from "../support/db";
import { ADMIN, call, callWith, expectProblem, json, newCollection, newKey, newTenant } from "../support/http";

const V1 = "v1:ZWRnZXJhZy1sb2NhbC1kZXYta2V5LTMyLWJ5dGVzISE=";
const V2 = `v2:${btoa("another-32-byte-key-for-tests!!!")}`;

describe("tenant secrets", () => {
  it("stores a secret encrypted and never returns it", async () => {
    const tenant = await newTenant();
    const value = "sk-live-very-secret-value-123";
    const put = await call("PUT", "/v1/secrets/OPENAI_API_KEY", { token: tenant.adminKey, body: { value } });
    expect(put.status).toBe(204);
    const list = await call("GET", "/v1/secrets", { token: tenant.adminKey });
    const text = await list.text();
    expect(text).toContain("OPENAI_API_KEY");
    expect(text).not.toContain(value);
    const row = await testDb().prepare("SELECT * FROM tenant_secrets WHERE tenant_id = ?").bind(tenant.id).first();
    expect(JSON.stringify(row)).not.toContain(value);
    const db = createDb(testDb());
    expect(await revealSecret(db, parseConfig(env), tenant.id, "OPENAI_API_KEY")).toBe(value);
  });

  it("binds a ciphertext to its tenant: moved to another tenant it does not open", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    await call("PUT", "/v1/secrets/TOKEN", { token: a.adminKey, body: { value: "a-secret" } });
    await testDb()
      .prepare(
        "INSERT INTO tenant_secrets (tenant_id, name, key_version, iv, ciphertext, created_at, updated_at) SELECT ?, name, key_version, iv, ciphertext, created_at, updated_at FROM tenant_secrets WHERE tenant_id = ?",
      )
      .bind(b.id, a.id)
      .run();
    const db = createDb(testDb());
    await expect(revealSecret(db, parseConfig(env), b.id, "TOKEN")).rejects.toMatchObject({ code: "misconfigured" });
    // Re-encryption reports such a row as failed and carries on with the others.
    const res = await callWith({ ENCRYPTION_KEYS: `${V2},${V1}` }, "POST", "/v1/admin/secrets/re-encrypt", {
      token: ADMIN,
    });
    const result = await json<{ re_encrypted: number; failed: number }>(res);
    expect(result.failed).toBe(1);
    expect(result.re_encrypted).toBeGreaterThanOrEqual(1);
    expect(await revealSecret(db, parseConfig({ ...env, ENCRYPTION_KEYS: V2 }), a.id, "TOKEN")).toBe("a-secret");
    await testDb().prepare("DELETE FROM tenant_secrets WHERE tenant_id = ?").bind(b.id).run();
  });

  it("requires the admin scope and validates the name", async () => {
    const tenant = await newTenant();
    const reader = await newKey(tenant, { scopes: ["query"] });
    await expectProblem(
      await call("PUT", "/v1/secrets/X", { token: reader.key, body: { value: "v" } }),
      403,
      "forbidden",
    );
    await expectProblem(
      await call("PUT", "/v1/secrets/1bad-name", { token: tenant.adminKey, body: { value: "v" } }),
      422,
      "validation_failed",
    );
    await expectProblem(await call("DELETE", "/v1/secrets/MISSING", { token: tenant.adminKey }), 404, "not_found");
  });

  it("refuses a collection-restricted admin key: secrets are tenant-wide", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const restricted = await newKey(tenant, { scopes: ["admin"], collection_ids: [collection] });
    expect((await call("PUT", "/v1/secrets/OPENAI", { token: tenant.adminKey, body: { value: "v" } })).status).toBe(
      204,
    );
    await expectProblem(
      await call("PUT", "/v1/secrets/OPENAI", { token: restricted.key, body: { value: "mine now" } }),
      403,
      "forbidden",
    );
    await expectProblem(await call("GET", "/v1/secrets", { token: restricted.key }), 403, "forbidden");
    await expectProblem(await call("DELETE", "/v1/secrets/OPENAI", { token: restricted.key }), 403, "forbidden");
    const listed = await call("GET", "/v1/secrets", { token: tenant.adminKey });
    expect(((await listed.json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it("answers 503 naming ENCRYPTION_KEYS when no key ring is configured", async () => {
    const tenant = await newTenant();
    const res = await callWith({ ENCRYPTION_KEYS: "" }, "PUT", "/v1/secrets/X", {
      token: tenant.adminKey,
      body: { value: "v" },
    });
    const body = await expectProblem(res, 503, "misconfigured");
    expect(body.detail).toContain("ENCRYPTION_KEYS");
  });

  it("re-encrypts every secret under the newest key, after which the old key can be retired", async () => {
    const tenant = await newTenant();
    await call("PUT", "/v1/secrets/ONE", { token: tenant.adminKey, body: { value: "first" } });
    await call("PUT", "/v1/secrets/TWO", { token: tenant.adminKey, body: { value: "second" } });
    const ring = { ENCRYPTION_KEYS: `${V2},${V1}` };
    const res = await callWith(ring, "POST", "/v1/admin/secrets/re-encrypt", { token: ADMIN });
    expect(res.status).toBe(200);
    const result = await json<{ re_encrypted: number; key_version: number }>(res);
    expect(result.key_version).toBe(2);
    expect(result.re_encrypted).toBeGreaterThanOrEqual(2);
    const db = createDb(testDb());
    const onlyV2 = parseConfig({ ...env, ENCRYPTION_KEYS: V2 });
    expect(await revealSecret(db, onlyV2, tenant.id, "ONE")).toBe("first");
    expect(await revealSecret(db, onlyV2, tenant.id, "TWO")).toBe("second");
    // Running it again finds nothing left to do.
    const again = await json<{ re_encrypted: number }>(
      await callWith(ring, "POST", "/v1/admin/secrets/re-encrypt", { token: ADMIN }),
    );
    expect(again.re_encrypted).toBe(0);
    await testDb().prepare("UPDATE tenant_secrets SET key_version = 1").run();
  });
});
