import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";

export const MAX_DASHBOARD_DAYS = 90;

export const DashboardQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: "Default: `to` minus 7 days" }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: "Default: now" }),
  bucket: z.enum(["hour", "day"]).default("hour"),
  collection_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a collection id")
    .optional()
    .openapi({ description: "Query figures of one collection (documents too); top queries stay tenant-wide" }),
});
export type DashboardInput = z.infer<typeof DashboardQuery>;

const Modes = z.object({ fast: z.number().int(), balanced: z.number().int(), deep: z.number().int() });
const Percentiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });

export const DashboardSchema = z
  .object({
    from: IsoDate,
    to: IsoDate,
    bucket: z.enum(["hour", "day"]),
    as_of: IsoDate.openapi({
      description: "When these figures were computed: every query in the log by then is counted",
    }),
    rolled_up_to: IsoDate.nullable().openapi({
      description:
        "Up to when the rollup job (cron) has folded the query log (null before its first run); queries logged since are read from the log itself",
    }),
    totals: z.object({
      queries: z.number().int(),
      by_mode: Modes,
      cache_hit_rate: z.number().nullable(),
      degraded: z.number().int(),
      errors_by_code: z.record(z.string(), z.number().int()),
      rate_limited: z.number().int(),
      documents_by_status: z.record(z.string(), z.number().int()),
      chunks: z.number().int(),
      storage_bytes: z.number().int(),
      ingested_documents: z.number().int(),
      ingest_failures: z.number().int(),
      exports: z.number().int(),
      notifications: z.number().int(),
    }),
    latency_ms: z.object({ fast: Percentiles, balanced: Percentiles, deep: Percentiles }),
    series: z.array(
      z.object({
        t: IsoDate,
        queries: z.number().int(),
        by_mode: Modes,
        cache_hits: z.number().int(),
        errors: z.number().int(),
        rate_limited: z.number().int(),
        p50_ms: z.number().nullable(),
        p95_ms: z.number().nullable(),
        ingested_documents: z.number().int(),
      }),
    ),
    top_queries: z.array(z.object({ query: z.string(), count: z.number().int(), last_at: IsoDate })),
  })
  .openapi("Dashboard");
export type DashboardView = z.infer<typeof DashboardSchema>;
