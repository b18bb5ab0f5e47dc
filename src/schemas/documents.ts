import { z } from "@hono/zod-openapi";
import { DOCUMENT_STATUSES, PRIORITIES } from "../adapters/db/schema";
import { FilePart } from "../lib/multipart";
import { IsoDate } from "./common";

export const ExternalDocumentParams = z.object({
  id: z
    .string()
    .regex(/^col_[A-Za-z0-9]{16}$/, "must be a collection id")
    .openapi({ param: { name: "id", in: "path" }, example: "col_3kP9x2LmQ7rT1vBz" }),
  external_id: z
    .string()
    .regex(/^[A-Za-z0-9._:/-]{1,200}$/, "must be 1–200 of A–Z a–z 0–9 . _ : / -")
    .openapi({ param: { name: "external_id", in: "path" }, example: "handbook/leave-policy.md" }),
});

export const DocumentIdParam = z.object({
  id: z
    .string()
    .regex(/^doc_[A-Za-z0-9]{16}$/, "must be a document id")
    .openapi({ param: { name: "id", in: "path" }, example: "doc_3kP9x2LmQ7rT1vBz" }),
});

const Metadata = z
  .record(z.string().max(64), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 8_192, "metadata must serialise to at most 8 KiB")
  .openapi({ description: "Your own JSON object, kept with the document (≤ 8 KiB)" });

/** A JSON document's fields: one shape for the single and the batch upload (each its own schema). */
const documentFields = {
  title: z.string().trim().min(1).max(500),
  text: z.string().min(1).openapi({ description: "Plain text, Markdown or HTML (sniffed from the content)" }),
  metadata: Metadata.optional(),
};

export const JsonDocumentBody = z
  .object({ ...documentFields, priority: z.enum(PRIORITIES).default("normal") })
  .strict()
  .openapi("JsonDocument");

/**
 * A document of a batch. Its own object, not `JsonDocument` extended: an extension is rendered as
 * `allOf` with `additionalProperties: false` on one part, which a strict validator reads as
 * refusing every field of the other part.
 */
const BatchDocument = z
  .object({ ...documentFields, priority: z.enum(PRIORITIES).default("low") })
  .strict()
  .openapi("BatchDocument");

export const MultipartDocumentBody = z
  .object({
    file: z.instanceof(FilePart).openapi({
      type: "string",
      format: "binary",
      description: "PDF, DOCX, Markdown, HTML or text; the type is sniffed from the bytes",
    }),
    title: z.string().trim().min(1).max(500).optional(),
    metadata: z.string().max(8_192).optional().openapi({ description: "A JSON object, as text" }),
    priority: z.enum(PRIORITIES).default("normal"),
  })
  .openapi("MultipartDocument");

export const DocumentSchema = z
  .object({
    id: z.string(),
    collection_id: z.string(),
    title: z.string(),
    mime_type: z.string(),
    size_bytes: z.number().int(),
    sha256: z.string(),
    status: z.enum(DOCUMENT_STATUSES),
    error: z.string().nullable(),
    chunk_count: z.number().int(),
    priority: z.enum(PRIORITIES),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    external_id: z
      .string()
      .nullable()
      .openapi({ description: "The caller's own id (PUT …/documents/external/{external_id}); null for uploads" }),
    version: z.number().int().openapi({ description: "1, then one more for each replacement of an external id" }),
    replaces: z.string().nullable().openapi({
      description: "While a new version is processed: the document it will replace, which keeps answering until then",
    }),
    created_at: IsoDate,
    updated_at: IsoDate,
  })
  .openapi("Document");

export const UploadResultSchema = DocumentSchema.extend({
  deduplicated: z.boolean().openapi({ description: "true when the same content was already in the collection" }),
}).openapi("UploadResult");

export const DocumentListSchema = z
  .object({ items: z.array(DocumentSchema), next_cursor: z.string().nullable() })
  .openapi("DocumentList");

export type DocumentView = z.infer<typeof DocumentSchema>;

export const MAX_BATCH_DOCUMENTS = 100;

export const BatchDocumentsBody = z
  .object({
    documents: z.array(BatchDocument).min(1).max(MAX_BATCH_DOCUMENTS),
  })
  .strict()
  .openapi("BatchDocuments");

export const BatchResultSchema = z
  .object({
    items: z.array(
      z.object({
        index: z.number().int(),
        document: UploadResultSchema.optional(),
        error: z.object({ code: z.string(), detail: z.string() }).optional(),
      }),
    ),
  })
  .openapi("BatchResult");
