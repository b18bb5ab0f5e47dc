import { describe, expect, it } from "vitest";
import { call, expectProblem, json, newCollection, newKey, newTenant } from "../support/http";

type Collection = { id: string; name: string; description: string | null; version: number; created_at: string };
type Page = { items: Collection[]; next_cursor: string | null };

describe("collections", () => {
  it("creates, gets, lists and deletes a collection", async () => {
    const tenant = await newTenant();
    const res = await call("POST", "/v1/collections", {
      token: tenant.adminKey,
      body: { name: "Handbook", description: "HR docs" },
    });
    expect(res.status).toBe(201);
    const created = await json<Collection>(res);
    expect(created).toMatchObject({ name: "Handbook", description: "HR docs", version: 0 });
    expect(created.id).toMatch(/^col_[A-Za-z0-9]{16}$/);
    const got = await json<Collection>(await call("GET", `/v1/collections/${created.id}`, { token: tenant.adminKey }));
    expect(got).toEqual(created);
    const page = await json<Page>(await call("GET", "/v1/collections", { token: tenant.adminKey }));
    expect(page.items.map((c) => c.id)).toEqual([created.id]);
    expect(page.next_cursor).toBeNull();
    expect((await call("DELETE", `/v1/collections/${created.id}`, { token: tenant.adminKey })).status).toBe(204);
    await expectProblem(
      await call("GET", `/v1/collections/${created.id}`, { token: tenant.adminKey }),
      404,
      "not_found",
    );
  });

  it("refuses a duplicate name with 409", async () => {
    const tenant = await newTenant();
    await newCollection(tenant, "same");
    await expectProblem(
      await call("POST", "/v1/collections", { token: tenant.adminKey, body: { name: "same" } }),
      409,
      "conflict",
    );
  });

  it("pages with a cursor, newest first, without gaps or repeats", async () => {
    const tenant = await newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await newCollection(tenant, `c${i}`));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const page: Page = await json<Page>(await call("GET", `/v1/collections${query}`, { token: tenant.adminKey }));
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((c) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it("rejects a forged cursor and an out-of-range limit with 422", async () => {
    const tenant = await newTenant();
    await expectProblem(
      await call("GET", "/v1/collections?cursor=!!!", { token: tenant.adminKey }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await call("GET", "/v1/collections?limit=1000", { token: tenant.adminKey }),
      422,
      "validation_failed",
    );
  });

  it("returns 404 for another tenant's collection and leaves it alone", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    const bCol = await newCollection(b);
    await expectProblem(await call("GET", `/v1/collections/${bCol}`, { token: a.adminKey }), 404, "not_found");
    await expectProblem(await call("DELETE", `/v1/collections/${bCol}`, { token: a.adminKey }), 404, "not_found");
    const aPage = await json<Page>(await call("GET", "/v1/collections", { token: a.adminKey }));
    expect(aPage.items).toEqual([]);
    expect((await call("GET", `/v1/collections/${bCol}`, { token: b.adminKey })).status).toBe(200);
  });

  it("shows a restricted key only its collections, 403 for the tenant's others", async () => {
    const tenant = await newTenant();
    const mine = await newCollection(tenant);
    const other = await newCollection(tenant);
    const key = await newKey(tenant, { scopes: ["query", "ingest"], collection_ids: [mine] });
    const page = await json<Page>(await call("GET", "/v1/collections", { token: key.key }));
    expect(page.items.map((c) => c.id)).toEqual([mine]);
    expect((await call("GET", `/v1/collections/${mine}`, { token: key.key })).status).toBe(200);
    await expectProblem(await call("GET", `/v1/collections/${other}`, { token: key.key }), 403, "forbidden");
    await expectProblem(await call("DELETE", `/v1/collections/${other}`, { token: key.key }), 403, "forbidden");
    await expectProblem(
      await call("POST", "/v1/collections", { token: key.key, body: { name: "new" } }),
      403,
      "forbidden",
    );
  });

  it("needs ingest to write and query or ingest to read", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const reader = await newKey(tenant, { scopes: ["query"] });
    const writer = await newKey(tenant, { scopes: ["ingest"] });
    await expectProblem(
      await call("POST", "/v1/collections", { token: reader.key, body: { name: "x" } }),
      403,
      "forbidden",
    );
    await expectProblem(await call("DELETE", `/v1/collections/${col}`, { token: reader.key }), 403, "forbidden");
    expect((await call("GET", `/v1/collections/${col}`, { token: reader.key })).status).toBe(200);
    expect((await call("GET", `/v1/collections/${col}`, { token: writer.key })).status).toBe(200);
    expect((await call("POST", "/v1/collections", { token: writer.key, body: { name: "x" } })).status).toBe(201);
  });

  it("validates the body and the id", async () => {
    const tenant = await newTenant();
    await expectProblem(
      await call("POST", "/v1/collections", { token: tenant.adminKey, body: { name: "" } }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await call("GET", "/v1/collections/nope", { token: tenant.adminKey }),
      422,
      "validation_failed",
    );
  });
});
