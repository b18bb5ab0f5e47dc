import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { PageQuery } from "../schemas/collections";
import { bearerSecurity, commonErrors, conflict, notFound, problem } from "../schemas/common";
import { CreateExportBody, ExportIdParam, ExportListSchema, ExportSchema } from "../schemas/exports";
import { createRoute } from "./route";

/** PDF exports of an answer, the dashboard or a document (an unrestricted admin key). */
export const exportsRoutes = new OpenAPIHono<AppEnv>();

const json = <T>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const base = { tags: ["exports"], security: bearerSecurity };

const create = createRoute({
  ...base,
  method: "post",
  operationId: "createExport",
  path: "/v1/exports",
  summary: "Queue a PDF of an answer (a logged query or a new one), the dashboard, or a document",
  middleware: [requireKey("admin"), jsonBody({ maxBytes: 16_384 })] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateExportBody } } } },
  responses: { 202: json(ExportSchema, "Queued; `export.ready` follows"), ...commonErrors, ...notFound },
});
exportsRoutes.openapi(create, async (c) =>
  c.json(await c.var.services.exports.create(keyOf(c.var.principal), c.req.valid("json")), 202),
);

const list = createRoute({
  ...base,
  method: "get",
  operationId: "listExports",
  path: "/v1/exports",
  summary: "The tenant's exports, newest first (cursor paging)",
  middleware: [requireKey("admin")] as const,
  request: { query: PageQuery },
  responses: { 200: json(ExportListSchema, "A page of exports"), ...commonErrors },
});
exportsRoutes.openapi(list, async (c) =>
  c.json(await c.var.services.exports.list(keyOf(c.var.principal), c.req.valid("query")), 200),
);

const get = createRoute({
  ...base,
  method: "get",
  operationId: "getExport",
  path: "/v1/exports/{id}",
  summary: "An export's status, pages and size",
  middleware: [requireKey("admin")] as const,
  request: { params: ExportIdParam },
  responses: { 200: json(ExportSchema, "The export"), ...commonErrors, ...notFound },
});
exportsRoutes.openapi(get, async (c) =>
  c.json(await c.var.services.exports.get(keyOf(c.var.principal), c.req.valid("param").id), 200),
);

const file = createRoute({
  ...base,
  method: "get",
  operationId: "getExportFile",
  path: "/v1/exports/{id}/file",
  summary: "The PDF (409 until ready, 410 once expired)",
  middleware: [requireKey("admin")] as const,
  request: { params: ExportIdParam },
  responses: {
    200: { description: "The PDF", content: { "application/pdf": { schema: { type: "string", format: "binary" } } } },
    ...commonErrors,
    ...notFound,
    ...conflict,
    410: problem("The export expired"),
  },
});
exportsRoutes.openapi(file, async (c) => {
  const { row, body, size } = await c.var.services.exports.file(keyOf(c.var.principal), c.req.valid("param").id);
  const name = `${row.title.replace(/[^\p{L}\p{N} ._-]+/gu, "").trim() || "export"}.pdf`;
  return c.body(body, 200, {
    "Content-Type": "application/pdf",
    "Content-Length": String(size),
    "Content-Disposition": `attachment; filename="${name.replace(/[^\x20-\x7e]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`,
  });
});

const remove = createRoute({
  ...base,
  method: "delete",
  operationId: "deleteExport",
  path: "/v1/exports/{id}",
  summary: "Delete an export and its file",
  middleware: [requireKey("admin")] as const,
  request: { params: ExportIdParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});
exportsRoutes.openapi(remove, async (c) => {
  await c.var.services.exports.delete(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});
