import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { onPostgres, STORE } from "../support/db";
import { ADMIN, call, callWith, expectProblem, json } from "../support/http";

type Ready = { status: string; checks: Record<string, { status: string; latency_ms: number; error?: string }> };

describe("health", () => {
  it("live answers ok", async () => {
    const res = await call("GET", "/health/live");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("ready checks D1, the rate limiter and the config", async () => {
    const res = await call("GET", "/health/ready");
    expect(res.status).toBe(200);
    const body = await json<Ready>(res);
    expect(body.status).toBe("ready");
    expect(Object.keys(body.checks).sort()).toEqual(["blobs", "config", STORE, "rate_limiter", "vector_index"].sort());
    expect(Object.values(body.checks).every((c) => c.status === "ok")).toBe(true);
  });

  it("ready answers 503 and protected routes answer 503 naming the setting when half-configured", async () => {
    const half = { UPSTASH_REDIS_REST_URL: "https://example.upstash.io" };
    const ready = await callWith(half, "GET", "/health/ready");
    expect(ready.status).toBe(503);
    const body = await json<Ready>(ready);
    expect(body.status).toBe("not_ready");
    expect(body.checks.config?.status).toBe("down");
    const protectedRoute = await callWith(half, "GET", "/v1/api-keys");
    const problem = await expectProblem(protectedRoute, 503, "misconfigured");
    expect(problem.detail).toContain("UPSTASH_REDIS_REST_TOKEN");
  });

  it("names a malformed key ring", async () => {
    const res = await callWith({ ENCRYPTION_KEYS: "v1:c2hvcnQ=" }, "GET", "/v1/api-keys");
    const problem = await expectProblem(res, 503, "misconfigured");
    expect(problem.detail).toContain("ENCRYPTION_KEYS");
    expect(problem.detail).not.toContain("c2hvcnQ");
  });

  it("ready answers 503 within 2 s when a dependency hangs", async ({ skip }) => {
    skip(!env.TEST_HANG_URL, "no hang server");
    const started = Date.now();
    const res = await callWith(
      { UPSTASH_REDIS_REST_URL: env.TEST_HANG_URL, UPSTASH_REDIS_REST_TOKEN: "t" },
      "GET",
      "/health/ready",
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res.status).toBe(503);
    const body = await json<Ready>(res);
    expect(body.checks.rate_limiter?.status).toBe("down");
    expect(body.checks[STORE]?.status).toBe("ok");
    // The public check never carries error text.
    expect(body.checks.rate_limiter?.error).toBeUndefined();
  });

  it("detailed needs the operator token and shows providers, never secrets", async () => {
    await expectProblem(await call("GET", "/health/detailed"), 401, "unauthorized");
    await expectProblem(await call("GET", "/health/detailed", { token: "nope" }), 401, "unauthorized");
    const res = await call("GET", "/health/detailed", { token: ADMIN });
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text) as {
      status: string;
      providers: Record<string, string>;
      components: Record<string, { provider?: string; status: string; error?: string }>;
    };
    // The suite delivers webhooks to loopback: a local-only setting, flagged (the API is fine).
    expect(body.status).toBe("degraded");
    expect(body.components.settings).toMatchObject({
      status: "degraded",
      error: expect.stringContaining("WEBHOOK_ALLOW_LOOPBACK"),
    });
    expect(body.components.renderer).toMatchObject({ status: "ok", provider: "browser-rendering" });
    expect(body.components.webhook_dns).toMatchObject({ status: "ok" });
    expect(body.providers).toMatchObject({
      rate_limiter: "durable-object",
      vector_index: "durable-object",
      embedder: "local/hash-v1-384",
      reranker: "local/cross-features-v1",
      generator: "extractive",
      cache: "cache-api",
    });
    expect(body.components[STORE]?.provider).toBe(STORE);
    expect(body.providers.database).toBe(onPostgres ? "postgres (hyperdrive)" : "d1");
    expect(text).not.toContain(ADMIN);
    expect(text).not.toContain("ZWRnZXJhZy1sb2NhbC1kZXYta2V5");
  });
});

describe("health of what only some features need", () => {
  const DEV_TOKEN = "dev-admin-token-change-me";

  it("flags the published development ADMIN_TOKEN, and webhook DNS that does not answer", async () => {
    const res = await callWith(
      { ADMIN_TOKEN: DEV_TOKEN, WEBHOOK_ALLOW_LOOPBACK: "false", WEBHOOK_DNS_RESOLVER: "http://127.0.0.1:9/dns-query" },
      "GET",
      "/health/detailed",
      { token: DEV_TOKEN },
    );
    expect(res.status).toBe(200); // degraded: the API itself answers
    const body = await json<{ status: string; components: Record<string, { status: string; error?: string }> }>(res);
    expect(body.status).toBe("degraded");
    expect(body.components.settings?.error).toContain("ADMIN_TOKEN is the published development value");
    expect(body.components.settings?.error).not.toContain(DEV_TOKEN);
    expect(body.components.webhook_dns?.status).toBe("degraded");
    // Readiness is about the API: neither shows there.
    const ready = await json<Ready>(await callWith({ ADMIN_TOKEN: DEV_TOKEN }, "GET", "/health/ready"));
    expect(Object.keys(ready.checks)).not.toContain("settings");
  });
});

describe("API docs", () => {
  it("gives every operation a unique camelCase operationId and a security statement", async () => {
    const spec = await json<{ paths: Record<string, Record<string, { operationId?: string; security?: unknown }>> }>(
      await call("GET", "/openapi.json"),
    );
    const operations = Object.values(spec.paths).flatMap((ops) => Object.values(ops));
    const ids = operations.map((op) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(operations.length);
    expect(operations.every((op) => Array.isArray(op.security))).toBe(true);
  });

  it("serves an OpenAPI 3.1 document that matches the served routes exactly", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    const spec = await json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(res);
    expect(spec.openapi).toBe("3.1.0");
    const documented = new Set(
      Object.entries(spec.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
      ),
    );
    const { createApp } = await import("../../src/app");
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL" && !r.path.includes("*"))
        .map((r) => `${r.method} ${r.path}`)
        // The docs themselves and the console page are not API routes; nor are MCP (JSON-RPC, with
        // its own schemas: docs/mcp.md) and the OAuth consent page (HTML, for people).
        .filter(
          (r) =>
            r !== "GET /openapi.json" &&
            r !== "GET /" &&
            !r.startsWith("GET /docs") &&
            !r.startsWith("GET /console") &&
            !r.endsWith(" /mcp") &&
            !r.endsWith(" /oauth/authorize"),
        ),
    );
    expect([...served].sort()).toEqual([...documented].sort());
    // And every documented route is reachable: the router never answers it "no route" or 405.
    for (const route of documented) {
      const [method = "GET", path = "/"] = route.split(" ");
      const res = await call(method, path.replace(/:(\w+)/g, "AAAAAAAAAAAAAAAA"));
      expect(res.status, route).not.toBe(405);
      const text = await res.text();
      expect(text, route).not.toContain("No route for");
    }
  });

  it("serves Swagger UI at /docs, started on /openapi.json", async () => {
    const res = await call("GET", "/docs");
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('src="/docs/swagger-init.js"');
    expect(await (await call("GET", "/docs/swagger-init.js")).text()).toContain('url: "/openapi.json"');
  });
});

describe("security headers", () => {
  it("sets secure headers everywhere and no-store on /v1", async () => {
    const live = await call("GET", "/health/live");
    expect(live.headers.get("x-content-type-options")).toBe("nosniff");
    expect(live.headers.get("strict-transport-security")).toContain("max-age");
    const v1 = await call("GET", "/v1/api-keys");
    expect(v1.headers.get("cache-control")).toBe("no-store");
    expect(v1.headers.get("vary")).toContain("Authorization");
  });

  it("answers CORS preflights only for configured origins", async () => {
    const cfg = { CORS_ORIGINS: "https://app.example.com" };
    const ok = await callWith(cfg, "OPTIONS", "/v1/api-keys", {
      headers: { Origin: "https://app.example.com", "Access-Control-Request-Method": "GET" },
    });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const other = await callWith(cfg, "GET", "/health/live", { headers: { Origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const none = await call("GET", "/health/live", { headers: { Origin: "https://app.example.com" } });
    expect(none.headers.get("access-control-allow-origin")).toBeNull();
  });
});
