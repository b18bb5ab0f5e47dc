import { type DataPoint, MAX_POINTS } from "../../telemetry/analytics-schema";
import { isolateMetrics } from "../../telemetry/metrics";
import type { AnalyticsDataset } from "./interface";

/**
 * Writes an invocation's data points to the dataset (fire and forget, as the binding is), at most
 * `MAX_POINTS`; a binding that throws loses the points, never the request.
 */
export function writePoints(dataset: AnalyticsDataset | undefined, points: DataPoint[]): void {
  const stats = isolateMetrics.analytics;
  if (!dataset) {
    return;
  }
  for (const [i, point] of points.entries()) {
    if (i >= MAX_POINTS) {
      stats.pointsDropped += points.length - MAX_POINTS;
      return;
    }
    try {
      dataset.writeDataPoint(point);
      stats.pointsWritten++;
    } catch {
      stats.pointsDropped++;
    }
  }
}
