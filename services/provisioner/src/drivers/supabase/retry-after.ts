/**
 * How long a Management API response asks us to wait before trying again. Pure.
 *
 * `X-RateLimit-Reset` first (what Supabase's Management API sends with a 429): read as an epoch in
 * milliseconds when it is that large, as an epoch in seconds when it is that large, otherwise as seconds from
 * now; then `Retry-After` (seconds, or an HTTP date). Null when neither says; never negative.
 */
export function retryAfterMs(headers: { get(name: string): string | null }, nowMs: number): number | null {
  const reset = headers.get('x-ratelimit-reset');
  if (reset !== null && reset.trim() !== '' && Number.isFinite(Number(reset))) {
    const value = Number(reset);
    if (value > 1e12) return Math.max(0, Math.round(value - nowMs));
    if (value > 1e9) return Math.max(0, Math.round(value * 1000 - nowMs));
    return Math.max(0, Math.round(value * 1000));
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null && retryAfter.trim() !== '') {
    if (/^\d+(\.\d+)?$/.test(retryAfter.trim())) return Math.max(0, Math.round(Number(retryAfter) * 1000));
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - nowMs);
  }
  return null;
}

/** The delay before retry `attempt` (1 = first retry) after a server error: doubling from `baseMs`, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
