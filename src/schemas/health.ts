import { z } from "@hono/zod-openapi";

export const LiveSchema = z.object({ status: z.literal("ok") }).openapi("Live");

export const CheckSchema = z.object({
  status: z.enum(["ok", "degraded", "down"]),
  latency_ms: z.number(),
  provider: z.string().optional(),
  error: z.string().optional(),
});

export const ReadySchema = z
  .object({ status: z.enum(["ready", "not_ready"]), checks: z.record(z.string(), CheckSchema) })
  .openapi("Ready");

export const DetailedSchema = z
  .object({
    status: z.enum(["ok", "degraded", "down"]),
    components: z.record(z.string(), CheckSchema),
    providers: z.record(z.string(), z.string()),
    config_problems: z.array(z.object({ setting: z.string(), message: z.string() })),
  })
  .openapi("HealthDetailed");
