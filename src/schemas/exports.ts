import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";
import { QueryBody } from "./query";

const Title = z.string().trim().min(1).max(200).optional();
const Locale = z
  .string()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "must be a BCP 47 language tag")
  .optional()
  .openapi({ description: "Dates in the report are formatted for this locale (default en)" });

export const CreateExportBody = z
  .discriminatedUnion("kind", [
    z
      .object({
        kind: z.literal("query"),
        query_log_id: z
          .string()
          .regex(/^qry_[A-Za-z0-9]{1,64}$/)
          .optional(),
        query: QueryBody.shape.query.optional(),
        collection_ids: QueryBody.shape.collection_ids.optional(),
        mode: QueryBody.shape.mode.optional(),
        title: Title,
        locale: Locale,
      })
      .strict()
      .refine((b) => (b.query_log_id === undefined) !== (b.query === undefined), {
        message: "give either query_log_id or query with collection_ids",
        path: ["query"],
      })
      .refine((b) => b.query === undefined || (b.collection_ids?.length ?? 0) > 0, {
        message: "collection_ids is required with query",
        path: ["collection_ids"],
      }),
    z
      .object({
        kind: z.literal("dashboard"),
        from: z.iso.datetime({ offset: true }),
        to: z.iso.datetime({ offset: true }),
        bucket: z.enum(["hour", "day"]).default("day"),
        title: Title,
        locale: Locale,
      })
      .strict(),
    z
      .object({
        kind: z.literal("document"),
        document_id: z.string().regex(/^doc_[A-Za-z0-9]{1,64}$/),
        title: Title,
        locale: Locale,
      })
      .strict(),
  ])
  .openapi("ExportInput");
export type CreateExportInput = z.infer<typeof CreateExportBody>;

export const ExportIdParam = z.object({
  id: z
    .string()
    .regex(/^exp_[A-Za-z0-9]{1,64}$/, "must be an export id")
    .openapi({ param: { name: "id", in: "path" } }),
});

export const ExportSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["query", "dashboard", "document"]),
    status: z.enum(["queued", "rendering", "ready", "failed"]),
    title: z.string(),
    pages: z.number().int().nullable(),
    bytes: z.number().int().nullable(),
    error: z.string().nullable(),
    created_at: IsoDate,
    ready_at: IsoDate.nullable(),
    expires_at: IsoDate.nullable(),
  })
  .openapi("Export");
export type ExportView = z.infer<typeof ExportSchema>;

export const ExportListSchema = z
  .object({ items: z.array(ExportSchema), next_cursor: z.string().nullable() })
  .openapi("ExportList");

/** The export queue's message. */
export interface ExportMessage {
  export_id: string;
  tenant_id: string;
}
