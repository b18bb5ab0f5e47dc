import { env } from "cloudflare:workers";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { testDb } from "../support/db";
import { callWith, expectProblem, newCollection, newKey, newTenant } from "../support/http";

const tiers = (t: Record<string, { limit: number; window_s: number }>) => ({ RATE_LIMIT_TIERS: JSON.stringify(t) });
const SMALL = tiers({
  anonymous: { limit: 2, window_s: 60 },
  standard: { limit: 5, window_s: 60 },
  free: { limit: 1, window_s: 60 },
});
const ip = () => `203.0.113.${Math.floor(Math.random() * 250)}-${crypto.randomUUID().slice(0, 8)}`;

describe("global rate limiting on /v1/*", () => {
  it("sets RateLimit-* and X-RateLimit-* headers on limited responses", async () => {
    const tenant = await newTenant();
    const res = await callWith(SMALL, "GET", "/v1/api-keys", { token: tenant.adminKey });
    expect(res.status).toBe(200);
    for (const prefix of ["", "X-"]) {
      expect(res.headers.get(`${prefix}RateLimit-Limit`)).toBe("5");
      expect(res.headers.get(`${prefix}RateLimit-Remaining`)).toBe("4");
      expect(Number(res.headers.get(`${prefix}RateLimit-Reset`))).toBeGreaterThan(0);
    }
  });

  it("rejects over the key's tier with 429, Retry-After and the headers", async () => {
    const tenant = await newTenant();
    for (let i = 0; i < 5; i++) {
      expect((await callWith(SMALL, "GET", "/v1/api-keys", { token: tenant.adminKey })).status).toBe(200);
    }
    const res = await callWith(SMALL, "GET", "/v1/api-keys", { token: tenant.adminKey });
    const body = await expectProblem(res, 429, "rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.headers.get("ratelimit-remaining")).toBe("0");
    expect(res.headers.get("x-ratelimit-limit")).toBe("5");
    expect(body.detail).toContain("retry");
  });

  it("writes rate-limited queries to the query log too, with or without a limiter round trip", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const free = await newKey(tenant, { scopes: ["query"], rate_tier: "free" });
    const ask = (query: unknown) =>
      callWith(SMALL, "POST", "/v1/query", {
        token: free.key,
        body: { query, collection_ids: [collection], mode: "deep" },
      });
    expect((await ask("first question")).status).toBe(200);
    // Refused by the limiter, then straight from the isolate's blocked cache; a non-query is not logged.
    await expectProblem(await ask("second question"), 429, "rate_limited");
    await expectProblem(await ask("third question"), 429, "rate_limited");
    await expectProblem(await ask(42), 429, "rate_limited");
    const { results } = await testDb()
      .prepare(
        "SELECT query_text, mode, status, cache_hit FROM query_log WHERE key_id = ? ORDER BY created_at, query_text",
      )
      .bind(free.id)
      .all();
    expect(results).toEqual([
      { query_text: "first question", mode: "deep", status: 200, cache_hit: 0 },
      { query_text: "second question", mode: "deep", status: 429, cache_hit: 0 },
      { query_text: "third question", mode: "deep", status: 429, cache_hit: 0 },
    ]);
  });

  it("limits each key on its own tier", async () => {
    const tenant = await newTenant();
    const free = await newKey(tenant, { scopes: ["admin"], rate_tier: "free" });
    expect((await callWith(SMALL, "GET", "/v1/api-keys", { token: free.key })).status).toBe(200);
    await expectProblem(await callWith(SMALL, "GET", "/v1/api-keys", { token: free.key }), 429, "rate_limited");
    // Another key of the same tenant is untouched.
    expect((await callWith(SMALL, "GET", "/v1/api-keys", { token: tenant.adminKey })).status).toBe(200);
  });

  it("charges per-route costs", async () => {
    const tenant = await newTenant();
    // POST /v1/api-keys costs 2 units of the standard tier's 5.
    const first = await callWith(SMALL, "POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "a", scopes: ["query"] },
    });
    expect(first.headers.get("ratelimit-remaining")).toBe("3");
    const second = await callWith(SMALL, "POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "b", scopes: ["query"] },
    });
    expect(second.headers.get("ratelimit-remaining")).toBe("1");
    await expectProblem(
      await callWith(SMALL, "POST", "/v1/api-keys", { token: tenant.adminKey, body: { name: "c", scopes: ["query"] } }),
      429,
      "rate_limited",
    );
  });

  it("limits unauthenticated callers by client IP, before answering 401", async () => {
    const client = ip();
    const headers = { "CF-Connecting-IP": client };
    await expectProblem(await callWith(SMALL, "GET", "/v1/api-keys", { headers }), 401, "unauthorized");
    await expectProblem(await callWith(SMALL, "GET", "/v1/api-keys", { headers, token: "guess" }), 401, "unauthorized");
    await expectProblem(
      await callWith(SMALL, "GET", "/v1/api-keys", { headers, token: "guess2" }),
      429,
      "rate_limited",
    );
    // A different address has its own budget.
    await expectProblem(
      await callWith(SMALL, "GET", "/v1/api-keys", { headers: { "CF-Connecting-IP": ip() } }),
      401,
      "unauthorized",
    );
  });

  it("turns a known-blocked caller away without a limiter round trip", async () => {
    const client = ip();
    const headers = { "CF-Connecting-IP": client };
    for (let i = 0; i < 3; i++) {
      await callWith(SMALL, "GET", "/v1/api-keys", { headers });
    }
    // Same caller, but now the limiter behind it hangs: only the isolate's blocked cache can answer.
    const hung = {
      ...SMALL,
      UPSTASH_REDIS_REST_URL: env.TEST_HANG_URL,
      UPSTASH_REDIS_REST_TOKEN: "t",
      RATE_LIMIT_TIMEOUT_MS: "5000",
    };
    const started = Date.now();
    await expectProblem(await callWith(hung, "GET", "/v1/api-keys", { headers }), 429, "rate_limited");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("admits 100 concurrent clients at least 98 % of the limit and never more", async () => {
    // The clients' back-off is time passing for the limiter, whose leases and logs read Date in
    // this isolate: the clock moves instead of the clients sleeping.
    vi.useFakeTimers({ toFake: ["Date"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const minute120 = tiers({ anonymous: { limit: 2, window_s: 60 }, standard: { limit: 120, window_s: 60 } });
    const tenant = await newTenant();
    let admitted = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        // Each client sends one request after another and gives up after three refusals in a row.
        for (let inARow = 0, sent = 0; inARow < 3 && sent < 20; sent++) {
          const sent = Date.now();
          const res = await callWith(minute120, "GET", "/v1/api-keys", { token: tenant.adminKey });
          if (res.status === 200) {
            admitted++;
            inARow = 0;
          } else {
            await expectProblem(res, 429, "rate_limited");
            refused++;
            inARow++;
            // 300 ms after this client sent: clients backing off together share the wait.
            vi.setSystemTime(Math.max(Date.now(), sent + 300));
          }
        }
      }),
    );
    expect(admitted).toBeLessThanOrEqual(120);
    expect(admitted).toBeGreaterThanOrEqual(118);
    expect(refused).toBeGreaterThan(0);
  });

  it("does not limit health checks", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await callWith(SMALL, "GET", "/health/live")).status).toBe(200);
    }
  });
});

describe("when the limiter's store fails", () => {
  const down = {
    UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
    UPSTASH_REDIS_REST_TOKEN: "t",
    RATE_LIMIT_TIMEOUT_MS: "500",
  };

  it("fails open for cheap reads (with a logged warning)", async () => {
    const tenant = await newTenant();
    const res = await callWith(down, "GET", "/v1/api-keys", { token: tenant.adminKey });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-limit")).toBeNull();
  });

  it("fails closed for writes with 503 upstream_unavailable", async () => {
    const tenant = await newTenant();
    const res = await callWith(down, "POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "x", scopes: ["query"] },
    });
    await expectProblem(res, 503, "upstream_unavailable");
  });

  it("treats a Redis that does not answer in time the same way", async () => {
    const tenant = await newTenant();
    const hung = {
      UPSTASH_REDIS_REST_URL: env.TEST_HANG_URL,
      UPSTASH_REDIS_REST_TOKEN: "t",
      RATE_LIMIT_TIMEOUT_MS: "200",
    };
    expect((await callWith(hung, "GET", "/v1/api-keys", { token: tenant.adminKey })).status).toBe(200);
    const write = await callWith(hung, "POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "x", scopes: ["query"] },
    });
    await expectProblem(write, 503, "upstream_unavailable");
  });
});

describe.skipIf(env.TEST_UPSTASH_SKIP !== "")("with the Upstash limiter", () => {
  it("limits through real Redis with the same headers and 429", async () => {
    const tenant = await newTenant();
    const upstash = {
      ...SMALL,
      UPSTASH_REDIS_REST_URL: env.TEST_UPSTASH_URL,
      UPSTASH_REDIS_REST_TOKEN: env.TEST_UPSTASH_TOKEN,
    };
    const ok = await callWith(upstash, "GET", "/v1/api-keys", { token: tenant.adminKey });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-limit")).toBe("5");
    for (let i = 0; i < 4; i++) {
      await callWith(upstash, "GET", "/v1/api-keys", { token: tenant.adminKey });
    }
    const res = await callWith(upstash, "GET", "/v1/api-keys", { token: tenant.adminKey });
    await expectProblem(res, 429, "rate_limited");
    expect(res.headers.get("retry-after")).not.toBeNull();
    const ready = await callWith(upstash, "GET", "/health/ready");
    expect(ready.status).toBe(200);
  });
});
