import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  call,
  callWith,
  expectProblem,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";
import { openSocket } from "../support/sockets";

/**
 * Outbound webhooks end to end: registration and its SSRF checks, Standard Webhooks signatures
 * verified by the independent `standardwebhooks` package, at-least-once delivery through the
 * queue, retries on the (test-short) schedule, 410 and an exhausted schedule disabling the
 * endpoint with `webhook.disabled`, the delivery log, manual retry, and secret rotation.
 * The receiver, the canary and the DNS stand-in are Node servers (test/support/standins/webhooks.ts).
 */
const receiver = env.TEST_WEBHOOK_RECEIVER_URL;
type Received = Array<{ headers: Record<string, string>; body: string }>;
const receivedAt = async (path: string): Promise<Received> =>
  (await fetch(`${receiver}/_requests?path=${encodeURIComponent(path)}`)).json();
const canaryHits = async () => ((await (await fetch(`${env.TEST_CANARY_URL}/_hits`)).json()) as { hits: number }).hits;

interface Hook {
  id: string;
  url: string;
  secret: string;
  events: string[];
  disabled_at: string | null;
  disabled_reason: string | null;
}
interface Delivery {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
}

const register = async (tenant: TestTenant, path: string, events: string[] = ["*"]) => {
  const res = await call("POST", "/v1/webhooks", {
    token: tenant.adminKey,
    body: { url: `${receiver}${path}`, events },
  });
  expect(res.status).toBe(201);
  return json<Hook>(res);
};
const deliveriesOf = async (tenant: TestTenant, hook: Hook) =>
  (
    await json<{ items: Delivery[] }>(
      await call("GET", `/v1/webhooks/${hook.id}/deliveries`, { token: tenant.adminKey }),
    )
  ).items;
const unique = () => crypto.randomUUID().slice(0, 8);

/** Verifies one received request with the standardwebhooks package; returns the parsed payload. */
function verified(secret: string, request: { headers: Record<string, string>; body: string }) {
  return new Webhook(secret).verify(request.body, {
    "webhook-id": request.headers["webhook-id"] ?? "",
    "webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
    "webhook-signature": request.headers["webhook-signature"] ?? "",
  }) as { id: string; type: string; created_at: string; data: Record<string, unknown> };
}

// Independent tenants and receiver paths: the deliveries wait on queue timers, so they run side by side.
describe.concurrent("webhook delivery", () => {
  it("delivers subscribed events signed per Standard Webhooks, verified by an independent library", async ({
    expect,
  }) => {
    const tenant = await newTenant();
    const path = `/ok/${unique()}`;
    const hook = await register(tenant, path, ["system.alert", "document.ready"]);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const shown = await json<Record<string, unknown>>(
      await call("GET", `/v1/webhooks/${hook.id}`, { token: tenant.adminKey }),
    );
    expect(shown.secret).toBeUndefined();

    await call("POST", "/v1/admin/alerts", {
      token: "test-admin-token",
      body: { tenant_id: tenant.id, severity: "info", message: "hi" },
    });
    await expect.poll(async () => (await receivedAt(path)).length, { timeout: 10_000 }).toBe(1);
    const [request] = await receivedAt(path);
    if (!request) {
      throw new Error("nothing received");
    }
    const payload = verified(hook.secret, request);
    expect(payload).toMatchObject({ type: "system.alert", data: { severity: "info", message: "hi" } });
    expect(request.headers["webhook-id"]).toBe(payload.id);
    expect(() => verified(`whsec_${btoa("another secret of 24 bytes!")}`, request)).toThrow();

    // An event type it did not subscribe to is not sent; the delivery log shows the success. A
    // subscribed event after it is the barrier: the hub fans a tenant's events out in order, so
    // once the later alert has a delivery, the rotation's fan-out has happened (and made none).
    const key = await newKey(tenant, { name: "k", scopes: ["query"] });
    await call("POST", `/v1/api-keys/${key.id}/rotate`, { token: tenant.adminKey, body: { grace_seconds: 0 } });
    await call("POST", "/v1/admin/alerts", {
      token: "test-admin-token",
      body: { tenant_id: tenant.id, severity: "info", message: "after" },
    });
    await expect.poll(async () => (await receivedAt(path)).length, { timeout: 10_000 }).toBe(2);
    const log = await deliveriesOf(tenant, hook);
    expect(log.map((d) => d.event_type)).toEqual(["system.alert", "system.alert"]);
    const delivery = log.at(-1);
    expect(delivery).toMatchObject({
      event_type: "system.alert",
      status: "succeeded",
      attempts: 1,
      last_status_code: 204,
    });
  });

  it("retries a failing endpoint on the schedule, then disables it and tells the tenant", async ({ expect }) => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    const path = `/fail/${unique()}`;
    const hook = await register(tenant, path, ["system.alert"]);
    const test = await call("POST", `/v1/webhooks/${hook.id}/test`, { token: tenant.adminKey });
    expect(test.status).toBe(202);
    // The suite's schedule is 0, 1 s, 1 s: three attempts, then the endpoint is disabled.
    await expect.poll(async () => (await receivedAt(path)).length, { timeout: 10_000 }).toBe(3);
    const ids = new Set((await receivedAt(path)).map((r) => r.headers["webhook-id"]));
    expect(ids.size).toBe(1); // the same message each time (receivers dedupe by webhook-id)
    await expect
      .poll(
        async () =>
          (await json<Hook>(await call("GET", `/v1/webhooks/${hook.id}`, { token: tenant.adminKey }))).disabled_at,
        { timeout: 10_000 },
      )
      .not.toBeNull();
    const [delivery] = await deliveriesOf(tenant, hook);
    expect(delivery).toMatchObject({
      event_type: "webhook.test",
      status: "failed",
      attempts: 3,
      last_status_code: 500,
    });
    const frames = await socket?.until((f) => f.some((x) => x.type === "webhook.disabled"));
    expect(frames?.find((f) => f.type === "webhook.disabled")?.data).toMatchObject({ webhook_id: hook.id });
    await expectProblem(
      await call("POST", `/v1/webhooks/${hook.id}/test`, { token: tenant.adminKey }),
      409,
      "conflict",
    );
  });

  it("disables at once on 410 Gone, never follows a redirect, and retries by hand", async ({ expect }) => {
    const tenant = await newTenant();
    const gone = await register(tenant, `/gone/${unique()}`);
    await call("POST", `/v1/webhooks/${gone.id}/test`, { token: tenant.adminKey });
    await expect
      .poll(
        async () =>
          (await json<Hook>(await call("GET", `/v1/webhooks/${gone.id}`, { token: tenant.adminKey })))
            .disabled_reason ?? "",
        { timeout: 10_000 },
      )
      .toMatch(/410/);
    expect((await deliveriesOf(tenant, gone))[0]).toMatchObject({
      status: "failed",
      attempts: 1,
      last_status_code: 410,
    });

    const before = await canaryHits();
    const redirecting = await register(tenant, `/redirect/${unique()}`);
    await call("POST", `/v1/webhooks/${redirecting.id}/test`, { token: tenant.adminKey });
    await expect.poll(async () => (await deliveriesOf(tenant, redirecting))[0]?.attempts, { timeout: 10_000 }).toBe(3);
    expect((await deliveriesOf(tenant, redirecting))[0]).toMatchObject({
      last_status_code: 302,
      last_error: "redirects are not followed",
    });
    expect(await canaryHits()).toBe(before);

    const flakyPath = `/flaky/${unique()}`;
    const flaky = await register(tenant, flakyPath);
    await call("POST", `/v1/webhooks/${flaky.id}/test`, { token: tenant.adminKey });
    await expect
      .poll(async () => (await deliveriesOf(tenant, flaky))[0]?.status, { timeout: 10_000 })
      .toBe("succeeded");
    const [done] = await deliveriesOf(tenant, flaky);
    expect(done?.attempts).toBe(2);
    const again = await call("POST", `/v1/webhooks/${flaky.id}/deliveries/${done?.id}/retry`, {
      token: tenant.adminKey,
    });
    expect(again.status).toBe(202);
    await expect.poll(async () => (await receivedAt(flakyPath)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
  });

  it("signs with both secrets during a rotation", async ({ expect }) => {
    const tenant = await newTenant();
    const path = `/ok/${unique()}`;
    const hook = await register(tenant, path);
    const rotated = await json<Hook>(
      await call("POST", `/v1/webhooks/${hook.id}/rotate-secret`, { token: tenant.adminKey }),
    );
    expect(rotated.secret).not.toBe(hook.secret);
    await call("POST", `/v1/webhooks/${hook.id}/test`, { token: tenant.adminKey });
    await expect.poll(async () => (await receivedAt(path)).length, { timeout: 10_000 }).toBe(1);
    const [request] = await receivedAt(path);
    if (!request) {
      throw new Error("nothing received");
    }
    expect(request.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(verified(hook.secret, request).type).toBe("webhook.test");
    expect(verified(rotated.secret, request).type).toBe("webhook.test");
  });
});

describe("webhook registration", () => {
  /** At least 30 URLs that must never be called: IP literals in every spelling, private names, … */
  const hostile = (canary: string) => [
    "http://hooks.example.test/x",
    "https://127.0.0.1/x",
    `https://${new URL(canary).host}/x`,
    "https://2130706433/x",
    "https://0x7f000001/x",
    "https://0177.0.0.1/x",
    "https://0x7f.0.0.1/x",
    "https://127.1/x",
    "https://0/x",
    "https://0.0.0.0/x",
    "https://[::1]/x",
    "https://[::]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:7f00:1]/x",
    "https://[0:0:0:0:0:ffff:127.0.0.1]/x",
    "https://[fd00::1]/x",
    "https://[fe80::1]/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/x",
    "https://192.168.1.1/x",
    "https://172.16.0.1/x",
    "https://100.64.0.1/x",
    "https://localhost/x",
    "https://localhost./x",
    "https://LOCALHOST/x",
    "https://foo.localhost/x",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://printer.local/x",
    "https://intranet/x",
    "https://user:pass@hooks.example.test/x",
    "https://hooks.example.test@127.0.0.1/x",
    "https://hooks.example.test:8443/x",
    "https://hooks.example.test:22/x",
    "ftp://hooks.example.test/x",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "not a url",
    "https://private.example.test/x",
    "https://loop.example.test/x",
    "https://v6loop.example.test/x",
    "https://mixed.example.test/x",
    "https://metadata.example.test/x",
    "https://mapped.example.test/x",
    "https://cgnat.example.test/x",
    "https://ula.example.test/x",
    "https://127.0.0.1.nip.io/x",
    "https://nxdomain.example.test/x",
  ];

  it("refuses every URL of the hostile corpus, and the canary sees nothing", async () => {
    const tenant = await newTenant();
    const strict = { WEBHOOK_ALLOW_LOOPBACK: "false" };
    const corpus = hostile(env.TEST_CANARY_URL);
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    const before = await canaryHits();
    for (const url of corpus) {
      const res = await callWith(strict, "POST", "/v1/webhooks", {
        token: tenant.adminKey,
        body: { url, events: ["*"] },
      });
      expect({ url, status: res.status }).toEqual({ url, status: 422 });
    }
    expect(await canaryHits()).toBe(before);
    // A public name is accepted.
    const ok = await callWith(strict, "POST", "/v1/webhooks", {
      token: tenant.adminKey,
      body: { url: "https://hooks.example.test/edgerag", events: ["document.ready"] },
    });
    expect(ok.status).toBe(201);
  });

  it("answers 503 upstream_unavailable, not 500, when the DNS resolver answers 200 with something else", async () => {
    const tenant = await newTenant();
    const res = await callWith({ WEBHOOK_ALLOW_LOOPBACK: "false" }, "POST", "/v1/webhooks", {
      token: tenant.adminKey,
      body: { url: "https://garbled.example.test/hook", events: ["*"] },
    });
    await expectProblem(res, 503, "upstream_unavailable");
  });

  it("is tenant-wide: a narrower key gets 403, another tenant 404, and sizes are capped", async () => {
    const tenant = await newTenant();
    const hook = await register(tenant, `/ok/${unique()}`);
    const reader = await newKey(tenant, { name: "reader", scopes: ["query"] });
    await expectProblem(await call("GET", "/v1/webhooks", { token: reader.key }), 403, "forbidden");
    const col = await newCollection(tenant);
    const narrow = await newKey(tenant, { name: "narrow", scopes: ["admin"], collection_ids: [col] });
    await expectProblem(await call("GET", `/v1/webhooks/${hook.id}`, { token: narrow.key }), 403, "forbidden");
    const other = await newTenant("Other");
    await expectProblem(await call("GET", `/v1/webhooks/${hook.id}`, { token: other.adminKey }), 404, "not_found");
    await expectProblem(await call("DELETE", `/v1/webhooks/${hook.id}`, { token: other.adminKey }), 404, "not_found");
    expect(
      (await json<{ items: unknown[] }>(await call("GET", "/v1/webhooks", { token: other.adminKey }))).items,
    ).toEqual([]);
    await expectProblem(
      await call("POST", "/v1/webhooks", {
        token: tenant.adminKey,
        body: { url: `${receiver}/ok/x`, events: ["nope"] },
      }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await call("POST", "/v1/webhooks", { token: tenant.adminKey, body: { url: `${receiver}/ok/x`, events: [] } }),
      422,
      "validation_failed",
    );
    const many = { WEBHOOK_MAX_PER_TENANT: "2" };
    await callWith(many, "POST", "/v1/webhooks", {
      token: tenant.adminKey,
      body: { url: `${receiver}/ok/a`, events: ["*"] },
    });
    await expectProblem(
      await callWith(many, "POST", "/v1/webhooks", {
        token: tenant.adminKey,
        body: { url: `${receiver}/ok/b`, events: ["*"] },
      }),
      409,
      "conflict",
    );
    expect((await call("DELETE", `/v1/webhooks/${hook.id}`, { token: tenant.adminKey })).status).toBe(204);
  });
});
