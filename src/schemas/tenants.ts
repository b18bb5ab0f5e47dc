import { z } from "@hono/zod-openapi";
import { IsoDate, SCOPES } from "./common";

const TierName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/)
  .openapi({ description: "A rate tier of RATE_LIMIT_TIERS", example: "standard" });

export const TenantIdParam = z.object({
  id: z
    .string()
    .regex(/^ten_[A-Za-z0-9_-]{1,64}$/, "must be a tenant id")
    .openapi({ param: { name: "id", in: "path" } }),
});

export const CreateTenantBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    max_rate_tier: TierName.optional().openapi({
      description: "The fastest tier the tenant's keys may use (default RATE_LIMIT_DEFAULT_TIER)",
    }),
  })
  .strict()
  .openapi("CreateTenant");

export const UpdateTenantBody = z
  .object({
    max_rate_tier: TierName.openapi({
      description: "The fastest tier the tenant's keys may use; keys on faster tiers move down to it",
    }),
  })
  .strict()
  .openapi("UpdateTenant");

export const TenantSchema = z
  .object({ id: z.string(), name: z.string(), max_rate_tier: z.string(), created_at: IsoDate })
  .openapi("Tenant");

export const CreatedTenantSchema = z
  .object({
    tenant: TenantSchema,
    api_key: z.object({ id: z.string(), key: z.string(), scopes: z.array(z.enum(SCOPES)) }),
  })
  .openapi("CreatedTenant");

export type CreateTenantInput = z.infer<typeof CreateTenantBody>;
export type UpdateTenantInput = z.infer<typeof UpdateTenantBody>;
export type TenantView = z.infer<typeof TenantSchema>;
