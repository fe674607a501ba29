import { percentile, summarize } from './bench-realtime.js';

describe('latency summary', () => {
  it('takes nearest-rank percentiles and ignores samples that are not numbers', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.99)).toBe(99);
    expect(percentile([3, Number.NaN, 1, 2], 1)).toBe(3);
    expect(summarize([5, 1, 3])).toEqual({ samples: 3, p50: 3, p90: 5, p99: 5, max: 5 });
    expect(Number.isNaN(percentile([], 0.5))).toBe(true);
  });
});
