import type { DataPoint } from "../../lib/analytics-schema";
import type { SpanRecord } from "../../lib/telemetry";

/** Where finished spans go (an OTLP collector). Never throws: failures are counted and dropped. */
export interface SpanExporter {
  export(spans: SpanRecord[]): Promise<void>;
}

/** Workers Analytics Engine's dataset binding, as much of it as we use. */
export interface AnalyticsDataset {
  writeDataPoint(point: DataPoint): void;
}
