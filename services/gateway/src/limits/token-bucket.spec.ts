import { TokenBuckets } from './token-bucket.js';

describe('TokenBuckets', () => {
  const T0 = 1_000_000;

  it('allows the burst at once, then refuses, saying when the next token comes', () => {
    const buckets = new TokenBuckets({ perMinute: 60, burst: 3 });
    expect([1, 2, 3].map(() => buckets.take('a', T0).allowed)).toEqual([true, true, true]);
    expect(buckets.take('a', T0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills at the sustained rate, never above the burst', () => {
    const buckets = new TokenBuckets({ perMinute: 6, burst: 2 });
    buckets.take('a', T0);
    buckets.take('a', T0);
    expect(buckets.take('a', T0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(buckets.take('a', T0 + 9_000).allowed).toBe(false);
    expect(buckets.take('a', T0 + 10_000).allowed).toBe(true);
    // A long pause refills to the burst, not beyond.
    expect([1, 2, 3].map(() => buckets.take('a', T0 + 3_600_000).allowed)).toEqual([true, true, false]);
  });

  it('keeps one bucket per key', () => {
    const buckets = new TokenBuckets({ perMinute: 1, burst: 1 });
    expect(buckets.take('a', T0).allowed).toBe(true);
    expect(buckets.take('a', T0).allowed).toBe(false);
    expect(buckets.take('b', T0).allowed).toBe(true);
  });

  it('remembers at most maxKeys clients, forgetting the least recently seen', () => {
    const buckets = new TokenBuckets({ perMinute: 1, burst: 1 }, 2);
    buckets.take('a', T0);
    buckets.take('b', T0);
    buckets.take('a', T0 + 1);
    buckets.take('c', T0 + 2);
    expect(buckets.size).toBe(2);
    // `a` was seen after `b`, so `b` was forgotten (and starts full again); `a` is still empty.
    expect(buckets.take('a', T0 + 3).allowed).toBe(false);
    expect(buckets.take('b', T0 + 3).allowed).toBe(true);
  });
});
