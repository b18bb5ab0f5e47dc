import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";

afterEach(() => {
  vi.useRealTimers();
});

import { testDb } from "../support/db";
import { ADMIN, call, callWith, expectProblem, json, newCollection, newKey, newTenant } from "../support/http";

type KeyView = {
  id: string;
  key?: string;
  scopes: string[];
  last_used_at: string | null;
  previous_key_expires_at: string | null;
};

describe("POST /v1/admin/tenants", () => {
  it("creates a tenant with a working admin key shown once", async () => {
    const res = await call("POST", "/v1/admin/tenants", { token: ADMIN, body: { name: "Acme" } });
    expect(res.status).toBe(201);
    const body = await json<{
      tenant: { id: string; name: string; created_at: string };
      api_key: { id: string; key: string; scopes: string[] };
    }>(res);
    expect(body.tenant.name).toBe("Acme");
    expect(new Date(body.tenant.created_at).toISOString()).toBe(body.tenant.created_at);
    expect(body.api_key.key).toMatch(/^erk_[A-Za-z0-9]{16}_[A-Za-z0-9]{32}$/);
    expect(body.api_key.scopes).toEqual(["admin"]);
    const list = await call("GET", "/v1/api-keys", { token: body.api_key.key });
    expect(list.status).toBe(200);
  });

  it("refuses a missing or wrong operator token with 401", async () => {
    await expectProblem(await call("POST", "/v1/admin/tenants", { body: { name: "x" } }), 401, "unauthorized");
    await expectProblem(
      await call("POST", "/v1/admin/tenants", { token: "wrong", body: { name: "x" } }),
      401,
      "unauthorized",
    );
  });

  it("refuses a tenant API key on operator routes", async () => {
    const tenant = await newTenant();
    await expectProblem(
      await call("POST", "/v1/admin/tenants", { token: tenant.adminKey, body: { name: "x" } }),
      401,
      "unauthorized",
    );
  });

  it("stores only a hash of the secret", async () => {
    const tenant = await newTenant();
    const secret = tenant.adminKey.split("_")[2] ?? "";
    const row = await testDb()
      .prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(tenant.adminKeyId)
      .first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("rate tiers granted by the operator", () => {
  const shipped = { RATE_LIMIT_TIERS: "{}" };
  const asOperator = (method: string, path: string, body?: unknown) =>
    callWith(shipped, method, path, { token: ADMIN, body });

  it("creates a tenant with a maximum tier whose keys may then use it", async () => {
    const res = await asOperator("POST", "/v1/admin/tenants", { name: "Big", max_rate_tier: "enterprise" });
    expect(res.status).toBe(201);
    const body = await json<{ tenant: { max_rate_tier: string }; api_key: { key: string } }>(res);
    expect(body.tenant.max_rate_tier).toBe("enterprise");
    const key = await callWith(shipped, "POST", "/v1/api-keys", {
      token: body.api_key.key,
      body: { name: "fast", scopes: ["query"], rate_tier: "enterprise" },
    });
    expect(key.status).toBe(201);
  });

  it("lowers a tenant's maximum with PATCH and moves faster keys down to it", async () => {
    const created = await json<{ tenant: { id: string }; api_key: { id: string; key: string } }>(
      await asOperator("POST", "/v1/admin/tenants", { name: "Shrinking", max_rate_tier: "enterprise" }),
    );
    const fast = await json<{ id: string; key: string }>(
      await callWith(shipped, "POST", "/v1/api-keys", {
        token: created.api_key.key,
        body: { name: "fast", scopes: ["admin"], rate_tier: "enterprise" },
      }),
    );
    const res = await asOperator("PATCH", `/v1/admin/tenants/${created.tenant.id}`, { max_rate_tier: "free" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: created.tenant.id, name: "Shrinking", max_rate_tier: "free" });
    const { results } = await testDb()
      .prepare("SELECT rate_tier FROM api_keys WHERE tenant_id = ?")
      .bind(created.tenant.id)
      .all<{ rate_tier: string }>();
    expect(results.map((r) => r.rate_tier)).toEqual(["free", "free"]);
    // The moved key is limited on its new tier at once (this isolate forgot its cached row).
    const limited = await callWith(shipped, "GET", "/v1/api-keys", { token: fast.key });
    expect(limited.headers.get("ratelimit-limit")).toBe("120");
    await expectProblem(
      await callWith(shipped, "POST", "/v1/api-keys", {
        token: fast.key,
        body: { name: "again", scopes: ["query"], rate_tier: "standard" },
      }),
      403,
      "forbidden",
    );
  });

  it("answers 404 for an unknown tenant, 422 for an unknown tier, 401 for a tenant key", async () => {
    const tenant = await newTenant();
    await expectProblem(
      await asOperator("PATCH", "/v1/admin/tenants/ten_doesnotexist", { max_rate_tier: "free" }),
      404,
      "not_found",
    );
    const unknown = await expectProblem(
      await asOperator("PATCH", `/v1/admin/tenants/${tenant.id}`, { max_rate_tier: "gold" }),
      422,
      "validation_failed",
    );
    expect(unknown.errors).toEqual([expect.objectContaining({ path: "max_rate_tier" })]);
    await expectProblem(
      await asOperator("POST", "/v1/admin/tenants", { name: "x", max_rate_tier: "operator" }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await callWith(shipped, "PATCH", `/v1/admin/tenants/${tenant.id}`, {
        token: tenant.adminKey,
        body: { max_rate_tier: "enterprise" },
      }),
      401,
      "unauthorized",
    );
  });
});

describe("API keys", () => {
  it("creates, lists (without secrets) and uses a scoped key", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const created = await newKey(tenant, {
      name: "reader",
      scopes: ["query"],
      collection_ids: [col],
      rate_tier: "standard",
    });
    const list = await json<{ items: KeyView[] }>(await call("GET", "/v1/api-keys", { token: tenant.adminKey }));
    expect(list.items.map((k) => k.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain(created.key);
    expect(list.items.every((k) => !("key" in k))).toBe(true);
    // A query-scoped key cannot manage keys.
    await expectProblem(await call("GET", "/v1/api-keys", { token: created.key }), 403, "forbidden");
  });

  it("rejects unknown scopes and tiers with 422", async () => {
    const tenant = await newTenant();
    const bad = await call("POST", "/v1/api-keys", { token: tenant.adminKey, body: { name: "x", scopes: ["root"] } });
    await expectProblem(bad, 422, "validation_failed");
    const tier = await call("POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "x", scopes: ["query"], rate_tier: "gold" },
    });
    const body = await expectProblem(tier, 422, "validation_failed");
    expect(body.errors).toEqual([expect.objectContaining({ path: "rate_tier" })]);
  });

  it("refuses a rate tier above the tenant's maximum with 403; slower tiers are fine", async () => {
    // The shipped tiers: standard (600/min) is the default maximum, enterprise is 6,000/min.
    const shipped = { RATE_LIMIT_TIERS: "{}" };
    const tenant = await newTenant();
    const ask = (rate_tier: string) =>
      callWith(shipped, "POST", "/v1/api-keys", {
        token: tenant.adminKey,
        body: { name: "x", scopes: ["query"], rate_tier },
      });
    const refused = await expectProblem(await ask("enterprise"), 403, "forbidden");
    expect(refused.detail).toContain('"standard"');
    expect((await ask("free")).status).toBe(201);
    expect((await ask("standard")).status).toBe(201);
  });

  it("refuses collection ids the tenant does not have, including another tenant's", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    const bCol = await newCollection(b);
    const res = await call("POST", "/v1/api-keys", {
      token: a.adminKey,
      body: { name: "x", scopes: ["query"], collection_ids: [bCol, "col_AAAAAAAAAAAAAAAA"] },
    });
    const body = await expectProblem(res, 422, "validation_failed");
    expect(body.errors).toHaveLength(2);
  });

  it("refuses a past expires_at, and an expired key stops working", async () => {
    const tenant = await newTenant();
    const past = await call("POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "x", scopes: ["admin"], expires_at: "2001-01-01T00:00:00Z" },
    });
    await expectProblem(past, 422, "validation_failed");
    const soon = await newKey(tenant, { scopes: ["admin"], expires_at: new Date(Date.now() + 1500).toISOString() });
    expect((await call("GET", "/v1/api-keys", { token: soon.key })).status).toBe(200);
    // The Worker runs in this isolate: a faked Date is its clock too (no real wait).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 1_600);
    const expired = await expectProblem(await call("GET", "/v1/api-keys", { token: soon.key }), 401, "unauthorized");
    expect(expired.detail).toContain("expired");
  });

  it("does not let a collection-restricted key mint a wider key", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const restricted = await newKey(tenant, { scopes: ["admin"], collection_ids: [col] });
    const wider = await call("POST", "/v1/api-keys", { token: restricted.key, body: { name: "x", scopes: ["query"] } });
    await expectProblem(wider, 403, "forbidden");
    const narrower = await call("POST", "/v1/api-keys", {
      token: restricted.key,
      body: { name: "x", scopes: ["query"], collection_ids: [col] },
    });
    expect(narrower.status).toBe(201);
  });

  it("lets a restricted admin key act only on keys within its reach (list, rotate, revoke, mint)", async () => {
    const tenant = await newTenant();
    const [c1, c2] = [await newCollection(tenant), await newCollection(tenant)];
    const restricted = await newKey(tenant, { scopes: ["admin"], collection_ids: [c1] });
    const inside = await newKey(tenant, { scopes: ["query"], collection_ids: [c1] });
    const elsewhere = await newKey(tenant, { scopes: ["query"], collection_ids: [c1, c2] });
    const as = (method: string, path: string, body?: unknown) => call(method, path, { token: restricted.key, body });

    // The tenant's unrestricted admin key, and a key reaching another collection, are out of reach.
    for (const target of [tenant.adminKeyId, elsewhere.id]) {
      await expectProblem(await as("POST", `/v1/api-keys/${target}/rotate`, {}), 403, "forbidden");
      await expectProblem(await as("DELETE", `/v1/api-keys/${target}`), 403, "forbidden");
    }
    // ...and untouched: the unrestricted key still works with its old secret.
    expect((await call("GET", "/v1/api-keys", { token: tenant.adminKey })).status).toBe(200);
    // It lists only the keys it covers (itself and the narrower one).
    const listed = await json<{ items: KeyView[] }>(await as("GET", "/v1/api-keys"));
    expect(listed.items.map((k) => k.id).sort()).toEqual([restricted.id, inside.id].sort());
    // Minting: no wider collections, and no scope beyond its own reach.
    await expectProblem(
      await as("POST", "/v1/api-keys", { name: "x", scopes: ["query"], collection_ids: [c1, c2] }),
      403,
      "forbidden",
    );
    // Within reach it may rotate and revoke, and what it gets back stays restricted.
    const rotated = await json<KeyView & { collection_ids: string[] }>(
      await as("POST", `/v1/api-keys/${inside.id}/rotate`, {}),
    );
    expect(rotated.collection_ids).toEqual([c1]);
    expect((await as("DELETE", `/v1/api-keys/${inside.id}`)).status).toBe(204);

    // Collections decide even between admin keys: all collections is wider than any list of them.
    const narrowAdmin = await newKey(tenant, { scopes: ["admin"], collection_ids: [c1, c2] });
    const ingestEverywhere = await newKey(tenant, { scopes: ["ingest"] });
    await expectProblem(
      await call("POST", `/v1/api-keys/${ingestEverywhere.id}/rotate`, { token: narrowAdmin.key, body: {} }),
      403,
      "forbidden",
    );
  });

  it("rotates: the new secret works, the old one only during the grace period", async () => {
    const tenant = await newTenant();
    const key = await newKey(tenant, { scopes: ["admin"] });
    const res = await call("POST", `/v1/api-keys/${key.id}/rotate`, {
      token: tenant.adminKey,
      body: { grace_seconds: 1 },
    });
    expect(res.status).toBe(200);
    const rotated = await json<KeyView & { key: string }>(res);
    expect(rotated.id).toBe(key.id);
    expect(rotated.key).not.toBe(key.key);
    expect(rotated.previous_key_expires_at).not.toBeNull();
    expect((await call("GET", "/v1/api-keys", { token: rotated.key })).status).toBe(200);
    expect((await call("GET", "/v1/api-keys", { token: key.key })).status).toBe(200);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 1_100);
    await expectProblem(await call("GET", "/v1/api-keys", { token: key.key }), 401, "unauthorized");
    expect((await call("GET", "/v1/api-keys", { token: rotated.key })).status).toBe(200);
  });

  it("rotates with the default grace of 3600 s when the body is empty JSON", async () => {
    const tenant = await newTenant();
    const key = await newKey(tenant, { scopes: ["query"] });
    const rotated = await json<KeyView>(
      await call("POST", `/v1/api-keys/${key.id}/rotate`, { token: tenant.adminKey, body: {} }),
    );
    const grace = Date.parse(rotated.previous_key_expires_at ?? "") - Date.now();
    expect(grace).toBeGreaterThan(3_590_000);
    expect(grace).toBeLessThanOrEqual(3_600_000);
  });

  it("revokes: the key stops working at once", async () => {
    const tenant = await newTenant();
    const key = await newKey(tenant, { scopes: ["admin"] });
    expect((await call("GET", "/v1/api-keys", { token: key.key })).status).toBe(200);
    const del = await call("DELETE", `/v1/api-keys/${key.id}`, { token: tenant.adminKey });
    expect(del.status).toBe(204);
    await expectProblem(await call("GET", "/v1/api-keys", { token: key.key }), 401, "unauthorized");
    await expectProblem(await call("DELETE", `/v1/api-keys/${key.id}`, { token: tenant.adminKey }), 404, "not_found");
  });

  it("returns 404 for another tenant's key, and leaves it untouched", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    const bKey = await newKey(b, { scopes: ["query"] });
    await expectProblem(await call("DELETE", `/v1/api-keys/${bKey.id}`, { token: a.adminKey }), 404, "not_found");
    await expectProblem(
      await call("POST", `/v1/api-keys/${bKey.id}/rotate`, { token: a.adminKey, body: {} }),
      404,
      "not_found",
    );
    const aList = await json<{ items: KeyView[] }>(await call("GET", "/v1/api-keys", { token: a.adminKey }));
    expect(aList.items.map((k) => k.id)).not.toContain(bKey.id);
    const bList = await json<{ items: KeyView[] }>(await call("GET", "/v1/api-keys", { token: b.adminKey }));
    expect(bList.items.map((k) => k.id)).toContain(bKey.id);
  });

  it("refuses a forged secret for a real key id", async () => {
    const tenant = await newTenant();
    const forged = `erk_${tenant.adminKeyId}_${"A".repeat(32)}`;
    await expectProblem(await call("GET", "/v1/api-keys", { token: forged }), 401, "unauthorized");
  });

  it("records last_used_at off the hot path", async () => {
    const tenant = await newTenant();
    const key = await newKey(tenant, { scopes: ["admin"] });
    const { callWith } = await import("../support/http");
    await callWith({}, "GET", "/v1/api-keys", { token: key.key });
    const row = await testDb()
      .prepare("SELECT last_used_at FROM api_keys WHERE id = ?")
      .bind(key.id)
      .first<{ last_used_at: number | null }>();
    expect(row?.last_used_at).toBeGreaterThan(Date.now() - 10_000);
  });
});
