/**
 * Mergeable latency histograms: log-spaced buckets, bucket i holding [1.2^i, 1.2^(i+1)) ms (bucket
 * 0 also everything under 1 ms). Adding two histograms is adding their counts, so a period's
 * percentiles come exactly from its hourly or daily rows, to within one bucket (±20 %) of a
 * recompute over the raw values. The same formula runs in SQL (`BUCKET_SQL`) and here.
 */
export const GROWTH = 1.2;

export type Histogram = Record<string, number>;

export function bucketOf(ms: number): number {
  return ms < GROWTH ? 0 : Math.floor(Math.log(ms) / Math.log(GROWTH));
}

/** Upper bound of a bucket, in ms (what a percentile in it is reported as). */
export function bucketUpper(index: number): number {
  return GROWTH ** (index + 1);
}

/** The same bucket formula in SQLite (math functions), over a millisecond expression. */
export const bucketSql = (ms: string) =>
  `CASE WHEN ${ms} < ${GROWTH} THEN 0 ELSE CAST(floor(ln(${ms}) / ln(${GROWTH})) AS INTEGER) END`;

export function merge(into: Histogram, add: Histogram): Histogram {
  for (const [bucket, count] of Object.entries(add)) {
    into[bucket] = (into[bucket] ?? 0) + count;
  }
  return into;
}

/** The p-th percentile (0–100) as its bucket's upper bound, rounded to 0.1 ms; null when empty. */
export function percentile(histogram: Histogram, p: number): number | null {
  const buckets = Object.entries(histogram)
    .map(([b, n]) => [Number(b), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) {
    return null;
  }
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [bucket, n] of buckets) {
    seen += n;
    if (seen >= rank) {
      return Math.round(bucketUpper(bucket) * 10) / 10;
    }
  }
  return null;
}
