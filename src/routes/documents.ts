import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { keyOf, requireKey } from "../middleware/auth";
import { uploadBody, uploadedText } from "../middleware/body-limit";
import { CollectionIdParam, PageQuery } from "../schemas/collections";
import { bearerSecurity, commonErrors, notFound } from "../schemas/common";
import {
  BatchDocumentsBody,
  BatchResultSchema,
  DocumentIdParam,
  DocumentListSchema,
  DocumentSchema,
  ExternalDocumentParams,
  JsonDocumentBody,
  MAX_BATCH_DOCUMENTS,
  MultipartDocumentBody,
  UploadResultSchema,
} from "../schemas/documents";
import type { Upload } from "../services/documents";
import { createRoute } from "./route";

/** Documents: `ingest` to upload and delete, `query` or `ingest` to read. */
export const documents = new OpenAPIHono<AppEnv>();

/**
 * The bodies an upload takes. `required: false` makes the validator check only the media type that
 * was sent (the body itself is required by uploadBody()); with `true`, both the form and the JSON
 * schema would run.
 */
const uploadBodies = {
  required: false,
  content: {
    "multipart/form-data": { schema: MultipartDocumentBody },
    "application/json": { schema: JsonDocumentBody },
  },
};

const upload = createRoute({
  method: "post",
  operationId: "uploadDocument",
  path: "/v1/collections/{id}/documents",
  tags: ["documents"],
  summary: "Upload a document (multipart `file`, or JSON text); processing is queued",
  security: bearerSecurity,
  middleware: [requireKey("ingest"), uploadBody({ textAt: ["text"] })] as const,
  request: {
    params: CollectionIdParam,
    body: uploadBodies,
  },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: UploadResultSchema } } },
    200: {
      description: "The same content is already in the collection",
      content: { "application/json": { schema: UploadResultSchema } },
    },
    ...commonErrors,
    ...notFound,
  },
});

function parseMetadata(text: string | undefined): Record<string, unknown> | null {
  if (text === undefined) {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AppError("validation_failed", "metadata must be a JSON object.", {
      errors: [{ path: "metadata", message: "must be a JSON object" }],
    });
  }
  return value as Record<string, unknown>;
}

/**
 * A JSON document (`{title, text, metadata?, priority?}`) as an upload. `bytes`: its text as UTF-8,
 * when the body reader took it out of the body that way (single uploads), else encoded here.
 */
function textUpload(
  input: {
    title: string;
    text: string;
    metadata?: Record<string, unknown> | undefined;
    priority: Upload["priority"];
  },
  bytes?: Uint8Array,
): Upload {
  return {
    bytes: bytes ?? new TextEncoder().encode(input.text),
    title: input.title,
    metadata: input.metadata ?? null,
    priority: input.priority,
    textOnly: true,
  };
}

/** The upload a request carries: a multipart `file`, or JSON text (its bytes as the body reader took them). */
function uploadFrom(
  input: z.infer<typeof MultipartDocumentBody> | z.infer<typeof JsonDocumentBody>,
  text: Uint8Array | undefined,
): Upload {
  return "file" in input
    ? {
        bytes: input.file.bytes,
        title: input.title ?? (input.file.name.replace(/\.[A-Za-z0-9]{1,8}$/, "").trim() || "Untitled"),
        metadata: parseMetadata(input.metadata),
        priority: input.priority,
        textOnly: false,
      }
    : textUpload(input, text);
}

documents.openapi(upload, async (c) => {
  const collectionId = c.req.valid("param").id;
  const multipart = (c.req.header("content-type") ?? "").toLowerCase().startsWith("multipart/");
  const doc = uploadFrom(multipart ? c.req.valid("form") : c.req.valid("json"), uploadedText(c));
  const result = await c.var.services.documents.upload(keyOf(c.var.principal), collectionId, doc);
  const body = { ...result.document, deduplicated: result.deduplicated };
  return result.deduplicated ? c.json(body, 200) : c.json(body, 202);
});

const put = createRoute({
  method: "put",
  operationId: "upsertDocument",
  path: "/v1/collections/{id}/documents/external/{external_id}",
  tags: ["documents"],
  summary: "Create or replace the document with your own id (same bodies as upload)",
  description:
    "New id: version 1 is queued (201). The same bytes, title and metadata as the latest version: 200, nothing changes. " +
    "Anything else: a new version is queued (202) while the current one keeps answering; once processed it replaces " +
    "the current one in search in one step (never both, never neither), the old chunks, vectors and original are " +
    "removed, and `document.updated` is sent. Concurrent PUTs of one id end with the last one's content.",
  security: bearerSecurity,
  middleware: [requireKey("ingest"), uploadBody({ textAt: ["text"] })] as const,
  request: {
    params: ExternalDocumentParams,
    body: uploadBodies,
  },
  responses: {
    201: { description: "Created: version 1 is queued", content: { "application/json": { schema: DocumentSchema } } },
    202: {
      description: "A new version is queued; the current one answers until it is ready",
      content: { "application/json": { schema: DocumentSchema } },
    },
    200: { description: "Unchanged", content: { "application/json": { schema: DocumentSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

documents.openapi(put, async (c) => {
  const { id, external_id } = c.req.valid("param");
  const multipart = (c.req.header("content-type") ?? "").toLowerCase().startsWith("multipart/");
  const doc = uploadFrom(multipart ? c.req.valid("form") : c.req.valid("json"), uploadedText(c));
  const result = await c.var.services.documents.upsert(keyOf(c.var.principal), id, external_id, doc);
  return result.status === 200
    ? c.json(result.document, 200)
    : result.status === 201
      ? c.json(result.document, 201)
      : c.json(result.document, 202);
});

const getExternal = createRoute({
  method: "get",
  operationId: "getExternalDocument",
  path: "/v1/collections/{id}/documents/external/{external_id}",
  tags: ["documents"],
  summary: "The current document with your own id",
  security: bearerSecurity,
  middleware: [requireKey("query", "ingest")] as const,
  request: { params: ExternalDocumentParams },
  responses: {
    200: { description: "The current version", content: { "application/json": { schema: DocumentSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

documents.openapi(getExternal, async (c) => {
  const { id, external_id } = c.req.valid("param");
  return c.json(await c.var.services.documents.getExternal(keyOf(c.var.principal), id, external_id), 200);
});

const deleteExternal = createRoute({
  method: "delete",
  operationId: "deleteExternalDocument",
  path: "/v1/collections/{id}/documents/external/{external_id}",
  tags: ["documents"],
  summary: "Delete the document with your own id, every version",
  security: bearerSecurity,
  middleware: [requireKey("ingest")] as const,
  request: { params: ExternalDocumentParams },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});

documents.openapi(deleteExternal, async (c) => {
  const { id, external_id } = c.req.valid("param");
  await c.var.services.documents.deleteExternal(keyOf(c.var.principal), id, external_id);
  return c.body(null, 204);
});

const batch = createRoute({
  method: "post",
  operationId: "uploadDocuments",
  path: "/v1/collections/{id}/documents/batch",
  tags: ["documents"],
  summary: `Upload up to ${MAX_BATCH_DOCUMENTS} JSON documents (default priority low); one result each`,
  security: bearerSecurity,
  middleware: [requireKey("ingest"), uploadBody({ textAt: ["documents", "*", "text"] })] as const,
  request: {
    params: CollectionIdParam,
    body: { required: true, content: { "application/json": { schema: BatchDocumentsBody } } },
  },
  responses: {
    202: {
      description: "Per-document results, in order",
      content: { "application/json": { schema: BatchResultSchema } },
    },
    ...commonErrors,
    ...notFound,
  },
});

documents.openapi(batch, async (c) => {
  const collectionId = c.req.valid("param").id;
  const principal = keyOf(c.var.principal);
  const uploads = c.req.valid("json").documents.map((document, index) => textUpload(document, uploadedText(c, index)));
  // Each entry stands alone: what was accepted stays accepted, and says so.
  const items = (await c.var.services.documents.uploadMany(principal, collectionId, uploads)).map((result, index) =>
    "error" in result
      ? { index, error: { code: result.error.code, detail: result.error.message } }
      : { index, document: { ...result.document, deduplicated: result.deduplicated } },
  );
  return c.json({ items }, 202);
});

const get = createRoute({
  method: "get",
  operationId: "getDocument",
  path: "/v1/documents/{id}",
  tags: ["documents"],
  summary: "A document's metadata and processing status",
  security: bearerSecurity,
  middleware: [requireKey("query", "ingest")] as const,
  request: { params: DocumentIdParam },
  responses: {
    200: { description: "The document", content: { "application/json": { schema: DocumentSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

documents.openapi(get, async (c) => {
  return c.json(await c.var.services.documents.get(keyOf(c.var.principal), c.req.valid("param").id), 200);
});

const list = createRoute({
  method: "get",
  operationId: "listDocuments",
  path: "/v1/collections/{id}/documents",
  tags: ["documents"],
  summary: "A collection's documents, newest first (cursor paging)",
  security: bearerSecurity,
  middleware: [requireKey("query", "ingest")] as const,
  request: { params: CollectionIdParam, query: PageQuery },
  responses: {
    200: { description: "A page of documents", content: { "application/json": { schema: DocumentListSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

documents.openapi(list, async (c) => {
  const page = await c.var.services.documents.list(
    keyOf(c.var.principal),
    c.req.valid("param").id,
    c.req.valid("query"),
  );
  return c.json(page, 200);
});

const remove = createRoute({
  method: "delete",
  operationId: "deleteDocument",
  path: "/v1/documents/{id}",
  tags: ["documents"],
  summary: "Delete a document, its chunks and its original",
  security: bearerSecurity,
  middleware: [requireKey("ingest")] as const,
  request: { params: DocumentIdParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});

documents.openapi(remove, async (c) => {
  await c.var.services.documents.delete(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});
