/**
 * Conversations and follow-up questions: a follow-up is rewritten with the turns before it
 * (stored, or given inline) before retrieval; turns are kept per tenant and owner, and expire.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createServices } from "../../src/container";
import { call, expectProblem, ingestText, json, newCollection, newKey, newTenant } from "../support/http";
import { readSse } from "../support/sse";

type Answer = {
  answer: string;
  abstained: boolean;
  rewritten_query?: string;
  citations: Array<{ document_id: string }>;
};
type Conversation = {
  id: string;
  expires_at: string;
  turns: Array<{ role: string; content: string; rewritten_query: string | null }>;
};

describe("conversations", () => {
  it("rewrite a follow-up with the turns before it, keep the turns, and answer it", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const leave = await ingestText(
      tenant,
      collection,
      "Leave policy",
      "Employees receive twenty five days of paid vacation every year. Unused vacation days carry over up to five days into the next year.",
    );
    await ingestText(
      tenant,
      collection,
      "Laptops",
      "Engineers receive a laptop on their first day. Laptops are replaced every three years.",
    );
    const created = await call("POST", "/v1/conversations", { token: tenant.adminKey });
    expect(created.status).toBe(201);
    const conversation = await json<Conversation>(created);
    expect(conversation.id).toMatch(/^conv_[A-Za-z0-9]{16}$/);
    expect(conversation.turns).toEqual([]);

    const ask = (query: string, extra: Record<string, unknown> = {}) =>
      call("POST", "/v1/query", {
        token: tenant.adminKey,
        body: { query, collection_ids: [collection], mode: "fast", conversation_id: conversation.id, ...extra },
      }).then((r) => json<Answer>(r));
    const first = await ask("How many days of paid vacation do employees get?");
    expect(first.rewritten_query).toBe("How many days of paid vacation do employees get?");
    expect(first.answer).toMatch(/twenty five days/);
    // Alone, "how many of those carry over" shares nothing with the handbook but "days"/"carry".
    const followUp = await ask("And how many of those carry over?");
    expect(followUp.rewritten_query).toBe("And how many of those carry over? (days paid vacation employees get)");
    expect(followUp.citations.map((c) => c.document_id)).toEqual([leave]);
    expect(followUp.answer).toMatch(/carry over up to five days/);

    const stored = await json<Conversation>(
      await call("GET", `/v1/conversations/${conversation.id}`, { token: tenant.adminKey }),
    );
    expect(stored.turns.map((t) => [t.role, t.content.slice(0, 20), t.rewritten_query?.slice(-10) ?? null])).toEqual([
      ["user", "How many days of pai", "oyees get?"],
      ["assistant", first.answer.slice(0, 20), null],
      ["user", "And how many of thos", "oyees get)"],
      ["assistant", followUp.answer.slice(0, 20), null],
    ]);

    // Streaming: the done event carries the rewritten question too.
    const events = await readSse(
      await call("POST", "/v1/query", {
        token: tenant.adminKey,
        body: {
          query: "What about laptops?",
          collection_ids: [collection],
          mode: "fast",
          stream: true,
          history: [{ role: "user", content: "How often are laptops replaced?" }],
        },
      }),
    );
    const done = JSON.parse(events.find((e) => e.event === "done")?.data ?? "{}") as Answer;
    expect(done.rewritten_query).toBe("What about laptops? (often replaced)");

    // A follow-up none of whose own words the documents use is not answered by the first answer again.
    const unknown = await ask("Who approves them?");
    expect(unknown.rewritten_query).toMatch(/^Who approves them\? \(/);
    expect(unknown.abstained).toBe(true);

    // A question that stands alone is not rewritten.
    const alone = await ask("When are laptops replaced?");
    expect(alone.rewritten_query).toBe("When are laptops replaced?");
  });

  it("belong to the key or token that created them, refuse bad input, and expire", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    await ingestText(tenant, collection, "Leave", "Employees receive twenty five days of paid vacation.");
    const reader = await newKey(tenant, { scopes: ["query"] });
    const other = await newKey(tenant, { scopes: ["query"] });
    const mine = await json<Conversation>(await call("POST", "/v1/conversations", { token: reader.key }));
    await expectProblem(await call("GET", `/v1/conversations/${mine.id}`, { token: other.key }), 404, "not_found");
    await expectProblem(
      await call("POST", "/v1/query", {
        token: other.key,
        body: { query: "vacation", collection_ids: [collection], conversation_id: mine.id },
      }),
      404,
      "not_found",
    );
    // The tenant's unrestricted admin key may read it; another tenant may not.
    expect((await call("GET", `/v1/conversations/${mine.id}`, { token: tenant.adminKey })).status).toBe(200);
    const stranger = await newTenant();
    await expectProblem(
      await call("GET", `/v1/conversations/${mine.id}`, { token: stranger.adminKey }),
      404,
      "not_found",
    );
    // A token's conversation is its own, even against the key that minted it.
    const { token } = await json<{ token: string }>(
      await call("POST", "/v1/tokens", { token: tenant.adminKey, body: {} }),
    );
    const tokens = await json<Conversation>(await call("POST", "/v1/conversations", { token }));
    expect((await call("GET", `/v1/conversations/${tokens.id}`, { token })).status).toBe(200);
    await expectProblem(await call("GET", `/v1/conversations/${tokens.id}`, { token: reader.key }), 404, "not_found");

    const bad = await expectProblem(
      await call("POST", "/v1/query", {
        token: reader.key,
        body: {
          query: "vacation",
          collection_ids: [collection],
          conversation_id: mine.id,
          history: [{ role: "user", content: "x" }],
        },
      }),
      422,
      "validation_failed",
    );
    expect(bad.errors).toEqual([{ path: "history", message: "give conversation_id or history, not both" }]);
    await expectProblem(
      await call("POST", "/v1/query", {
        token: reader.key,
        body: {
          query: "vacation",
          collection_ids: [collection],
          history: Array.from({ length: 21 }, () => ({ role: "user", content: "x" })),
        },
      }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await call("POST", "/v1/query", {
        token: reader.key,
        body: { query: "vacation", collection_ids: [collection], history: [{ role: "system", content: "x" }] },
      }),
      422,
      "validation_failed",
    );

    expect((await call("DELETE", `/v1/conversations/${mine.id}`, { token: reader.key })).status).toBe(204);
    await expectProblem(await call("GET", `/v1/conversations/${mine.id}`, { token: reader.key }), 404, "not_found");

    // Retention: the cron deletes conversations past their expiry, turns and all.
    const services = createServices(env, { waitUntil: () => {}, passThroughOnException: () => {} } as never);
    const later = Date.parse(tokens.expires_at) + 1;
    expect(await services.conversations.purgeExpired(later)).toBeGreaterThanOrEqual(1);
    await expectProblem(await call("GET", `/v1/conversations/${tokens.id}`, { token }), 404, "not_found");
  });
});
