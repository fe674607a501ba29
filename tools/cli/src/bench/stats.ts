import { percentile } from '../bench-realtime.js';

/** A distribution of samples (ms unless said otherwise), nearest-rank percentiles. */
export interface Distribution {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function distribution(values: number[]): Distribution {
  return {
    samples: values.filter((value) => Number.isFinite(value)).length,
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    p99: percentile(values, 0.99),
    max: percentile(values, 1),
  };
}

/** How many per second, for `count` things in `elapsedMs`. */
export function perSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : Number.NaN;
}

/** a / b, or NaN when b is not a positive number (a floor that could not be measured). */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN;
}
