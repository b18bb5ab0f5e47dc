import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { requireOperator } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { commonErrors, notFound, operatorSecurity } from "../schemas/common";
import { ReencryptResultSchema } from "../schemas/secrets";
import {
  CreatedTenantSchema,
  CreateTenantBody,
  TenantIdParam,
  TenantSchema,
  UpdateTenantBody,
} from "../schemas/tenants";
import { createRoute } from "./route";

/** Operator routes (ADMIN_TOKEN): tenant provisioning and key-ring maintenance. */
export const admin = new OpenAPIHono<AppEnv>();

const createTenantRoute = createRoute({
  method: "post",
  operationId: "createTenant",
  path: "/v1/admin/tenants",
  tags: ["admin"],
  summary: "Create a tenant and its first admin API key",
  security: operatorSecurity,
  middleware: [requireOperator(), jsonBody()] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateTenantBody } } } },
  responses: {
    201: {
      description: "Created; `api_key.key` is shown only now",
      content: { "application/json": { schema: CreatedTenantSchema } },
    },
    ...commonErrors,
  },
});

admin.openapi(createTenantRoute, async (c) => c.json(await c.var.services.tenants.create(c.req.valid("json")), 201));

const updateTenantRoute = createRoute({
  method: "patch",
  operationId: "updateTenant",
  path: "/v1/admin/tenants/{id}",
  tags: ["admin"],
  summary: "Change what a tenant is granted (its fastest rate tier)",
  security: operatorSecurity,
  middleware: [requireOperator(), jsonBody()] as const,
  request: {
    params: TenantIdParam,
    body: { required: true, content: { "application/json": { schema: UpdateTenantBody } } },
  },
  responses: {
    200: { description: "Updated", content: { "application/json": { schema: TenantSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

admin.openapi(updateTenantRoute, async (c) =>
  c.json(await c.var.services.tenants.update(c.req.valid("param").id, c.req.valid("json")), 200),
);

const reencryptRoute = createRoute({
  method: "post",
  operationId: "reencryptSecrets",
  path: "/v1/admin/secrets/re-encrypt",
  tags: ["admin"],
  summary: "Re-seal every tenant secret under the newest ENCRYPTION_KEYS key",
  security: operatorSecurity,
  middleware: [requireOperator()] as const,
  responses: {
    200: { description: "Done", content: { "application/json": { schema: ReencryptResultSchema } } },
    ...commonErrors,
  },
});

admin.openapi(reencryptRoute, async (c) => c.json(await c.var.services.secrets.reencryptAll(), 200));
