import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, call, newTenant } from "../support/http";

/**
 * Whatever arrives — random or malformed bodies, headers and paths — the API never answers 5xx,
 * and every error is problem+json. 1,000 runs per route family in CI (FUZZ_RUNS to choose; 200 locally).
 */
const RUNS = Number(env.TEST_FUZZ_RUNS);
let tenantKey = "";

beforeAll(async () => {
  tenantKey = (await newTenant("fuzz")).adminKey;
});

const printable = fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, ""));
const segment = fc.oneof(
  printable.map(encodeURIComponent),
  fc.constantFrom("..", "%00", "%2F", "%", "x".repeat(300), "AAAAAAAAAAAAAAAA", "OPENAI_API_KEY", "re-encrypt"),
);
const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD");
const token = fc.oneof(
  fc.constant(undefined),
  printable,
  fc.constant(ADMIN),
  fc.constant("erk_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"),
  fc.constant("__tenant__"),
);
const contentType = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "multipart/form-data",
    "application/problem+json",
  ),
  printable,
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  printable,
  fc.record({ name: fc.oneof(printable, fc.integer(), fc.constant(null)) }),
  fc.record({
    name: printable,
    scopes: fc.array(fc.constantFrom("query", "ingest", "admin", "root", ""), { maxLength: 4 }),
  }),
  fc.record({ value: fc.oneof(printable, fc.integer()) }),
  fc.record({ name: printable, description: fc.oneof(printable, fc.integer(), fc.constant(null)) }),
  fc.record({
    query: fc.oneof(printable, fc.constant('" OR NEAR(a b) *'), fc.integer()),
    collection_ids: fc.array(fc.oneof(printable, fc.constant("col_AAAAAAAAAAAAAAAA")), { maxLength: 3 }),
    top_k: fc.oneof(fc.integer(), fc.constant(10)),
    strategy: fc.constantFrom("keyword", "vector", "hybrid", "x"),
  }),
  fc.record({ grace_seconds: fc.oneof(fc.integer(), fc.double(), printable) }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => new TextDecoder().decode(bytes)),
);
const requestId = fc.oneof(fc.constant(undefined), printable);

const families: Record<string, fc.Arbitrary<string>> = {
  health: fc
    .tuple(fc.constantFrom("live", "ready", "detailed"), fc.option(segment))
    .map(([a, b]) => `/health/${a}${b ? `/${b}` : ""}`),
  admin: fc
    .tuple(fc.constantFrom("tenants", "secrets/re-encrypt", ""), fc.option(segment))
    .map(([a, b]) => `/v1/admin/${a}${b ? `/${b}` : ""}`),
  "api-keys": fc
    .tuple(fc.option(segment), fc.constantFrom("", "/rotate", "/x"))
    .map(([id, tail]) => `/v1/api-keys${id === null ? "" : `/${id}`}${tail}`),
  secrets: fc.option(segment).map((name) => `/v1/secrets${name === null ? "" : `/${name}`}`),
  collections: fc
    .tuple(fc.option(fc.oneof(segment, fc.constant("col_AAAAAAAAAAAAAAAA"))), fc.option(printable))
    .map(([id, query]) => `/v1/collections${id === null ? "" : `/${id}`}${query === null ? "" : `?${query}`}`),
  documents: fc
    .tuple(
      fc.constantFrom("/v1/documents/", "/v1/collections/col_AAAAAAAAAAAAAAAA/documents", "/v1/collections/"),
      fc.option(segment),
    )
    .map(([prefix, id]) => `${prefix}${id ?? ""}`),
  search: fc.constant("/v1/search"),
  other: fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join("/")}`),
};

describe("fuzzing the API", () => {
  for (const [family, path] of Object.entries(families)) {
    it(`never answers 5xx or a non-problem error: ${family}`, async () => {
      await fc.assert(
        fc.asyncProperty(method, path, token, contentType, body, requestId, async (m, p, t, ct, b, rid) => {
          const headers: Record<string, string> = {};
          if (ct !== undefined) {
            headers["Content-Type"] = ct;
          }
          if (rid !== undefined) {
            headers["X-Request-Id"] = rid;
          }
          const sendBody =
            m === "GET" || m === "HEAD"
              ? undefined
              : b === undefined
                ? undefined
                : typeof b === "string"
                  ? b
                  : JSON.stringify(b);
          const res = await call(m, p, {
            token: t === "__tenant__" ? tenantKey : t,
            headers,
            body: sendBody,
          });
          expect(res.status, `${m} ${p}`).toBeLessThan(500);
          if (res.status >= 400 && m !== "HEAD") {
            expect(res.headers.get("content-type"), `${m} ${p} -> ${res.status}`).toBe("application/problem+json");
          }
          expect(res.headers.get("x-request-id")).toBeTruthy();
          await res.body?.cancel();
        }),
        { numRuns: RUNS },
      );
    }, 120_000);
  }
});
