import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { PageQuery } from "../schemas/collections";
import { bearerSecurity, commonErrors, conflict, notFound } from "../schemas/common";
import {
  CreateWebhookBody,
  DeliveryListSchema,
  DeliveryParams,
  DeliverySchema,
  WebhookIdParam,
  WebhookListSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
} from "../schemas/webhooks";
import { createRoute } from "./route";

/** Outbound webhooks (an unrestricted admin key): endpoints, secrets, deliveries. */
export const webhooks = new OpenAPIHono<AppEnv>();

const json = <T>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const base = { tags: ["webhooks"], security: bearerSecurity };

const create = createRoute({
  ...base,
  method: "post",
  operationId: "createWebhook",
  path: "/v1/webhooks",
  summary: "Register an https endpoint for event types; the signing secret is shown once",
  middleware: [requireKey("admin"), jsonBody({ maxBytes: 8_192 })] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateWebhookBody } } } },
  responses: { 201: json(WebhookWithSecretSchema, "The endpoint and its secret"), ...commonErrors, ...conflict },
});
webhooks.openapi(create, async (c) =>
  c.json(await c.var.services.webhooks.create(keyOf(c.var.principal), c.req.valid("json")), 201),
);

const list = createRoute({
  ...base,
  method: "get",
  operationId: "listWebhooks",
  path: "/v1/webhooks",
  summary: "The tenant's endpoints, newest first",
  middleware: [requireKey("admin")] as const,
  responses: { 200: json(WebhookListSchema, "Endpoints"), ...commonErrors },
});
webhooks.openapi(list, async (c) => c.json(await c.var.services.webhooks.list(keyOf(c.var.principal)), 200));

const get = createRoute({
  ...base,
  method: "get",
  operationId: "getWebhook",
  path: "/v1/webhooks/{id}",
  summary: "An endpoint (never its secret)",
  middleware: [requireKey("admin")] as const,
  request: { params: WebhookIdParam },
  responses: { 200: json(WebhookSchema, "The endpoint"), ...commonErrors, ...notFound },
});
webhooks.openapi(get, async (c) =>
  c.json(await c.var.services.webhooks.get(keyOf(c.var.principal), c.req.valid("param").id), 200),
);

const remove = createRoute({
  ...base,
  method: "delete",
  operationId: "deleteWebhook",
  path: "/v1/webhooks/{id}",
  summary: "Delete an endpoint and its delivery log",
  middleware: [requireKey("admin")] as const,
  request: { params: WebhookIdParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});
webhooks.openapi(remove, async (c) => {
  await c.var.services.webhooks.delete(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});

const rotate = createRoute({
  ...base,
  method: "post",
  operationId: "rotateWebhookSecret",
  path: "/v1/webhooks/{id}/rotate-secret",
  summary: "A new signing secret; the old one keeps signing beside it for 24 h",
  middleware: [requireKey("admin")] as const,
  request: { params: WebhookIdParam },
  responses: { 200: json(WebhookWithSecretSchema, "The endpoint and its new secret"), ...commonErrors, ...notFound },
});
webhooks.openapi(rotate, async (c) =>
  c.json(await c.var.services.webhooks.rotateSecret(keyOf(c.var.principal), c.req.valid("param").id), 200),
);

const test = createRoute({
  ...base,
  method: "post",
  operationId: "testWebhook",
  path: "/v1/webhooks/{id}/test",
  summary: "Send a `webhook.test` event to this endpoint",
  middleware: [requireKey("admin")] as const,
  request: { params: WebhookIdParam },
  responses: { 202: json(DeliverySchema, "The delivery, queued"), ...commonErrors, ...notFound, ...conflict },
});
webhooks.openapi(test, async (c) =>
  c.json(await c.var.services.webhooks.test(keyOf(c.var.principal), c.req.valid("param").id), 202),
);

const deliveries = createRoute({
  ...base,
  method: "get",
  operationId: "listWebhookDeliveries",
  path: "/v1/webhooks/{id}/deliveries",
  summary: "Deliveries newest first: status, attempts, last response code and latency, next attempt",
  middleware: [requireKey("admin")] as const,
  request: { params: WebhookIdParam, query: PageQuery },
  responses: { 200: json(DeliveryListSchema, "A page of deliveries"), ...commonErrors, ...notFound },
});
webhooks.openapi(deliveries, async (c) =>
  c.json(
    await c.var.services.webhooks.deliveries(keyOf(c.var.principal), c.req.valid("param").id, c.req.valid("query")),
    200,
  ),
);

const retry = createRoute({
  ...base,
  method: "post",
  operationId: "retryWebhookDelivery",
  path: "/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
  summary: "Attempt a delivery again now (its schedule starts over)",
  middleware: [requireKey("admin")] as const,
  request: { params: DeliveryParams },
  responses: { 202: json(DeliverySchema, "The delivery, queued"), ...commonErrors, ...notFound, ...conflict },
});
webhooks.openapi(retry, async (c) => {
  const { id, delivery_id } = c.req.valid("param");
  return c.json(await c.var.services.webhooks.retry(keyOf(c.var.principal), id, delivery_id), 202);
});
