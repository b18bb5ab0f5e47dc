import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { bearerSecurity, commonErrors, conflict, notFound } from "../schemas/common";
import { PutSecretBody, SecretListSchema, SecretNameParam } from "../schemas/secrets";
import { createRoute } from "./route";

/** Tenant provider secrets (scope `admin`): write-only values, readable names. */
export const secrets = new OpenAPIHono<AppEnv>();

const put = createRoute({
  method: "put",
  operationId: "putSecret",
  path: "/v1/secrets/{name}",
  tags: ["secrets"],
  summary: "Store (or replace) a secret, encrypted; it is never returned",
  security: bearerSecurity,
  middleware: [requireKey("admin"), jsonBody({ maxBytes: 16_384 })] as const,
  request: {
    params: SecretNameParam,
    body: { required: true, content: { "application/json": { schema: PutSecretBody } } },
  },
  responses: { 204: { description: "Stored" }, ...commonErrors, ...conflict },
});

secrets.openapi(put, async (c) => {
  const { name } = c.req.valid("param");
  const { value } = c.req.valid("json");
  await c.var.services.secrets.put(keyOf(c.var.principal), { name, value });
  return c.body(null, 204);
});

const list = createRoute({
  method: "get",
  operationId: "listSecrets",
  path: "/v1/secrets",
  tags: ["secrets"],
  summary: "List secret names and key versions (never values)",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  responses: {
    200: { description: "Secrets by name", content: { "application/json": { schema: SecretListSchema } } },
    ...commonErrors,
  },
});

secrets.openapi(list, async (c) => {
  return c.json({ items: await c.var.services.secrets.list(keyOf(c.var.principal)) }, 200);
});

const remove = createRoute({
  method: "delete",
  operationId: "deleteSecret",
  path: "/v1/secrets/{name}",
  tags: ["secrets"],
  summary: "Delete a secret",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  request: { params: SecretNameParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});

secrets.openapi(remove, async (c) => {
  await c.var.services.secrets.delete(keyOf(c.var.principal), c.req.valid("param").name);
  return c.body(null, 204);
});
