/**
 * An OpenTelemetry collector stand-in: OTLP/HTTP with the JSON encoding on `POST /v1/traces`,
 * checked as a collector would (hex ids of the right length, nanosecond times, known span kinds),
 * with a bearer key required so that the exporter's headers are tested too. `GET /_spans?trace=`
 * lists what arrived for a trace, flattened, with the resource's attributes.
 */
import { createServer } from "node:http";
import { listen, readJson, sendJson } from "../node-http";

export const OTLP_TEST_KEY = "otlp-test-key";

interface AnyValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: AnyValue }>;
  status: { code: number };
  links?: Array<{ traceId: string; spanId: string }>;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  status: number;
  attributes: Record<string, string | number | boolean>;
  links: Array<{ traceId: string; spanId: string }>;
  resource: Record<string, string | number | boolean>;
}

const flatten = (attributes: Array<{ key: string; value: AnyValue }>) =>
  Object.fromEntries(
    attributes.map(({ key, value }) => [
      key,
      value.stringValue ??
        (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue ?? "")),
    ]),
  );

function invalid(span: OtlpSpan): string | undefined {
  if (!/^[0-9a-f]{32}$/.test(span.traceId) || /^0+$/.test(span.traceId)) {
    return "traceId";
  }
  if (!/^[0-9a-f]{16}$/.test(span.spanId)) {
    return "spanId";
  }
  if (span.parentSpanId !== undefined && !/^[0-9a-f]{16}$/.test(span.parentSpanId)) {
    return "parentSpanId";
  }
  if (!/^\d+$/.test(span.startTimeUnixNano) || !/^\d+$/.test(span.endTimeUnixNano)) {
    return "times";
  }
  if (BigInt(span.endTimeUnixNano) < BigInt(span.startTimeUnixNano)) {
    return "end before start";
  }
  if (![1, 2, 3, 4, 5].includes(span.kind)) {
    return "kind";
  }
  if (typeof span.name !== "string" || span.name === "") {
    return "name";
  }
  return undefined;
}

export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  let rejected = 0;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://collector");
    if (req.method === "GET" && url.pathname === "/_spans") {
      const trace = url.searchParams.get("trace");
      const linked = url.searchParams.get("linked");
      const matching = spans.filter(
        (s) => (!trace || s.traceId === trace) && (!linked || s.links.some((link) => link.traceId === linked)),
      );
      return sendJson(res, 200, { spans: matching, rejected });
    }
    if (req.method !== "POST" || url.pathname !== "/v1/traces") {
      return sendJson(res, 404, { message: "not found" });
    }
    if (req.headers.authorization !== `Bearer ${OTLP_TEST_KEY}`) {
      rejected++;
      return sendJson(res, 401, { message: "missing or wrong key" });
    }
    if (!String(req.headers["content-type"]).startsWith("application/json")) {
      rejected++;
      return sendJson(res, 415, { message: "json only" });
    }
    const body = (await readJson(req)) as {
      resourceSpans: Array<{
        resource: { attributes: Array<{ key: string; value: AnyValue }> };
        scopeSpans: Array<{ spans: OtlpSpan[] }>;
      }>;
    };
    for (const resourceSpans of body.resourceSpans) {
      const resource = flatten(resourceSpans.resource.attributes);
      for (const scope of resourceSpans.scopeSpans) {
        for (const span of scope.spans) {
          const problem = invalid(span);
          if (problem) {
            rejected++;
            return sendJson(res, 400, { message: `invalid span: ${problem}` });
          }
          spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId,
            name: span.name,
            kind: span.kind,
            startMs: Number(BigInt(span.startTimeUnixNano) / 1_000_000n),
            endMs: Number(BigInt(span.endTimeUnixNano) / 1_000_000n),
            status: span.status.code,
            attributes: flatten(span.attributes),
            links: span.links ?? [],
            resource,
          });
        }
      }
    }
    return sendJson(res, 200, { partialSuccess: {} });
  });
  return listen(server);
}
