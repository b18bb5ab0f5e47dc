/**
 * PDF exports: a D1 row (`queued`) and a queue message; the consumer renders the report (an
 * answer with its sources, the dashboard, or a document's text) to HTML, then to PDF through the
 * locked-down renderer, stores it in R2 and marks the row `ready` (`export.ready`), or `failed`
 * with the reason after bounded retries (`export.failed`). Files expire; a sweep deletes them.
 * Exports are tenant-wide (an unrestricted admin key), and every read carries the tenant id.
 */
import { and, desc, eq, gt, isNotNull, lt } from "drizzle-orm";
import type { PdfRenderer } from "../../adapters/browser/interface";
import { type Db, inList } from "../../adapters/db/client";
import { apiKeys, documents, type ExportRow, exportsTable, queryLog, tenants } from "../../adapters/db/schema";
import type { ChunkShards } from "../../adapters/shards/interface";
import { namespaceOf } from "../../adapters/vector/interface";
import { AppError } from "../../errors";
import { newId } from "../../lib/ids";
import type { Logger } from "../../lib/log";
import { iso } from "../../schemas/common";
import type { CreateExportInput, ExportMessage, ExportView } from "../../schemas/exports";
import { QueryBody } from "../../schemas/query";
import { filterJson } from "../../schemas/search";
import type { DashboardService } from "../dashboard/service";
import { periodOf } from "../dashboard/service";
import { getDocument } from "../documents";
import type { Notify } from "../notifications/service";
import { ownedRow } from "../owned";
import { afterCursor, toPage } from "../paging";
import { assertCovers, type KeyPrincipal, keyPrincipal, TENANT_WIDE } from "../principal";
import type { QueryService } from "../query/service";
import { dashboardReport, documentReport, queryReport, type ReportMeta } from "./templates";

export interface ExportSettings {
  ttlMs: number;
  maxPages: number;
  maxHtmlBytes: number;
  renderTimeoutMs: number;
  maxAttempts: number;
}

export interface ExportDeps {
  db: Db;
  blobs: R2Bucket;
  queue: Queue<ExportMessage>;
  renderer: PdfRenderer;
  /** Where cited and exported chunks are read (each collection's search shard). */
  shards: ChunkShards;
  notify: Notify;
  query: Pick<QueryService, "prepare" | "answer">;
  dashboard: Pick<DashboardService, "get">;
  logger: Pick<Logger, "warn" | "error">;
  settings: ExportSettings;
}

const fileKey = (tenantId: string, id: string) => `exports/${tenantId}/${id}.pdf`;

/** The full text of each cited chunk, from the shards of the cited documents' collections. */
async function citedTexts(
  db: Db,
  shards: ChunkShards,
  tenantId: string,
  citations: Array<{ document_id: string; chunk_id: string }>,
): Promise<Map<string, string>> {
  if (citations.length === 0) {
    return new Map();
  }
  const docs = await db
    .select({ id: documents.id, collectionId: documents.collectionId })
    .from(documents)
    .where(
      and(
        eq(documents.tenantId, tenantId),
        inList(
          documents.id,
          citations.map((c) => c.document_id),
        ),
      ),
    );
  const byCollection = new Map<string, string[]>();
  for (const citation of citations) {
    const collectionId = docs.find((d) => d.id === citation.document_id)?.collectionId;
    if (collectionId) {
      byCollection.set(collectionId, [...(byCollection.get(collectionId) ?? []), citation.chunk_id]);
    }
  }
  const texts = new Map<string, string>();
  await Promise.all(
    [...byCollection].map(async ([collectionId, ids]) => {
      for (const chunk of await shards.get(namespaceOf(tenantId, collectionId), ids)) {
        texts.set(chunk.id, chunk.text);
      }
    }),
  );
  return texts;
}

function toView(row: ExportRow): ExportView {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    title: row.title,
    pages: row.pages,
    bytes: row.bytes,
    error: row.error,
    created_at: iso(row.createdAt),
    ready_at: row.readyAt === null ? null : iso(row.readyAt),
    expires_at: row.expiresAt === null ? null : iso(row.expiresAt),
  };
}

const DEFAULT_TITLES = { query: "Answer", dashboard: "Dashboard", document: "Document" } as const;

export function exportService(deps: ExportDeps) {
  const { db, settings } = deps;

  const owned = async (principal: KeyPrincipal, id: string) => {
    assertCovers(principal, TENANT_WIDE, "exports");
    return ownedRow(db, exportsTable, id, principal.tenantId, "export");
  };

  /** The report's HTML for a row, as the key that asked for it may see it. */
  const reportOf = async (row: ExportRow): Promise<string> => {
    const [key, tenant] = await Promise.all([
      db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, row.keyId), eq(apiKeys.tenantId, row.tenantId)))
        .get(),
      db.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, row.tenantId)).get(),
    ]);
    if (!key) {
      throw new AppError("forbidden", "The API key that asked for this export was revoked.");
    }
    const principal = keyPrincipal(key);
    const locale = typeof row.params.locale === "string" ? row.params.locale : "en";
    const meta: ReportMeta = {
      title: row.title,
      tenantName: tenant?.name ?? row.tenantId,
      generatedAt: `${new Intl.DateTimeFormat(locale, {
        dateStyle: "medium",
        timeStyle: "short",
        timeZone: "UTC",
      }).format(new Date())} UTC`,
    };
    if (row.kind === "query") {
      const input = QueryBody.parse(row.params.query);
      const result = await deps.query.answer(principal, input, await deps.query.prepare(principal, input), {
        startedAt: performance.now(),
      });
      const excerpts = await citedTexts(db, deps.shards, row.tenantId, result.citations);
      return queryReport(meta, input.query, result, excerpts);
    }
    if (row.kind === "dashboard") {
      const view = await deps.dashboard.get(
        principal,
        row.params as { from: string; to: string; bucket: "hour" | "day" },
      );
      return dashboardReport(meta, view);
    }
    const doc = await getDocument(db, principal, String(row.params.document_id));
    const pieces = await deps.shards.ofDocument(namespaceOf(doc.tenantId, doc.collectionId), doc.id);
    return documentReport(meta, doc, pieces);
  };

  const fail = async (row: ExportRow, reason: string) => {
    await db
      .update(exportsTable)
      .set({ status: "failed", error: reason.slice(0, 500) })
      .where(and(eq(exportsTable.id, row.id), eq(exportsTable.tenantId, row.tenantId)))
      .run();
    deps.notify(row.tenantId, "export.failed", { export_id: row.id, kind: row.kind, reason: reason.slice(0, 500) });
  };

  return {
    async create(principal: KeyPrincipal, input: CreateExportInput): Promise<ExportView> {
      assertCovers(principal, TENANT_WIDE, "exports");
      let params: Record<string, unknown>;
      if (input.kind === "query") {
        let query: unknown = { query: input.query, collection_ids: input.collection_ids, mode: input.mode };
        if (input.query_log_id !== undefined) {
          const logged = await db
            .select()
            .from(queryLog)
            .where(and(eq(queryLog.id, input.query_log_id), eq(queryLog.tenantId, principal.tenantId)))
            .get();
          if (!logged) {
            throw new AppError("not_found", "No such query in the query log.");
          }
          query = {
            query: logged.queryText,
            mode: logged.mode,
            ...logged.params,
            filter: logged.params.filter ?? undefined,
          };
        }
        const parsed = QueryBody.safeParse(query);
        if (!parsed.success) {
          throw new AppError("validation_failed", "The query cannot be run again.", {
            errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
          });
        }
        // The checks that would refuse the query now refuse the export now (404/403/422).
        await deps.query.prepare(principal, parsed.data);
        params = { query: { ...parsed.data, filter: filterJson(parsed.data.filter) ?? undefined } };
      } else if (input.kind === "dashboard") {
        periodOf({ from: input.from, to: input.to, bucket: input.bucket });
        params = { from: input.from, to: input.to, bucket: input.bucket };
      } else {
        await getDocument(db, principal, input.document_id);
        params = { document_id: input.document_id };
      }
      const row: ExportRow = {
        id: newId("exp"),
        tenantId: principal.tenantId,
        keyId: principal.keyId,
        kind: input.kind,
        status: "queued",
        title: input.title ?? DEFAULT_TITLES[input.kind],
        params: { ...params, locale: input.locale ?? "en" },
        pages: null,
        bytes: null,
        error: null,
        attempts: 0,
        createdAt: Date.now(),
        readyAt: null,
        expiresAt: null,
      };
      await db.insert(exportsTable).values(row);
      try {
        await deps.queue.send({ export_id: row.id, tenant_id: row.tenantId });
      } catch (error) {
        await db.delete(exportsTable).where(and(eq(exportsTable.id, row.id), eq(exportsTable.tenantId, row.tenantId)));
        throw new AppError("upstream_unavailable", "The export could not be queued; try again.", { cause: error });
      }
      return toView(row);
    },

    get: async (principal: KeyPrincipal, id: string) => toView(await owned(principal, id)),

    async list(principal: KeyPrincipal, page: { cursor?: string | undefined; limit: number }) {
      assertCovers(principal, TENANT_WIDE, "exports");
      const after = afterCursor(page.cursor, { createdAt: exportsTable.createdAt, id: exportsTable.id });
      const rows = await db
        .select()
        .from(exportsTable)
        .where(and(eq(exportsTable.tenantId, principal.tenantId), after))
        .orderBy(desc(exportsTable.createdAt), desc(exportsTable.id))
        .limit(page.limit + 1);
      return toPage(rows, page.limit, toView);
    },

    /** The PDF: 409 until ready, 410 once expired. */
    async file(principal: KeyPrincipal, id: string) {
      const row = await owned(principal, id);
      if (row.status !== "ready") {
        throw new AppError("conflict", `The export is ${row.status}, not ready.`);
      }
      if (row.expiresAt !== null && row.expiresAt <= Date.now()) {
        throw new AppError("gone", "The export has expired; create it again.");
      }
      const object = await deps.blobs.get(fileKey(row.tenantId, row.id));
      if (!object) {
        throw new AppError("gone", "The export's file is gone; create it again.");
      }
      return { row, body: object.body, size: object.size };
    },

    async delete(principal: KeyPrincipal, id: string): Promise<void> {
      const row = await owned(principal, id);
      await deps.blobs.delete(fileKey(row.tenantId, row.id));
      await db.delete(exportsTable).where(and(eq(exportsTable.id, id), eq(exportsTable.tenantId, principal.tenantId)));
    },

    /**
     * The export queue's consumer (max_concurrency = the plan's browser limit, one message a
     * batch): render, store, mark ready. A failure is retried a bounded number of times.
     */
    async handleBatch(batch: MessageBatch<ExportMessage>): Promise<void> {
      for (const message of batch.messages) {
        const { export_id: id, tenant_id: tenantId } = message.body;
        const row = await db
          .select()
          .from(exportsTable)
          .where(and(eq(exportsTable.id, id), eq(exportsTable.tenantId, tenantId)))
          .get();
        if (!row || row.status === "ready" || row.status === "failed") {
          message.ack();
          continue;
        }
        await db
          .update(exportsTable)
          .set({ status: "rendering", attempts: row.attempts + 1 })
          .where(and(eq(exportsTable.id, id), eq(exportsTable.tenantId, tenantId)))
          .run();
        try {
          const html = await reportOf(row);
          if (new TextEncoder().encode(html).byteLength > settings.maxHtmlBytes) {
            throw new AppError("payload_too_large", `The report is over ${settings.maxHtmlBytes} bytes of HTML.`);
          }
          const { pdf, pages } = await deps.renderer.render(html, {
            title: row.title,
            footer: `EdgeRAG · ${row.id}`,
            timeoutMs: settings.renderTimeoutMs,
            maxPages: settings.maxPages,
          });
          await deps.blobs.put(fileKey(tenantId, id), pdf, { httpMetadata: { contentType: "application/pdf" } });
          const now = Date.now();
          await db
            .update(exportsTable)
            .set({
              status: "ready",
              pages,
              bytes: pdf.byteLength,
              readyAt: now,
              expiresAt: now + settings.ttlMs,
              error: null,
            })
            .where(and(eq(exportsTable.id, id), eq(exportsTable.tenantId, tenantId)))
            .run();
          deps.notify(tenantId, "export.ready", { export_id: id, kind: row.kind, pages, bytes: pdf.byteLength });
          message.ack();
        } catch (error) {
          const appError = error instanceof AppError ? error : undefined;
          // What retrying cannot change fails at once; the rest is retried, a few times.
          const permanent =
            appError !== undefined &&
            ["payload_too_large", "forbidden", "not_found", "validation_failed"].includes(appError.code);
          // Waiting for a free browser is not a failed attempt: it does not count.
          const waiting = appError?.code === "rate_limited";
          if (permanent || (!waiting && row.attempts + 1 >= settings.maxAttempts)) {
            await fail(row, appError?.message ?? "the report could not be rendered");
            message.ack();
          } else {
            deps.logger.warn("export failed; retrying", { export_id: id, error });
            await db
              .update(exportsTable)
              .set({ status: "queued", attempts: waiting ? row.attempts : row.attempts + 1 })
              .where(and(eq(exportsTable.id, id), eq(exportsTable.tenantId, tenantId)))
              .run();
            // The renderer's Retry-After when the browser limit was hit; else a growing wait.
            const retryAfter = Number(appError?.headers["Retry-After"] ?? Number.NaN);
            message.retry({ delaySeconds: Number.isFinite(retryAfter) ? retryAfter : 10 * (row.attempts + 1) });
          }
        }
      }
    },

    /** Deletes the files of expired exports (cron); their rows stay, answering 410. */
    async sweep(now = Date.now()): Promise<number> {
      const expired = await db
        .select({ id: exportsTable.id, tenantId: exportsTable.tenantId })
        .from(exportsTable)
        .where(and(isNotNull(exportsTable.expiresAt), lt(exportsTable.expiresAt, now), gt(exportsTable.bytes, 0)))
        .limit(500);
      if (expired.length > 0) {
        await deps.blobs.delete(expired.map((e) => fileKey(e.tenantId, e.id)));
        await db
          .update(exportsTable)
          .set({ bytes: 0 })
          .where(
            inList(
              exportsTable.id,
              expired.map((e) => e.id),
            ),
          )
          .run();
      }
      return expired.length;
    },
  };
}
export type ExportService = ReturnType<typeof exportService>;
