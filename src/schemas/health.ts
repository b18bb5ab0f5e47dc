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

const Latency = {
  p50_ms: z.number().nullable(),
  p95_ms: z.number().nullable(),
  p99_ms: z.number().nullable(),
};

/** This isolate's live metrics since it started (fleet-wide figures are in Analytics Engine). */
export const MetricsSnapshotSchema = z
  .object({
    since: z.string().openapi({ description: "When this isolate started counting" }),
    dependencies: z.record(
      z.string(),
      z.object({
        in_flight: z.number().int(),
        peak_in_flight: z.number().int(),
        calls: z.number().int(),
        errors: z.record(z.string(), z.number().int()).openapi({ description: "Failed calls by kind" }),
        timeouts: z.number().int(),
        retries: z.number().int(),
        rows_read: z.number().int(),
        rows_written: z.number().int(),
        mean_ms: z.number().nullable(),
        max_ms: z.number(),
        ...Latency,
      }),
    ),
    routes: z.record(
      z.string(),
      z.object({
        requests: z.number().int(),
        errors: z.record(z.string(), z.number().int()).openapi({ description: "Error responses by problem code" }),
        ...Latency,
      }),
    ),
    limiter_fail_open: z.number().int(),
    tracing: z.object({
      spans_exported: z.number().int(),
      spans_dropped: z.number().int(),
      export_failures: z.number().int(),
      last_failure: z.string().nullable(),
    }),
    analytics: z.object({ points_written: z.number().int(), points_dropped: z.number().int() }),
  })
  .openapi("MetricsSnapshot");

export const DetailedSchema = z
  .object({
    status: z.enum(["ok", "degraded", "down"]),
    components: z.record(z.string(), CheckSchema),
    providers: z.record(z.string(), z.string()),
    config_problems: z.array(z.object({ setting: z.string(), message: z.string() })),
    metrics: MetricsSnapshotSchema,
  })
  .openapi("HealthDetailed");
