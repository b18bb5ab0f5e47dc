/**
 * Filters as access control: a key's mandatory metadata filter and end-user tokens (`ert_…`). A
 * BOLA-style matrix: filtered keys and tokens try to reach a document outside their filter
 * through every route that reads, lists, writes or derives from documents.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parseApiKey } from "../../src/services/auth";
import {
  call,
  expectProblem,
  ingestText,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";
import { readSse } from "../support/sse";

type Results = { results: Array<{ document_id: string }> };
type Answer = { answer: string; citations: Array<{ document_id: string }>; sources: Array<{ document_id: string }> };

describe("metadata filters as access control", () => {
  let tenant: TestTenant;
  let collection: string;
  let other: string;
  let hr: string;
  let finance: string;
  let hrKey: string;
  let hrAdmin: { id: string; key: string };
  let token: string;

  beforeAll(async () => {
    tenant = await newTenant();
    collection = await newCollection(tenant);
    other = await newCollection(tenant);
    hr = await ingestText(tenant, collection, "HR leave", "Employees receive twenty five days of paid vacation.", {
      team: "hr",
    });
    finance = await ingestText(
      tenant,
      collection,
      "Finance leave",
      "Finance staff receive thirty days of paid vacation.",
      {
        team: "finance",
      },
    );
    hrKey = (await newKey(tenant, { scopes: ["query", "ingest"], filter: { team: "hr" } })).key;
    hrAdmin = await newKey(tenant, { scopes: ["admin"], filter: { team: "hr" } });
    const minted = await call("POST", "/v1/tokens", {
      token: tenant.adminKey,
      body: { scopes: ["query"], collection_ids: [collection], filter: { team: "hr" }, expires_in: 600 },
    });
    expect(minted.status).toBe(201);
    const body = await json<{ token: string; filter: unknown; scopes: string[]; expires_at: string }>(minted);
    expect(body.token).toMatch(/^ert_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(body.filter).toEqual({ team: "hr" });
    token = body.token;
  });

  const callers = () => [
    ["filtered key", hrKey],
    ["filtered admin key", hrAdmin.key],
    ["token", token],
  ];

  it("say what they are in /v1/whoami", async () => {
    const key = await json<{ filter: unknown; token_expires_at?: string }>(
      await call("GET", "/v1/whoami", { token: hrKey }),
    );
    expect(key.filter).toEqual({ team: { $eq: "hr" } });
    expect(key.token_expires_at).toBeUndefined();
    const viaToken = await json<{
      filter: unknown;
      scopes: string[];
      collection_ids: string[];
      token_expires_at: string;
    }>(await call("GET", "/v1/whoami", { token }));
    expect(viaToken).toMatchObject({
      filter: { team: { $eq: "hr" } },
      scopes: ["query"],
      collection_ids: [collection],
    });
    expect(Date.parse(viaToken.token_expires_at)).toBeGreaterThan(Date.now());
  });

  it("search and answers see only the documents their filter matches, whatever the request asks", async () => {
    for (const [who, credential] of callers()) {
      for (const strategy of ["keyword", "vector", "hybrid"]) {
        for (const metadata of [undefined, { team: "finance" }, { $or: [{ team: "finance" }, { team: "hr" }] }]) {
          const res = await json<Results>(
            await call("POST", "/v1/search", {
              token: credential,
              body: { query: "days of paid vacation", collection_ids: [collection], strategy, filter: { metadata } },
            }),
          );
          const ids = res.results.map((r) => r.document_id);
          expect(ids.includes(finance), `${who} ${strategy} ${JSON.stringify(metadata)}`).toBe(false);
          expect(ids, `${who} ${strategy}`).toEqual(
            metadata && JSON.stringify(metadata) === '{"team":"finance"}' ? [] : [hr],
          );
        }
      }
      for (const mode of ["fast", "balanced", "deep"]) {
        const res = await json<Answer>(
          await call("POST", "/v1/query", {
            token: credential,
            body: { query: "How many days of paid vacation do finance staff get?", collection_ids: [collection], mode },
          }),
        );
        expect(res.answer).not.toMatch(/thirty/);
        expect(
          [...res.citations, ...res.sources].every((c) => c.document_id === hr),
          `${who} ${mode}`,
        ).toBe(true);
      }
      const stream = await call("POST", "/v1/query", {
        token: credential,
        body: { query: "finance staff paid vacation", collection_ids: [collection], mode: "fast", stream: true },
      });
      const events = await readSse(stream);
      expect(JSON.stringify(events)).not.toContain(finance);
    }
  });

  it("cannot read, list, delete or re-upload a document outside their filter", async () => {
    for (const [who, credential] of callers()) {
      await expectProblem(await call("GET", `/v1/documents/${finance}`, { token: credential }), 404, "not_found");
      expect((await call("GET", `/v1/documents/${hr}`, { token: credential })).status, who).toBe(200);
      const listed = await json<{ items: Array<{ id: string }> }>(
        await call("GET", `/v1/collections/${collection}/documents`, { token: credential }),
      );
      expect(listed.items.map((d) => d.id)).toEqual([hr]);
    }
    for (const credential of [hrKey, hrAdmin.key]) {
      await expectProblem(await call("DELETE", `/v1/documents/${finance}`, { token: credential }), 404, "not_found");
      // An upload its filter would not match, and the content of a document outside it.
      await expectProblem(
        await call("POST", `/v1/collections/${collection}/documents`, {
          token: credential,
          body: { title: "x", text: "Anything at all.", metadata: { team: "finance" } },
        }),
        403,
        "forbidden",
      );
      await expectProblem(
        await call("POST", `/v1/collections/${collection}/documents`, {
          token: credential,
          body: {
            title: "copy",
            text: "Finance staff receive thirty days of paid vacation.",
            metadata: { team: "hr" },
          },
        }),
        409,
        "conflict",
      );
    }
    // A token has only the scopes it was minted with.
    await expectProblem(
      await call("POST", `/v1/collections/${collection}/documents`, {
        token,
        body: { title: "x", text: "Anything at all.", metadata: { team: "hr" } },
      }),
      403,
      "forbidden",
    );
    expect((await call("GET", `/v1/documents/${finance}`, { token: tenant.adminKey })).status).toBe(200);
  });

  it("cannot reach tenant-wide things, keys that reach further, or another collection (token)", async () => {
    for (const [, credential] of callers()) {
      for (const [method, path, body] of [
        ["POST", "/v1/exports", { kind: "document", document_id: finance }],
        ["POST", "/v1/exports", { kind: "query", query: "vacation", collection_ids: [collection], mode: "fast" }],
        ["GET", "/v1/notifications", undefined],
        ["POST", "/v1/notifications/ticket", undefined],
        ["GET", "/v1/webhooks", undefined],
        ["GET", "/v1/dashboard", undefined],
        ["PUT", "/v1/secrets/OPENAI_API_KEY", { value: "sk-x" }],
      ] as const) {
        const res = await call(method, path, { token: credential, body });
        expect(res.status, `${method} ${path}`).toBe(403);
      }
    }
    // Only an admin key mints tokens; a filtered one mints them with its filter ANDed in.
    for (const credential of [hrKey, token]) {
      await expectProblem(await call("POST", "/v1/tokens", { token: credential, body: {} }), 403, "forbidden");
    }
    const narrowToken = await json<{ filter: unknown }>(
      await call("POST", "/v1/tokens", { token: hrAdmin.key, body: { filter: { year: 2024 } } }),
    );
    expect(narrowToken.filter).toEqual({ $and: [{ team: { $eq: "hr" } }, { year: 2024 }] });
    // The filtered admin key manages only keys its filter covers, and mints none wider.
    await expectProblem(
      await call("DELETE", `/v1/api-keys/${tenant.adminKeyId}`, { token: hrAdmin.key }),
      403,
      "forbidden",
    );
    const listed = await json<{ items: Array<{ id: string; filter: unknown }> }>(
      await call("GET", "/v1/api-keys", { token: hrAdmin.key }),
    );
    expect(listed.items.every((k) => k.filter !== null)).toBe(true);
    const child = await json<{ key: string; filter: unknown }>(
      await call("POST", "/v1/api-keys", {
        token: hrAdmin.key,
        body: { name: "child", scopes: ["query"], filter: { year: 2024 } },
      }),
    );
    expect(child.filter).toEqual({ $and: [{ team: { $eq: "hr" } }, { year: 2024 }] });
    expect(
      (
        await json<Results>(
          await call("POST", "/v1/search", {
            token: child.key,
            body: { query: "vacation", collection_ids: [collection] },
          }),
        )
      ).results,
    ).toEqual([]);
    await expectProblem(
      await call("POST", "/v1/search", { token, body: { query: "vacation", collection_ids: [other] } }),
      403,
      "forbidden",
    );
  });

  it("refuse tokens that are tampered with, expired, or outlived their key", async () => {
    const [payload, signature] = token.slice(4).split(".") as [string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const widened = btoa(JSON.stringify({ ...claims, f: null }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    await expectProblem(
      await call("POST", "/v1/search", {
        token: `ert_${widened}.${signature}`,
        body: { query: "vacation", collection_ids: [collection] },
      }),
      401,
      "unauthorized",
    );
    const key = await newKey(tenant, { scopes: ["admin"] });
    const short = await json<{ token: string }>(
      await call("POST", "/v1/tokens", { token: key.key, body: { expires_in: 60 } }),
    );
    expect((await call("GET", "/v1/whoami", { token: short.token })).status).toBe(200);
    expect(
      (await call("DELETE", `/v1/api-keys/${parseApiKey(key.key)?.keyId}`, { token: tenant.adminKey })).status,
    ).toBe(204);
    await expectProblem(await call("GET", "/v1/whoami", { token: short.token }), 401, "unauthorized");
    await expectProblem(
      await call("POST", "/v1/tokens", { token: tenant.adminKey, body: { expires_in: 86_401 } }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await call("POST", "/v1/tokens", { token: tenant.adminKey, body: { scopes: ["admin"] } }),
      422,
      "validation_failed",
    );
  });
});
