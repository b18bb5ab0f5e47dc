import { z } from "@hono/zod-openapi";
import { IsoDate, SCOPES } from "./common";
import { MetadataExpression } from "./search";

const Scope = z.enum(SCOPES);
const CollectionId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a collection id");

export const KeyIdParam = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9]{16}$/, "must be an API key id")
    .openapi({ param: { name: "id", in: "path" } }),
});

export const CreateApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z
      .array(Scope)
      .min(1)
      .max(3)
      .refine((s) => new Set(s).size === s.length, "scopes must be unique")
      .openapi({ uniqueItems: true }),
    collection_ids: z.array(CollectionId).min(1).max(100).optional(),
    rate_tier: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/)
      .optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    filter: MetadataExpression.optional().openapi({
      description:
        "A metadata filter ANDed into every search and answer the key makes (and into the tokens it mints). A key created by a filtered key gets that key's filter ANDed too.",
    }),
  })
  .strict()
  .openapi("CreateApiKey");

export const RotateApiKeyBody = z
  .object({
    grace_seconds: z.number().int().min(0).max(604_800).default(3600),
  })
  .strict()
  .openapi("RotateApiKey");

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(Scope),
    collection_ids: z.array(z.string()).nullable(),
    filter: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: "The key's mandatory metadata filter; null: none" }),
    rate_tier: z.string(),
    expires_at: IsoDate.nullable(),
    last_used_at: IsoDate.nullable(),
    rotated_at: IsoDate.nullable(),
    previous_key_expires_at: IsoDate.nullable(),
    created_at: IsoDate,
  })
  .openapi("ApiKey");

export const ApiKeyWithSecretSchema = ApiKeySchema.extend({
  key: z
    .string()
    .openapi({ description: "The full key. Shown once; store it now.", example: "erk_3kP9x2LmQ7rT1vBz_…" }),
}).openapi("ApiKeyWithSecret");

export const ApiKeyListSchema = z.object({ items: z.array(ApiKeySchema) }).openapi("ApiKeyList");

export type CreateApiKeyInput = z.infer<typeof CreateApiKeyBody>;
export type ApiKeyView = z.infer<typeof ApiKeySchema>;

/** `GET /v1/whoami`: what the presented key is, from the verified key alone (no database read when warm). */
export const WhoAmISchema = z
  .object({
    tenant_id: z.string(),
    key_id: z.string(),
    scopes: z.array(Scope),
    collection_ids: z
      .array(z.string())
      .nullable()
      .openapi({ description: "The collections the key is restricted to; null: every collection" }),
    filter: z.record(z.string(), z.unknown()).nullable().openapi({
      description: "The metadata filter ANDed into everything this key or token searches or asks; null: none",
    }),
    rate_tier: z.string(),
    token_expires_at: IsoDate.optional().openapi({
      description: "Present for an end-user token: when it stops working",
    }),
  })
  .openapi("WhoAmI");
