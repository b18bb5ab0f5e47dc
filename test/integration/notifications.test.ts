import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { NewEvent, NotificationHubs } from "../../src/adapters/notify/interface";
import type { NotificationHub } from "../../src/durable-objects/notification-hub";
import { testDb } from "../support/db";
import { ADMIN, call, expectProblem, json, newCollection, newKey, newTenant, type TestTenant } from "../support/http";
import { collectingInvocation, servicesFor } from "../support/services";
import { type Frame, openSocket, range, seqs } from "../support/sockets";

/**
 * The notification hub through the Worker: ordering, resume (after a disconnect, while
 * publishing, from before the retained range), eviction with sockets attached, tickets, tenancy,
 * limits, and the producers. The suite runs with small limits (vitest.config.ts): 3 sockets per
 * key, 5 per tenant, 1 KiB messages, retention of 100 events / 24 h.
 */
const hubs = env.NOTIFICATION_HUB as unknown as DurableObjectNamespace<NotificationHub>;
const hubOf = (tenant: TestTenant) => hubs.get(hubs.idFromName(tenant.id));
const event = (i: number, extra: Partial<NewEvent> = {}): NewEvent => ({
  id: `evt_test_${crypto.randomUUID()}`,
  type: "system.alert",
  data: { n: i },
  ...extra,
});
const publishN = async (tenant: TestTenant, from: number, to: number) => {
  for (const i of range(from, to)) {
    await hubOf(tenant).publish([event(i)]);
  }
};
const eventsOf = (frames: Frame[]) => frames.filter((f) => typeof f.seq === "number");

afterEach(() => {
  vi.useRealTimers();
});

describe("the notification socket", () => {
  it("delivers every event in seq order, gap-free, also when published concurrently", async () => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    if (!socket) {
      throw new Error("no socket");
    }
    await Promise.all(range(1, 40).map((i) => hubOf(tenant).publish([event(i)])));
    const frames = await socket.until((f) => eventsOf(f).length >= 40);
    expect(seqs(eventsOf(frames))).toEqual(range(1, 40));
    expect(new Set(eventsOf(frames).map((f) => f.id)).size).toBe(40);

    // The same log over REST, paged by seq, with read state per tenant.
    const page = await json<{ items: Frame[]; next: number | null }>(
      await call("GET", "/v1/notifications?after=0&limit=25", { token: tenant.adminKey }),
    );
    expect(seqs(page.items)).toEqual(range(1, 25));
    expect(page.next).toBe(25);
    const read = await call("POST", "/v1/notifications/read", { token: tenant.adminKey, body: { up_to_seq: 30 } });
    expect(read.status).toBe(204);
    const rest = await json<{ items: Array<Frame & { read: boolean }>; next: number | null }>(
      await call("GET", "/v1/notifications?after=25", { token: tenant.adminKey }),
    );
    expect(rest.items.map((i) => [i.seq, i.read])).toEqual(range(26, 40).map((n) => [n, n <= 30]));
    expect(rest.next).toBeNull();
    socket.close();
  });

  it("a publish of an id already stored is a no-op: same seq, not sent again", async () => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    const once = event(1);
    const [first] = await hubOf(tenant).publish([once]);
    const [again] = await hubOf(tenant).publish([once]);
    expect(again).toEqual({ id: once.id, seq: first?.seq, duplicate: true });
    await hubOf(tenant).publish([event(2)]);
    const frames = await socket?.until((f) => eventsOf(f).length >= 2);
    expect(seqs(eventsOf(frames ?? []))).toEqual([1, 2]);
  });

  it("resumes after a disconnect with exactly what was missed, then live events", async () => {
    const tenant = await newTenant();
    await publishN(tenant, 1, 5);
    const first = (await openSocket({ token: tenant.adminKey, query: "?after=0" })).socket;
    await first?.until((f) => f.some((x) => x.type === "ready"));
    expect(seqs(eventsOf(first?.frames ?? []))).toEqual(range(1, 5));
    first?.close();
    await publishN(tenant, 6, 9);

    const again = (await openSocket({ token: tenant.adminKey, query: "?after=5" })).socket;
    await again?.until((f) => f.some((x) => x.type === "ready"));
    await publishN(tenant, 10, 12);
    const frames = await again?.until((f) => eventsOf(f).length >= 7);
    expect(seqs(eventsOf(frames ?? []))).toEqual(range(6, 12));
    expect(frames?.find((f) => f.type === "ready")).toEqual({ type: "ready", last_seq: 9 });

    // The same with a resume message on a socket opened without `after`.
    const third = (await openSocket({ token: tenant.adminKey })).socket;
    third?.send({ type: "resume", after: 10 });
    const resumed = await third?.until((f) => f.some((x) => x.type === "ready"));
    expect(seqs(eventsOf(resumed ?? []))).toEqual([11, 12]);
  });

  it("resumes without gaps or duplicates while events are being published", async () => {
    const tenant = await newTenant();
    await publishN(tenant, 1, 20);
    const publishing = publishN(tenant, 21, 80);
    const sockets = await Promise.all(
      [0, 10, 20].map(async (after) => (await openSocket({ token: tenant.adminKey, query: `?after=${after}` })).socket),
    );
    await publishing;
    for (const [i, after] of [0, 10, 20].entries()) {
      const frames = await sockets[i]?.until((f) => eventsOf(f).at(-1)?.seq === 80);
      expect(seqs(eventsOf(frames ?? []))).toEqual(range(after + 1, 80));
    }
  });

  it("coalesces live events into arrays for ?batch=1 sockets, in order, also across a resume", async () => {
    const tenant = await newTenant();
    await publishN(tenant, 1, 10);
    const batched = (await openSocket({ token: tenant.adminKey, query: "?batch=1&after=5" })).socket;
    const single = (await openSocket({ token: tenant.adminKey })).socket;
    await Promise.all(range(11, 60).map((i) => hubOf(tenant).publish([event(i)])));
    const frames = await batched?.until((f) => eventsOf(f).at(-1)?.seq === 60);
    expect(seqs(eventsOf(frames ?? []))).toEqual(range(6, 60));
    // 50 concurrent publishes arrive in far fewer frames than events.
    expect(batched?.arrays).toBeGreaterThan(0);
    expect(batched?.arrays).toBeLessThan(25);
    const plain = await single?.until((f) => eventsOf(f).length === 50);
    expect(seqs(eventsOf(plain ?? []))).toEqual(range(11, 60));
    expect(single?.arrays).toBe(0);
  });

  it("keeps its sockets and its sequence across an eviction (hibernation)", async () => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    await publishN(tenant, 1, 3);
    await socket?.until((f) => eventsOf(f).length === 3);
    await evictDurableObject(hubOf(tenant));
    await publishN(tenant, 4, 6);
    const frames = await socket?.until((f) => eventsOf(f).length === 6);
    expect(seqs(eventsOf(frames ?? []))).toEqual(range(1, 6));
    expect((await hubOf(tenant).stats()).lastSeq).toBe(6);
  });

  it("says reset when the resume point was pruned, keeping at least the retained events", async () => {
    const tenant = await newTenant();
    const old = Date.now() - 25 * 3_600_000;
    for (let i = 1; i <= 130; i += 10) {
      await hubOf(tenant).publish(range(i, Math.min(i + 9, 130)).map((n) => event(n, { createdAt: old })));
    }
    await runDurableObjectAlarm(hubOf(tenant));
    const stats = await hubOf(tenant).stats();
    expect(stats).toMatchObject({ lastSeq: 130, oldestSeq: 31, events: 100 });

    const { socket } = await openSocket({ token: tenant.adminKey, query: "?after=10" });
    const frames = await socket?.until((f) => f.some((x) => x.type === "ready"));
    expect(frames?.[0]).toEqual({ type: "reset", oldest_seq: 31, last_seq: 130 });
    expect(seqs(eventsOf(frames ?? []))).toEqual(range(31, 130));
  });

  it("closes idle sockets with 4408, oversized messages with 1009, and answers pings", async () => {
    const tenant = await newTenant();
    const chatty = (await openSocket({ token: tenant.adminKey })).socket;
    chatty?.send({ type: "ping" });
    await chatty?.until((f) => f.some((x) => x.type === "pong"));
    chatty?.send("not json");
    await chatty?.until((f) => f.some((x) => x.type === "error"));
    chatty?.send("x".repeat(2_000));
    expect((await chatty?.closed)?.code).toBe(1009);

    const idle = (await openSocket({ token: tenant.adminKey })).socket;
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 120_000);
    await runDurableObjectAlarm(hubOf(tenant));
    expect((await idle?.closed)?.code).toBe(4408);
  });

  it("caps sockets per key and per tenant with 4429", async () => {
    const tenant = await newTenant();
    const open = async (token: string) => (await openSocket({ token })).socket;
    const mine = await Promise.all([1, 2, 3].map(() => open(tenant.adminKey)));
    const fourth = await open(tenant.adminKey);
    expect((await fourth?.closed)?.code).toBe(4429);
    const other = await newKey(tenant, { name: "second", scopes: ["admin"] });
    await open(other.key);
    await open(other.key);
    const sixth = await open(other.key);
    expect((await sixth?.closed)?.code).toBe(4429);
    expect((await hubOf(tenant).stats()).sockets).toBe(5);
    for (const s of mine) {
      s?.close();
    }
  });

  it("never lets a tenant's socket see another tenant's events", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    const socketA = (await openSocket({ token: a.adminKey })).socket;
    const socketB = (await openSocket({ token: b.adminKey })).socket;
    await publishN(a, 1, 3);
    await publishN(b, 1, 1);
    await socketA?.until((f) => eventsOf(f).length === 3);
    // A barrier, not a pause: one more event each, published after; a socket delivers its hub's
    // events in order, so once it arrives anything misrouted before it would have arrived too.
    await publishN(a, 4, 4);
    await publishN(b, 2, 2);
    await socketA?.until((f) => eventsOf(f).length === 4);
    await socketB?.until((f) => eventsOf(f).length === 2);
    expect(eventsOf(socketB?.frames ?? []).map((f) => f.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(eventsOf(socketA?.frames ?? []).map((f) => f.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    // The hub is chosen by the key's tenant: a ticket or header naming another tenant changes nothing.
    const spoofed = (await openSocket({ token: b.adminKey, headers: { "x-edgerag-tenant-id": a.id } })).socket;
    await publishN(a, 5, 5);
    await socketA?.until((f) => eventsOf(f).length === 5);
    await publishN(b, 3, 3); // the barrier: B's next event reaches the spoofed socket, A's never did
    await spoofed?.until((f) => eventsOf(f).length === 1);
    expect(eventsOf(spoofed?.frames ?? []).map((f) => f.data)).toEqual([{ n: 3 }]);
  });
});

describe("tickets and access", () => {
  it("accepts a ticket once, in any isolate, and refuses it after 60 s", async () => {
    const tenant = await newTenant();
    const res = await call("POST", "/v1/notifications/ticket", { token: tenant.adminKey });
    expect(res.status).toBe(201);
    const { ticket, expires_at } = await json<{ ticket: string; expires_at: string }>(res);
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan(55_000);
    const first = await openSocket({ query: `?ticket=${ticket}` });
    expect(first.res.status).toBe(101);
    // A second use fails: the ticket is used up in D1, not in this isolate's memory.
    await expectProblem((await openSocket({ query: `?ticket=${ticket}` })).res, 401, "unauthorized");

    const late = await json<{ ticket: string }>(
      await call("POST", "/v1/notifications/ticket", { token: tenant.adminKey }),
    );
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    await expectProblem((await openSocket({ query: `?ticket=${late.ticket}` })).res, 401, "unauthorized");
  });

  it("refuses before any upgrade: no credentials 401, a narrower key 403, no Upgrade header 426", async () => {
    const tenant = await newTenant();
    await expectProblem((await openSocket()).res, 401, "unauthorized");
    await expectProblem((await openSocket({ token: "erk_nope_nope" })).res, 401, "unauthorized");
    await expectProblem((await openSocket({ query: "?ticket=ntk_forged" })).res, 401, "unauthorized");
    // Authentication comes before validation: a bad query without credentials is still 401.
    await expectProblem((await openSocket({ query: "?after=-1" })).res, 401, "unauthorized");
    await expectProblem((await openSocket({ query: "?after=banana" })).res, 401, "unauthorized");
    const reader = await newKey(tenant, { name: "reader", scopes: ["query"] });
    await expectProblem((await openSocket({ token: reader.key })).res, 403, "forbidden");
    const col = await newCollection(tenant);
    const narrow = await newKey(tenant, { name: "narrow", scopes: ["admin"], collection_ids: [col] });
    await expectProblem((await openSocket({ token: narrow.key })).res, 403, "forbidden");
    await expectProblem(await call("GET", "/v1/notifications", { token: narrow.key }), 403, "forbidden");
    await expectProblem(await call("POST", "/v1/notifications/ticket", { token: narrow.key }), 403, "forbidden");
    await expectProblem(await call("GET", "/v1/notifications/ws", { token: tenant.adminKey }), 426, "upgrade_required");
  });

  it("closes a key's sockets when the key is revoked (4401)", async () => {
    const tenant = await newTenant();
    const other = await newKey(tenant, { name: "watcher", scopes: ["admin"] });
    const { socket } = await openSocket({ token: other.key });
    const revoked = await call("DELETE", `/v1/api-keys/${other.id}`, { token: tenant.adminKey });
    expect(revoked.status).toBe(204);
    expect((await socket?.closed)?.code).toBe(4401);
  });

  it("closes the sockets of a key rotated without grace (4401), and keeps them through a grace period", async () => {
    const tenant = await newTenant();
    const key = await newKey(tenant, { name: "watcher", scopes: ["admin"] });
    const graced = await openSocket({ token: key.key });
    const rotate = (grace: number) =>
      call("POST", `/v1/api-keys/${key.id}/rotate`, { token: tenant.adminKey, body: { grace_seconds: grace } });
    expect((await rotate(60)).status).toBe(200);
    // The old secret still works for a minute: its socket stays and hears the rotation.
    await graced.socket?.until((f) => f.some((x) => x.type === "api_key.rotated"));
    expect((await rotate(0)).status).toBe(200);
    const closed = await graced.socket?.closed;
    expect(closed).toEqual({ code: 4401, reason: "the API key was rotated" });
  });
});

describe("producers", () => {
  it("publishes document.processing and document.ready for an upload, and api_key.rotated", async () => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    const col = await newCollection(tenant);
    const upload = await call("POST", `/v1/collections/${col}/documents`, {
      token: tenant.adminKey,
      body: { title: "Leave", text: "Employees receive twenty five days of paid vacation.", priority: "high" },
    });
    const doc = await json<{ id: string }>(upload);
    const key = await newKey(tenant, { name: "ci", scopes: ["query"] });
    await call("POST", `/v1/api-keys/${key.id}/rotate`, { token: tenant.adminKey, body: { grace_seconds: 0 } });
    const frames = await socket?.until(
      (f) => ["document.ready", "api_key.rotated"].every((t) => f.some((x) => x.type === t)),
      10_000,
    );
    const byType = Object.fromEntries(eventsOf(frames ?? []).map((f) => [f.type, f.data]));
    expect(byType["document.processing"]).toMatchObject({ document_id: doc.id, collection_id: col, attempt: 1 });
    expect(byType["document.ready"]).toMatchObject({ document_id: doc.id, collection_id: col });
    expect(byType["api_key.rotated"]).toMatchObject({ key_id: key.id, name: "ci" });
    expect(JSON.stringify(frames)).not.toMatch(/erk_/);
  });

  it("publishes document.failed with the reason", async () => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    const col = await newCollection(tenant);
    const form = new FormData();
    form.set(
      "file",
      new File([new TextEncoder().encode("%PDF-1.4\n%broken")], "broken.pdf", { type: "application/pdf" }),
    );
    form.set("priority", "high");
    await call("POST", `/v1/collections/${col}/documents`, { token: tenant.adminKey, body: form });
    const frames = await socket?.until((f) => f.some((x) => x.type === "document.failed"), 10_000);
    const failed = frames?.find((f) => f.type === "document.failed");
    expect(failed?.data).toMatchObject({ collection_id: col });
    expect(typeof failed?.data?.reason).toBe("string");
  });

  it("publishes rate_limit.exceeded at most once per key per minute", async () => {
    const tenant = await newTenant();
    const { socket } = await openSocket({ token: tenant.adminKey });
    const free = await newKey(tenant, { name: "free", scopes: ["query"], rate_tier: "free" });
    const tiers = JSON.stringify({ free: { limit: 2, window_s: 60 } });
    const { callWith } = await import("../support/http");
    for (let i = 0; i < 6; i++) {
      await callWith({ RATE_LIMIT_TIERS: tiers }, "GET", "/v1/collections", { token: free.key });
    }
    await socket?.until((f) => f.some((x) => x.type === "rate_limit.exceeded"));
    // A barrier after the six calls: events reach the socket in order, so any second report would be in.
    await publishN(tenant, 1, 1);
    await socket?.until((f) => f.some((x) => x.type === "system.alert"));
    const exceeded = eventsOf(socket?.frames ?? []).filter((f) => f.type === "rate_limit.exceeded");
    expect(exceeded).toHaveLength(1);
    expect(exceeded[0]?.data).toMatchObject({ key_id: free.id, limit: 2, window_s: 60 });
  });

  it("publishes system.alert to one tenant, or to every tenant through the queue", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    const socketA = (await openSocket({ token: a.adminKey })).socket;
    const socketB = (await openSocket({ token: b.adminKey })).socket;
    const one = await call("POST", "/v1/admin/alerts", {
      token: ADMIN,
      body: { tenant_id: a.id, severity: "warning", message: "maintenance at 02:00" },
    });
    expect(one.status).toBe(202);
    await socketA?.until((f) => f.some((x) => x.type === "system.alert"));
    const all = await call("POST", "/v1/admin/alerts", {
      token: ADMIN,
      body: { severity: "info", message: "hello all" },
    });
    expect(all.status).toBe(202);
    const { id } = await json<{ id: string }>(all);
    for (const socket of [socketA, socketB]) {
      await socket?.until((f) => f.some((x) => x.id === id), 10_000);
    }
    expect(eventsOf(socketB?.frames ?? []).filter((f) => f.type === "system.alert")).toHaveLength(1);
    await expectProblem(
      await call("POST", "/v1/admin/alerts", {
        token: ADMIN,
        body: { tenant_id: "ten_nope", severity: "info", message: "x" },
      }),
      404,
      "not_found",
    );
    await expectProblem(
      await call("POST", "/v1/admin/alerts", { token: ADMIN, body: { severity: "loud", message: "x" } }),
      422,
      "validation_failed",
    );
  });

  it("takes after=null, what a last page's next says, as no seq on the list and the socket", async () => {
    const tenant = await newTenant();
    const list = await call("GET", "/v1/notifications?after=null", { token: tenant.adminKey });
    expect(list.status).toBe(200);
    const opened = await openSocket({ token: tenant.adminKey, query: "?after=null" });
    expect(opened.res.status).toBe(101);
    // The socket is live: a resume message is answered.
    opened.socket?.send({ type: "resume", after: 0 });
    await opened.socket?.until((f) => f.some((x) => x.type === "ready"));
    opened.socket?.close();
    await expectProblem(
      await call("GET", "/v1/notifications?after=-3", { token: tenant.adminKey }),
      422,
      "validation_failed",
    );
  });

  it("broadcasts to every tenant past the first page of 100", async () => {
    // 130 tenants whose ids sort before any real one, so the tenant made below is on a later page.
    const seeded = Array.from({ length: 130 }, (_, i) => [`ten_-broadcast-${String(i).padStart(3, "0")}`, "seed"]);
    await testDb()
      .prepare(
        "INSERT INTO tenants (id, name, created_at) SELECT value ->> 0, value ->> 1, 0 FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
      )
      .bind(JSON.stringify(seeded))
      .run();
    const late = await newTenant("Late");
    const all = await call("POST", "/v1/admin/alerts", { token: ADMIN, body: { severity: "info", message: "to all" } });
    expect(all.status).toBe(202);
    const { id } = await json<{ id: string }>(all);
    await expect
      .poll(
        async () => {
          const page = await json<{ items: Array<{ id: string }> }>(
            await call("GET", "/v1/notifications?after=0", { token: late.adminKey }),
          );
          return page.items.some((e) => e.id === id);
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true);
  });

  it("never loses an event when the hub call fails: the queue retries it until the hub has it", async () => {
    const tenant = await newTenant();
    let refused = 0;
    const real = servicesFor().hubs;
    const down: NotificationHubs = {
      ...real,
      name: "down",
      publish: async () => {
        refused++;
        throw new Error("hub unreachable");
      },
      list: (t, after, limit) => real.list(t, after, limit),
    };
    const invocation = collectingInvocation();
    const { notifications } = servicesFor({}, invocation, { hubs: down });
    const id = notifications.publish(tenant.id, "system.alert", { message: "through the queue" });
    await Promise.all(invocation.work);
    expect(refused).toBe(1);
    // The notification queue's consumer (the Worker's own) stores it in the real hub.
    await expect
      .poll(async () => (await real.list(tenant.id, 0, 10)).items.map((i) => i.id), { timeout: 10_000 })
      .toEqual([id]);
  });
});
