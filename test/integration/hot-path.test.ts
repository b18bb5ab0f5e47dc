/**
 * No origin round trip on the hot path: a warm key and a cached answer cost no D1 call in the
 * request (counted at the instrumented binding, as the `request` point's `db_calls` and the
 * dependency points show), and the bounds that make that safe: a key deleted elsewhere stops
 * working within API_KEY_CACHE_TTL_MS, a collection changed elsewhere is seen within
 * COLLECTION_VERSION_MAX_AGE_MS, and either at once in the isolate that made the change.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MemoryAnalytics } from "../../src/adapters/telemetry/memory";
import { createApp } from "../../src/app";
import { STORE, testDb } from "../support/db";
import { ingestText, json, newCollection, newKey, newTenant, type TestTenant } from "../support/http";

let tenant: TestTenant;
let collection: string;

beforeAll(async () => {
  tenant = await newTenant();
  collection = await newCollection(tenant);
  await ingestText(
    tenant,
    collection,
    "Leave policy",
    "Employees receive twenty five days of paid vacation every year.",
  );
}, 60_000);

/** One request through a fresh app (the isolate's caches are shared), with its data points. */
async function request(settings: Record<string, string>, method: string, path: string, token: string, body?: unknown) {
  const analytics = new MemoryAnalytics();
  const ctx = createExecutionContext();
  const res = await createApp().fetch(
    new Request(`http://edgerag.test${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { ...env, ...settings, ANALYTICS: analytics } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const [point, ...dependencies] = analytics.rows;
  return { res, d1Calls: point?.double7, dependencies: dependencies.map((row) => row.blob2) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the hot path", () => {
  it("a warm authenticated no-op and a cached answer make no D1 call", async () => {
    const key = await newKey(tenant, { scopes: ["query"] });
    const cold = await request({}, "GET", "/v1/whoami", key.key);
    expect(cold.res.status).toBe(200);
    expect(await json(cold.res)).toMatchObject({
      tenant_id: tenant.id,
      key_id: key.id,
      scopes: ["query"],
      collection_ids: null,
    });
    expect(cold.d1Calls).toBeGreaterThan(0);
    const warm = await request({}, "GET", "/v1/whoami", key.key);
    expect(warm.res.status).toBe(200);
    expect(warm.d1Calls).toBe(0);
    expect(warm.dependencies).not.toContain(STORE);

    const body = {
      query: `How many vacation days? ${crypto.randomUUID()}`,
      collection_ids: [collection],
      mode: "fast",
    };
    const miss = await request({}, "POST", "/v1/query", key.key, body);
    expect((await json<{ cache: string }>(miss.res)).cache).toBe("miss");
    const hit = await request({}, "POST", "/v1/query", key.key, body);
    expect((await json<{ cache: string }>(hit.res)).cache).toBe("hit");
    expect(hit.d1Calls).toBe(0);
    expect(hit.dependencies).not.toContain(STORE);
  });

  it("a key deleted elsewhere stops working within the TTL; revoked here, at once", async () => {
    const settings = { API_KEY_CACHE_TTL_MS: "1500", API_KEY_CACHE_FRESH_MS: "200" };
    const elsewhere = await newKey(tenant, { scopes: ["query"] });
    expect((await request(settings, "GET", "/v1/whoami", elsewhere.key)).res.status).toBe(200);
    // Another isolate's revocation: the row goes, this isolate's cache does not know.
    await testDb().prepare("DELETE FROM api_keys WHERE id = ?").bind(elsewhere.id).run();
    expect((await request(settings, "GET", "/v1/whoami", elsewhere.key)).res.status).toBe(200);
    // Past the fresh window (the clock moved on, not a pause) a request is still served, and
    // refreshes in the background …
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 250);
    expect((await request(settings, "GET", "/v1/whoami", elsewhere.key)).res.status).toBe(200);
    // … so the next one, well inside the TTL, is refused.
    expect((await request(settings, "GET", "/v1/whoami", elsewhere.key)).res.status).toBe(401);

    // With no traffic to refresh it, the bound itself: gone after the TTL.
    const idle = await newKey(tenant, { scopes: ["query"] });
    const idleSettings = { API_KEY_CACHE_TTL_MS: "800", API_KEY_CACHE_FRESH_MS: "800" };
    expect((await request(idleSettings, "GET", "/v1/whoami", idle.key)).res.status).toBe(200);
    await testDb().prepare("DELETE FROM api_keys WHERE id = ?").bind(idle.id).run();
    expect((await request(idleSettings, "GET", "/v1/whoami", idle.key)).res.status).toBe(200);
    vi.setSystemTime(Date.now() + 850);
    expect((await request(idleSettings, "GET", "/v1/whoami", idle.key)).res.status).toBe(401);

    // Revoked through the API in this isolate: refused on the next request.
    const here = await newKey(tenant, { scopes: ["query"] });
    expect((await request({}, "GET", "/v1/whoami", here.key)).res.status).toBe(200);
    const revoked = await request({}, "DELETE", `/v1/api-keys/${here.id}`, tenant.adminKey);
    expect(revoked.res.status).toBe(204);
    expect((await request({}, "GET", "/v1/whoami", here.key)).res.status).toBe(401);
  });

  it("an answer computed before a change elsewhere is not served past the staleness bound", async () => {
    const settings = { COLLECTION_VERSION_MAX_AGE_MS: "1000" };
    const body = { query: `Vacation days ${crypto.randomUUID()}`, collection_ids: [collection], mode: "fast" };
    const ask = async () =>
      (await json<{ cache: string }>((await request(settings, "POST", "/v1/query", tenant.adminKey, body)).res)).cache;
    expect(await ask()).toBe("miss");
    expect(await ask()).toBe("hit");
    // An ingest committed by another isolate: the version moves in D1 only.
    const changedAt = Date.now();
    await testDb().prepare("UPDATE collections SET version = version + 1 WHERE id = ?").bind(collection).run();
    // Inside the bound the old answer may still be served; from the bound on, never. Real time on
    // purpose: with a stepped fake clock every request here waited on background work that runs on
    // real timers (tried: 0.8 s a request instead of milliseconds).
    const seen: Array<[number, string]> = [];
    while (Date.now() - changedAt < 1_300) {
      seen.push([Date.now() - changedAt, await ask()]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const afterBound = seen.filter(([ms]) => ms >= 1_000);
    expect(afterBound.length).toBeGreaterThan(0);
    expect(afterBound.every(([, cache]) => cache === "hit")).toBe(true);
    // (hits again: the *new* version's answer, computed once after the change)
    expect(seen.some(([, cache]) => cache === "miss")).toBe(true);
    const firstMiss = seen.find(([, cache]) => cache === "miss")?.[0] ?? Number.POSITIVE_INFINITY;
    expect(firstMiss).toBeLessThan(1_000);
    // A change made in this isolate (an upload through the API, committed by this isolate's consumer) is seen at once.
    await ingestText(tenant, collection, "Parking", "Parking permits are renewed every January.");
    expect(await ask()).toBe("miss");
  });
});
