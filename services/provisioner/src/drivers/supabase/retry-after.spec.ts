import { backoffMs, retryAfterMs } from './retry-after.js';

const headers = (values: Record<string, string>) => new Headers(values);
const now = Date.parse('2026-06-01T12:00:00Z');

describe('retryAfterMs', () => {
  it('reads X-RateLimit-Reset as seconds from now, epoch seconds or epoch milliseconds', () => {
    expect(retryAfterMs(headers({ 'x-ratelimit-reset': '2' }), now)).toBe(2000);
    expect(retryAfterMs(headers({ 'x-ratelimit-reset': String(now / 1000 + 3) }), now)).toBe(3000);
    expect(retryAfterMs(headers({ 'x-ratelimit-reset': String(now + 1500) }), now)).toBe(1500);
    expect(retryAfterMs(headers({ 'x-ratelimit-reset': String(now / 1000 - 10) }), now)).toBe(0);
  });

  it('falls back to Retry-After (seconds or a date), and says nothing when neither is there', () => {
    expect(retryAfterMs(headers({ 'retry-after': '4' }), now)).toBe(4000);
    expect(retryAfterMs(headers({ 'retry-after': new Date(now + 5000).toUTCString() }), now)).toBe(5000);
    expect(retryAfterMs(headers({ 'x-ratelimit-reset': 'soon', 'retry-after': '1' }), now)).toBe(1000);
    expect(retryAfterMs(headers({}), now)).toBeNull();
  });
});

describe('backoffMs', () => {
  it('doubles from the base, capped', () => {
    expect([1, 2, 3, 4, 10].map((attempt) => backoffMs(attempt, 500, 3000))).toEqual([500, 1000, 2000, 3000, 3000]);
  });
});
