/**
 * Help from EdgeRAG's own guides: docs/*.md (bundled as src/generated/guides.ts) are indexed into a
 * built-in, read-only documentation collection by the same ingestion path as any tenant's
 * documents, under a tenant no key belongs to. A guide is re-indexed only when its content hash
 * changes (an upload of the same content is deduplicated; the older version is then deleted).
 * `ask` answers a question about the API from them with citations; `see` names the guide sections
 * that best match an error code on a route, looked up once per code and route and kept.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "../adapters/db/client";
import { collections, documents, tenants } from "../adapters/db/schema";
import { AppError, type ErrorCode, errorDoc } from "../errors";
import { GUIDES } from "../generated/guides";
import { Lru } from "../lib/lru";
import type { QueryResult } from "../schemas/query";
import type { DocumentService, Upload } from "./documents";
import type { KeyPrincipal } from "./principal";
import type { QueryService, SearchService } from "./query/service";

export const DOCS_TENANT = "ten_edgerag_docs";
export const DOCS_COLLECTION = "col_edgerag_docs";

/** The documentation collection's own reader: no API key has this tenant, so none can reach it. */
const DOCS_PRINCIPAL: KeyPrincipal = {
  kind: "key",
  tenantId: DOCS_TENANT,
  keyId: "key_edgerag_docs",
  scopes: ["admin"],
  collectionIds: null,
  filter: null,
  rateTier: "internal",
};

export interface GuideSection {
  guide: string;
  section: string | null;
}

export interface SyncResult {
  added: string[];
  removed: number;
  unchanged: number;
}

/** Sections per (code, route), for every request of this isolate. */
const seeAlso = new Lru<GuideSection[]>(1_000);
/** Whether this isolate has synced the guides once (the index itself is shared). */
let synced: Promise<SyncResult> | undefined;

export function helpService(deps: {
  db: Db;
  documents: DocumentService;
  query: QueryService;
  search: SearchService;
  defer: (work: Promise<unknown>) => void;
  guides?: ReadonlyArray<{ name: string; text: string }>;
}) {
  const guides = deps.guides ?? GUIDES;

  /** Brings the collection to the bundled guides: new or changed ones uploaded, others deleted. */
  async function sync(): Promise<SyncResult> {
    const now = Date.now();
    await deps.db.batch([
      deps.db
        .insert(tenants)
        .values({ id: DOCS_TENANT, name: "EdgeRAG documentation", maxRateTier: null, createdAt: now })
        .onConflictDoNothing(),
      deps.db
        .insert(collections)
        .values({
          id: DOCS_COLLECTION,
          tenantId: DOCS_TENANT,
          name: "EdgeRAG documentation",
          description: "The project's guides (docs/*.md), read-only",
          version: 0,
          embeddingModel: null,
          embeddingDimensions: null,
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing(),
    ]);
    const uploads: Upload[] = guides.map((guide) => ({
      bytes: new TextEncoder().encode(guide.text),
      text: guide.text,
      title: guide.name,
      metadata: { source: "edgerag-docs" },
      priority: "low",
      textOnly: true,
    }));
    const results = await deps.documents.uploadMany(DOCS_PRINCIPAL, DOCS_COLLECTION, uploads);
    const current = new Set<string>();
    const added: string[] = [];
    for (const [index, result] of results.entries()) {
      if ("error" in result) {
        throw result.error;
      }
      current.add(result.document.id);
      if (!result.deduplicated) {
        added.push(guides[index]?.name ?? "?");
      }
    }
    const rows = await deps.db
      .select({ id: documents.id })
      .from(documents)
      .where(and(eq(documents.tenantId, DOCS_TENANT), eq(documents.collectionId, DOCS_COLLECTION)));
    const stale = rows.filter((row) => !current.has(row.id));
    for (const row of stale) {
      // Another isolate's sync may have deleted it first.
      await deps.documents.delete(DOCS_PRINCIPAL, row.id).catch((error: unknown) => {
        if (!(error instanceof AppError && error.code === "not_found")) {
          throw error;
        }
      });
    }
    if (added.length > 0 || stale.length > 0) {
      seeAlso.clear();
    }
    return { added, removed: stale.length, unchanged: results.length - added.length };
  }

  /** Once per isolate, in the background: the index follows the deployed guides. */
  function ensureSynced(): void {
    if (!synced) {
      synced = sync().catch((error) => {
        synced = undefined;
        throw error;
      });
      deps.defer(synced.catch(() => undefined));
    }
  }

  return {
    sync,

    /** An answer about the API from the guides, with citations (or an honest abstention). */
    async ask(question: string): Promise<QueryResult> {
      ensureSynced();
      const input = {
        query: question,
        collection_ids: [DOCS_COLLECTION],
        mode: "balanced" as const,
        top_k: 5,
        stream: false,
      };
      const prepared = await deps.query.prepare(DOCS_PRINCIPAL, input);
      return deps.query.answer(DOCS_PRINCIPAL, input, prepared, { startedAt: performance.now() });
    },

    /**
     * The one or two guide sections that best match an error code on a route: a keyword search of
     * the guides for the code, its title and the route's words, kept per code and route. Empty
     * until the guides are indexed (by the cron, `/v1/help` or the operator's sync): it never
     * indexes them itself, and an error response never fails for want of it.
     */
    async see(code: ErrorCode, route: string): Promise<GuideSection[]> {
      const key = `${code} ${route}`;
      const known = seeAlso.get(key);
      if (known) {
        return known;
      }
      const words = route.split(/[/:{}_-]+/).filter((w) => w.length > 2 && w !== "v1");
      try {
        const { results } = await deps.search.run(DOCS_PRINCIPAL, {
          query: `${code.replaceAll("_", " ")} ${errorDoc(code).title} ${words.join(" ")}`,
          collection_ids: [DOCS_COLLECTION],
          top_k: 2,
          strategy: "keyword",
        });
        const sections = results.map((hit) => ({ guide: hit.title, section: hit.heading ?? null }));
        // Found: kept until the guides change. None (not indexed yet): asked again in a minute.
        seeAlso.set(key, sections, sections.length > 0 ? Number.POSITIVE_INFINITY : 60_000);
        return sections;
      } catch (error) {
        if (error instanceof AppError) {
          seeAlso.set(key, [], 60_000);
          return [];
        }
        throw error;
      }
    },
  };
}
export type HelpService = ReturnType<typeof helpService>;
