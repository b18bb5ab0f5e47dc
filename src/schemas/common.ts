import { z } from "@hono/zod-openapi";
import { ERROR_CODES } from "../errors";

/** What a key may do: `admin` (the tenant administrator) includes the other two. */
export const SCOPES = ["query", "ingest", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      description: "The error code's documentation page",
      example: "https://edgerag.example.com/docs/errors/rate_limited",
    }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODES as [string, ...string[]]),
    request_id: z.string(),
    trace_id: z
      .string()
      .optional()
      .openapi({ description: "The W3C trace id of this request (the `traceparent` it continued, or a new one)" }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    see: z
      .array(z.object({ guide: z.string(), section: z.string().nullable() }))
      .optional()
      .openapi({
        description:
          "The guide sections (docs/*.md) that best match this error on this route, found by EdgeRAG's own search; ask more at GET /v1/help",
      }),
  })
  .openapi("Problem");

export const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

/** The error responses every authenticated /v1 route can give. */
export const commonErrors = {
  400: problem("Malformed request (bad JSON, bad header)"),
  401: problem("Missing or invalid credentials"),
  403: problem("The key lacks the scope or collection"),
  413: problem("Body over the route's limit"),
  415: problem("Unsupported content type"),
  422: problem("Schema validation failed; one `errors[]` entry per issue"),
  429: problem("Rate limited; see Retry-After and RateLimit-* headers"),
  503: problem("A dependency or setting is unavailable"),
  504: problem("The request ran past its deadline"),
} as const;

export const notFound = { 404: problem("Not found (or another tenant's)") } as const;
export const conflict = { 409: problem("Conflict with current state") } as const;

export const IsoDate = z.string().openapi({ format: "date-time", example: "2026-11-22T10:00:00.000Z" });

export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export const bearerSecurity = [{ bearer: [] }];
export const operatorSecurity = [{ operator: [] }];
/** No credentials at all, said explicitly so that a client generator does not assume any. */
export const publicRoute: Array<Record<string, string[]>> = [];
