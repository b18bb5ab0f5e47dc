import type { DataPoint } from "../../telemetry/analytics-schema";
import type { AnalyticsDataset } from "./interface";

/** A row as the SQL API shows it: timestamp, index1, blob1…, double1…, _sample_interval. */
export type AnalyticsRow = Record<string, string | number>;

/**
 * Analytics Engine in memory (tests, and the stand-in for the ops queries): keeps each written
 * point as the row the SQL API would return, with `_sample_interval` 1 (nothing sampled away).
 */
export class MemoryAnalytics implements AnalyticsDataset {
  readonly rows: AnalyticsRow[] = [];
  constructor(private readonly now: () => number = Date.now) {}

  writeDataPoint(point: DataPoint): void {
    const row: AnalyticsRow = { timestamp: this.now() / 1_000, _sample_interval: 1, index1: point.indexes[0] ?? "" };
    for (let i = 0; i < 20; i++) {
      row[`blob${i + 1}`] = point.blobs[i] ?? "";
      row[`double${i + 1}`] = point.doubles[i] ?? 0;
    }
    this.rows.push(row);
  }
}
