import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, callWith, expectProblem, json, newCollection, newTenant } from "../support/http";

describe("errors are problem+json", () => {
  it("answers an unknown route with a 404 problem", async () => {
    const res = await call("GET", "/nope");
    const body = await expectProblem(res, 404, "not_found");
    expect(body.detail).toContain("/nope");
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await call("PATCH", "/health/live");
    await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toContain("GET");
  });

  it("answers malformed JSON with 400 bad_request", async () => {
    const res = await call("POST", "/v1/admin/tenants", { token: ADMIN, body: '{"name": "x"' });
    await expectProblem(res, 400, "bad_request");
  });

  it("answers JSON that is not valid UTF-8 with 400, on every kind of JSON route", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    // {"name":"\xff\xfeprobe"}: the bytes a lenient decoder would turn into U+FFFD.
    const bytes = () =>
      new Uint8Array([...new TextEncoder().encode('{"name":"'), 0xff, 0xfe, ...new TextEncoder().encode('probe"}')]);
    for (const [path, token] of [
      ["/v1/admin/tenants", ADMIN],
      ["/v1/collections", tenant.adminKey],
      [`/v1/collections/${collection}/documents`, tenant.adminKey],
      ["/v1/search", tenant.adminKey],
    ] as const) {
      const body = await expectProblem(await call("POST", path, { token, body: bytes() }), 400, "bad_request");
      expect({ path, detail: body.detail }).toEqual({ path, detail: expect.stringContaining("UTF-8") });
    }
  });

  it("answers schema failures with 422 and one errors[] entry per issue", async () => {
    const res = await call("POST", "/v1/admin/tenants", { token: ADMIN, body: { name: "", extra: 1 } });
    const body = await expectProblem(res, 422, "validation_failed");
    expect(body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "name" }), expect.objectContaining({ path: "(root)" })]),
    );
  });

  it("answers a non-JSON content type with 415", async () => {
    const res = await call("POST", "/v1/admin/tenants", {
      token: ADMIN,
      body: "name=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    await expectProblem(res, 415, "unsupported_media_type");
  });

  it("answers a body over the limit with 413, by Content-Length", async () => {
    const res = await call("POST", "/v1/admin/tenants", { token: ADMIN, body: { name: "x".repeat(1_100_000) } });
    await expectProblem(res, 413, "payload_too_large");
  });

  it("answers a chunked body over the limit with 413, counted on the stream", async () => {
    const chunk = new TextEncoder().encode(`{"name":"${"x".repeat(60_000)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 30) {
          controller.enqueue(chunk);
        } else {
          controller.close();
        }
      },
    });
    // A streamed body has no Content-Length: the limit must be enforced while reading.
    const streamed = await exports.default.fetch(
      new Request("http://edgerag.test/v1/admin/tenants", {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit),
    );
    await expectProblem(streamed, 413, "payload_too_large");
  });

  it("answers a lying Content-Length (smaller than the body read) by counting the stream", async () => {
    const body = JSON.stringify({ name: "y".repeat(2_000_000) });
    const res = await exports.default.fetch(
      new Request("http://edgerag.test/v1/admin/tenants", {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json", "Content-Length": "10" },
        body,
      }),
    );
    await expectProblem(res, 413, "payload_too_large");
  });

  it("answers a request past REQUEST_TIMEOUT_MS with 504 upstream_timeout", async ({ skip }) => {
    // The rate limiter points at a server that never answers, with a long limiter timeout.
    const hang = env.TEST_HANG_URL;
    skip(!hang, "no hang server");
    const res = await callWith(
      {
        UPSTASH_REDIS_REST_URL: hang,
        UPSTASH_REDIS_REST_TOKEN: "t",
        RATE_LIMIT_TIMEOUT_MS: "5000",
        REQUEST_TIMEOUT_MS: "300",
      },
      "GET",
      "/v1/api-keys",
      { token: "erk_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" },
    );
    await expectProblem(res, 504, "upstream_timeout");
  });
});

describe("slow clients", () => {
  it("answers a body that stops arriving with 408 request_timeout, not 504", async () => {
    const tenant = await newTenant();
    // Half a JSON body, then nothing: the client stalls.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"name":"slo'));
      },
    });
    const started = Date.now();
    const res = await callWith({ REQUEST_TIMEOUT_MS: "300" }, "POST", "/v1/collections", {
      token: tenant.adminKey,
      body: stream,
      headers: { "Content-Type": "application/json" },
    });
    const body = await expectProblem(res, 408, "request_timeout");
    expect(body.detail).toContain("300 ms");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("answers a body over the limit that stalls while it drains with 413, not 408", async () => {
    const tenant = await newTenant();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"name":"${"x".repeat(1_100_000)}`));
      },
    });
    const res = await callWith({ REQUEST_TIMEOUT_MS: "300" }, "POST", "/v1/collections", {
      token: tenant.adminKey,
      body: stream,
      headers: { "Content-Type": "application/json" },
    });
    await expectProblem(res, 413, "payload_too_large");
  });
});

describe("request ids", () => {
  it("echoes a sane X-Request-Id", async () => {
    const res = await call("GET", "/health/live", { headers: { "X-Request-Id": "client-req-12345" } });
    expect(res.headers.get("x-request-id")).toBe("client-req-12345");
  });

  it("replaces an unsafe X-Request-Id", async () => {
    const res = await call("GET", "/nope", { headers: { "X-Request-Id": "<script>alert(1)</script>" } });
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await json(res)).request_id).toBe(id);
  });
});
