import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { createApp } from "../../src/app";
import { testDb } from "./db";
import { fetchQueued, settleQueues } from "./queues";

export const ADMIN = "test-admin-token";

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function buildRequest(method: string, path: string, options: CallOptions): Request {
  const headers = new Headers(options.headers);
  if (options.token !== undefined) {
    headers.set("Authorization", `Bearer ${options.token}`);
  }
  let body: BodyInit | undefined;
  if (options.body !== undefined) {
    // Strings, bytes and streams go as they are (hostile bodies); anything else as JSON.
    const raw =
      typeof options.body === "string" ||
      options.body instanceof Uint8Array ||
      options.body instanceof ReadableStream ||
      options.body instanceof FormData;
    body = raw ? (options.body as BodyInit) : JSON.stringify(options.body);
    if (!headers.has("Content-Type") && !(options.body instanceof FormData)) {
      headers.set("Content-Type", "application/json");
    }
  }
  return new Request(`http://edgerag.test${path}`, { method, headers, body, duplex: "half" } as RequestInit);
}

/** A request through the Worker's real entry point, with the wrangler.toml bindings. */
export function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  return exports.default.fetch(buildRequest(method, path, options));
}

/** `call`, through the Worker whose ingestion queues the test settles (`settleQueues`). */
export function callQueued(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  return fetchQueued(buildRequest(method, path, options));
}

/**
 * A request through a fresh app with extra environment settings (the config is parsed per env
 * object), for tests that need other limits or adapters. Waits for `waitUntil` work.
 */
export async function callWith(
  overrides: Record<string, unknown>,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await appFor(overrides).fetch(buildRequest(method, path, options), envWith(overrides), ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const apps = new Map<string, { app: ReturnType<typeof createApp>; env: Env }>();

/** One app and one env object per distinct override set, so isolate caches behave as in production. */
function entry(overrides: Record<string, unknown>) {
  const id = JSON.stringify(overrides);
  let found = apps.get(id);
  if (!found) {
    found = { app: createApp(), env: { ...env, ...overrides } as Env };
    apps.set(id, found);
  }
  return found;
}

function appFor(overrides: Record<string, unknown>) {
  return entry(overrides).app;
}

export function envWith(overrides: Record<string, unknown>): Env {
  return entry(overrides).env;
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts an RFC 9457 problem response with `code`, and returns its body. */
export async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = await json<{ code: string; status: number; request_id: string; detail: string; errors?: unknown[] }>(
    res,
  );
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.request_id).toBe(res.headers.get("x-request-id"));
  return body;
}

export interface TestTenant {
  id: string;
  adminKey: string;
  adminKeyId: string;
}

export async function newTenant(name = "Acme"): Promise<TestTenant> {
  const res = await call("POST", "/v1/admin/tenants", { token: ADMIN, body: { name } });
  expect(res.status).toBe(201);
  const body = await json<{ tenant: { id: string }; api_key: { id: string; key: string } }>(res);
  return { id: body.tenant.id, adminKey: body.api_key.key, adminKeyId: body.api_key.id };
}

export async function newKey(tenant: TestTenant, body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await call("POST", "/v1/api-keys", { token: tenant.adminKey, body: { name: "k", ...body } });
  expect(res.status).toBe(201);
  return json<{ id: string; key: string }>(res);
}

export async function newCollection(tenant: TestTenant, name = `c-${crypto.randomUUID()}`): Promise<string> {
  const res = await call("POST", "/v1/collections", { token: tenant.adminKey, body: { name } });
  expect(res.status).toBe(201);
  return (await json<{ id: string }>(res)).id;
}

/** How many of a collection's documents are in one of `statuses` (read from D1). */
export async function documentsIn(collection: string, ...statuses: string[]): Promise<number> {
  const row = await testDb()
    .prepare(
      "SELECT COUNT(*) AS n FROM documents WHERE collection_id = ? AND status IN (SELECT value FROM json_each(?))",
    )
    .bind(collection, JSON.stringify(statuses))
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Uploads a JSON text document (priority high) and runs the real consumer until it is ready. */
export async function ingestText(
  owner: TestTenant,
  collection: string,
  title: string,
  text: string,
  metadata?: Record<string, unknown>,
): Promise<string> {
  const res = await callQueued("POST", `/v1/collections/${collection}/documents`, {
    token: owner.adminKey,
    body: { title, text, priority: "high", ...(metadata ? { metadata } : {}) },
  });
  const id = (await json<{ id: string }>(res)).id;
  await settleQueues();
  const doc = await json<{ status: string; error?: string }>(
    await call("GET", `/v1/documents/${id}`, { token: owner.adminKey }),
  );
  if (doc.status !== "ready") {
    throw new Error(`document ${title} is ${doc.status} after ingestion: ${doc.error ?? ""}`);
  }
  return id;
}
