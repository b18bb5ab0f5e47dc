import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GUIDES } from "../../src/generated/guides";
import { DOCS_COLLECTION, DOCS_TENANT, helpService } from "../../src/services/help";
import { onPostgres, testDb } from "../support/db";
import { ADMIN, call, expectProblem, json, newCollection, newTenant } from "../support/http";
import { memoryQueues } from "../support/memory-queue";
import { collectingInvocation, servicesFor } from "../support/services";

/** The guides indexed by the help service over a memory queue, whose batch the test hands to the consumer. */
async function indexGuides() {
  const { queue, queues } = memoryQueues();
  const services = servicesFor({}, collectingInvocation(), { queues });
  const result = await services.help.sync();
  await services.ingest.handleBatch(queue.drain(), false);
  return result;
}

describe("help from EdgeRAG's own guides", () => {
  it("indexes the guides once, answers questions about the API with citations, and links errors to them", async () => {
    await expectProblem(await call("POST", "/v1/admin/docs/sync"), 401, "unauthorized");
    if (onPostgres) {
      // The files of a PostgreSQL run share one store, and another file's cron may have synced the
      // guides into it (their processing queued in that file): start from none, as on D1.
      await testDb().prepare("DELETE FROM documents WHERE tenant_id = ?").bind(DOCS_TENANT).run();
    }
    const first = await indexGuides();
    expect(first.added.sort()).toEqual(GUIDES.map((g) => g.name).sort());
    const { results } = await testDb()
      .prepare("SELECT status FROM documents WHERE tenant_id = ? AND collection_id = ?")
      .bind(DOCS_TENANT, DOCS_COLLECTION)
      .all<{ status: string }>();
    expect(results.map((r) => r.status)).toEqual(GUIDES.map(() => "ready"));
    // The same content again: nothing re-indexed.
    const again = await json(await call("POST", "/v1/admin/docs/sync", { token: ADMIN }));
    expect(again).toEqual({ added: [], removed: 0, unchanged: GUIDES.length });

    // No key needed; metered per IP like every anonymous call.
    const res = await call("GET", "/v1/help?q=How do I send documents larger than the JSON upload limit?");
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-limit") ?? res.headers.get("ratelimit")).toBeTruthy();
    const answer = await json<{ answer: string; abstained: boolean; citations: Array<{ title: string }> }>(res);
    expect(answer.abstained).toBe(false);
    expect(answer.answer).toMatch(/multipart/i);
    expect(answer.citations[0]?.title).toMatch(/^docs\/.+\.md$/);
    await expectProblem(await call("GET", "/v1/help?q=x"), 422, "validation_failed");

    // An error links the guide sections for its code and route (kept after the first lookup).
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const tooBig = () =>
      call("POST", `/v1/collections/${col}/documents`, {
        token: tenant.adminKey,
        body: "x".repeat(100),
        headers: { "Content-Type": "text/plain" },
      });
    await tooBig();
    const problem = (await expectProblem(await tooBig(), 415, "unsupported_media_type")) as unknown as {
      see?: Array<{ guide: string; section: string | null }>;
    };
    expect(problem.see?.length).toBeGreaterThan(0);
    expect(problem.see?.[0]?.guide).toMatch(/^docs\/.+\.md$/);
    // Nobody's key reaches the documentation tenant's collection: its id is not even a valid
    // collection id for the API, and no tenant lists it.
    await expectProblem(
      await call("POST", "/v1/search", {
        token: tenant.adminKey,
        body: { query: "multipart", collection_ids: [DOCS_COLLECTION] },
      }),
      422,
      "validation_failed",
    );
    const listed = await json<{ items: Array<{ id: string }> }>(
      await call("GET", "/v1/collections", { token: tenant.adminKey }),
    );
    expect(listed.items.map((c) => c.id)).not.toContain(DOCS_COLLECTION);
  });

  it("re-indexes only a guide whose content changed, and drops one that is gone", async () => {
    const guides = [
      { name: "docs/a.md", text: "# A\n\nAlpha guide about keys." },
      { name: "docs/b.md", text: "# B\n\nBeta guide about uploads." },
    ];
    const services = servicesFor();
    const syncWith = (list: typeof guides) => helpService({ ...services, defer: () => undefined, guides: list }).sync();
    expect((await syncWith(guides)).added.sort()).toEqual(["docs/a.md", "docs/b.md"]);
    // a.md changed (its old version is deleted), b.md is gone.
    expect(await syncWith([{ name: "docs/a.md", text: "# A\n\nAlpha, revised." }])).toEqual({
      added: ["docs/a.md"],
      removed: 2,
      unchanged: 0,
    });
    expect(await syncWith([{ name: "docs/a.md", text: "# A\n\nAlpha, revised." }])).toEqual({
      added: [],
      removed: 0,
      unchanged: 1,
    });
  });
});
