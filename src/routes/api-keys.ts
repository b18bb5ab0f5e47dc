import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { toExpression } from "../lib/metadata-filter";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import {
  ApiKeyListSchema,
  ApiKeyWithSecretSchema,
  CreateApiKeyBody,
  KeyIdParam,
  RotateApiKeyBody,
  WhoAmISchema,
} from "../schemas/api-keys";
import { bearerSecurity, commonErrors, conflict, notFound, SCOPES } from "../schemas/common";
import { CreateTokenBody, TokenSchema } from "../schemas/tokens";
import { createRoute } from "./route";

/** Tenant API keys (scope `admin`). */
export const apiKeys = new OpenAPIHono<AppEnv>();

const create = createRoute({
  method: "post",
  operationId: "createApiKey",
  path: "/v1/api-keys",
  tags: ["api keys"],
  summary: "Create an API key; the secret is in the response, once",
  security: bearerSecurity,
  middleware: [requireKey("admin"), jsonBody()] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateApiKeyBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: ApiKeyWithSecretSchema } } },
    ...commonErrors,
    ...conflict,
  },
});

apiKeys.openapi(create, async (c) => {
  const key = await c.var.services.apiKeys.create(keyOf(c.var.principal), c.req.valid("json"));
  return c.json(key, 201);
});

const token = createRoute({
  method: "post",
  operationId: "createToken",
  path: "/v1/tokens",
  tags: ["api keys"],
  summary: "Mint a short-lived end-user token (ert_…) restricted to scopes, collections and a metadata filter",
  description:
    "For browsers and widgets: a signed token (≤ 24 h) that searches and asks with no more reach than the minting key — its scopes and collections at most, its metadata filter ANDed in. Verified without a database read; it stops working when it expires or when the minting key is deleted.",
  security: bearerSecurity,
  middleware: [requireKey("admin"), jsonBody()] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateTokenBody } } } },
  responses: {
    201: { description: "Minted", content: { "application/json": { schema: TokenSchema } } },
    ...commonErrors,
  },
});

apiKeys.openapi(token, async (c) => {
  return c.json(await c.var.services.apiKeys.mintToken(keyOf(c.var.principal), c.req.valid("json")), 201);
});

const whoami = createRoute({
  method: "get",
  operationId: "whoAmI",
  path: "/v1/whoami",
  tags: ["api keys"],
  summary: "The presented key: its tenant, id, scopes, collections and rate tier (any scope)",
  security: bearerSecurity,
  middleware: [requireKey(...SCOPES)] as const,
  responses: {
    200: { description: "The key", content: { "application/json": { schema: WhoAmISchema } } },
    ...commonErrors,
  },
});

apiKeys.openapi(whoami, (c) => {
  const principal = keyOf(c.var.principal);
  return c.json(
    {
      tenant_id: principal.tenantId,
      key_id: principal.keyId,
      scopes: principal.scopes,
      collection_ids: principal.collectionIds,
      filter: principal.filter ? toExpression(principal.filter) : null,
      rate_tier: principal.rateTier,
      ...(principal.token ? { token_expires_at: new Date(principal.token.expiresAt).toISOString() } : {}),
    },
    200,
  );
});

const list = createRoute({
  method: "get",
  operationId: "listApiKeys",
  path: "/v1/api-keys",
  tags: ["api keys"],
  summary: "List the tenant's API keys (never their secrets)",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  responses: {
    200: { description: "Keys, newest first", content: { "application/json": { schema: ApiKeyListSchema } } },
    ...commonErrors,
  },
});

apiKeys.openapi(list, async (c) => {
  const items = await c.var.services.apiKeys.list(keyOf(c.var.principal));
  return c.json({ items }, 200);
});

const rotate = createRoute({
  method: "post",
  operationId: "rotateApiKey",
  path: "/v1/api-keys/{id}/rotate",
  tags: ["api keys"],
  summary: "Issue a new secret; the old one works for grace_seconds (default 3600)",
  security: bearerSecurity,
  middleware: [requireKey("admin"), jsonBody({ optional: true })] as const,
  request: {
    params: KeyIdParam,
    body: { required: false, content: { "application/json": { schema: RotateApiKeyBody } } },
  },
  responses: {
    200: { description: "Rotated", content: { "application/json": { schema: ApiKeyWithSecretSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

apiKeys.openapi(rotate, async (c) => {
  const { id } = c.req.valid("param");
  const { grace_seconds } = c.req.valid("json");
  const key = await c.var.services.apiKeys.rotate(keyOf(c.var.principal), { id, graceSeconds: grace_seconds });
  return c.json(key, 200);
});

const revoke = createRoute({
  method: "delete",
  operationId: "revokeApiKey",
  path: "/v1/api-keys/{id}",
  tags: ["api keys"],
  summary: "Delete an API key; it stops working at once",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  request: { params: KeyIdParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});

apiKeys.openapi(revoke, async (c) => {
  await c.var.services.apiKeys.revoke(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});
