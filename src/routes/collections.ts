import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { chargeUnits } from "../middleware/rate-limit";
import {
  CollectionIdParam,
  CollectionListSchema,
  CollectionSchema,
  CreateCollectionBody,
  PageQuery,
  RebuildSchema,
} from "../schemas/collections";
import { bearerSecurity, commonErrors, conflict, notFound } from "../schemas/common";
import { createRoute } from "./route";

/** Collections: `ingest` to create and delete, `query` or `ingest` to read. */
export const collections = new OpenAPIHono<AppEnv>();

const json = (schema: typeof CollectionSchema | typeof CollectionListSchema, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const create = createRoute({
  method: "post",
  operationId: "createCollection",
  path: "/v1/collections",
  tags: ["collections"],
  summary: "Create a collection",
  security: bearerSecurity,
  middleware: [requireKey("ingest"), jsonBody()] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateCollectionBody } } } },
  responses: { 201: json(CollectionSchema, "Created"), ...commonErrors, ...conflict },
});

collections.openapi(create, async (c) => {
  return c.json(await c.var.services.collections.create(keyOf(c.var.principal), c.req.valid("json")), 201);
});

const list = createRoute({
  method: "get",
  operationId: "listCollections",
  path: "/v1/collections",
  tags: ["collections"],
  summary: "List collections, newest first (cursor paging)",
  security: bearerSecurity,
  middleware: [requireKey("query", "ingest")] as const,
  request: { query: PageQuery },
  responses: { 200: json(CollectionListSchema, "A page of collections"), ...commonErrors },
});

collections.openapi(list, async (c) => {
  return c.json(await c.var.services.collections.list(keyOf(c.var.principal), c.req.valid("query")), 200);
});

const get = createRoute({
  method: "get",
  operationId: "getCollection",
  path: "/v1/collections/{id}",
  tags: ["collections"],
  summary: "Get a collection",
  security: bearerSecurity,
  middleware: [requireKey("query", "ingest")] as const,
  request: { params: CollectionIdParam },
  responses: { 200: json(CollectionSchema, "The collection"), ...commonErrors, ...notFound },
});

collections.openapi(get, async (c) => {
  return c.json(await c.var.services.collections.get(keyOf(c.var.principal), c.req.valid("param").id), 200);
});

const remove = createRoute({
  method: "delete",
  operationId: "deleteCollection",
  path: "/v1/collections/{id}",
  tags: ["collections"],
  summary: "Delete a collection and everything in it",
  security: bearerSecurity,
  middleware: [requireKey("ingest")] as const,
  request: { params: CollectionIdParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});

collections.openapi(remove, async (c) => {
  await c.var.services.collections.delete(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});

const rebuild = createRoute({
  method: "post",
  operationId: "rebuildCollection",
  path: "/v1/collections/{id}/rebuild",
  tags: ["collections"],
  summary: "Rebuild the collection's search shard from the original files (repair)",
  description:
    "Every ready or failed document is queued again; the ingestion consumer re-reads its original from R2, " +
    "re-chunks and re-embeds it and rewrites the shard. Documents answer `queued`/`processing` until then. " +
    "While any document of the collection is queued or processing (a rebuild running, or an upload) the answer " +
    "is `409`. A rebuild costs one rate unit per document it queues, on top of the route's own (`429` before " +
    "anything is queued when the key's bucket cannot pay).",
  security: bearerSecurity,
  middleware: [requireKey("ingest")] as const,
  request: { params: CollectionIdParam },
  responses: {
    202: { description: "Queued for rebuilding", content: { "application/json": { schema: RebuildSchema } } },
    ...conflict,
    ...commonErrors,
    ...notFound,
  },
});

collections.openapi(rebuild, async (c) => {
  const charge = (units: number) => chargeUnits(c, units);
  return c.json(await c.var.services.ingest.rebuild(keyOf(c.var.principal), c.req.valid("param").id, charge), 202);
});
