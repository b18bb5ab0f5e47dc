import { z } from "@hono/zod-openapi";
import { SCOPES } from "../services/principal";
import { IsoDate } from "./common";

export const CreateTenantBody = z
  .object({ name: z.string().trim().min(1).max(100) })
  .strict()
  .openapi("CreateTenant");

export const TenantSchema = z.object({ id: z.string(), name: z.string(), created_at: IsoDate }).openapi("Tenant");

export const CreatedTenantSchema = z
  .object({
    tenant: TenantSchema,
    api_key: z.object({ id: z.string(), key: z.string(), scopes: z.array(z.enum(SCOPES)) }),
  })
  .openapi("CreatedTenant");
