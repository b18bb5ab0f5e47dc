import type { DataPoint } from "../../telemetry/analytics-schema";
import type { SpanRecord } from "../../telemetry/span";

/** Where finished spans go (an OTLP collector). Never throws: failures are counted and dropped. */
export interface SpanExporter {
  export(spans: SpanRecord[]): Promise<void>;
}

/** Workers Analytics Engine's dataset binding, as much of it as we use. */
export interface AnalyticsDataset {
  writeDataPoint(point: DataPoint): void;
}
