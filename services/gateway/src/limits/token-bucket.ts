/** How fast a bucket refills, and how much it holds. */
export interface BucketPolicy {
  /** Sustained rate: tokens added per minute. */
  perMinute: number;
  /** Capacity: the burst allowed after a quiet period. */
  burst: number;
}

export type Take = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Token buckets keyed by client (an address, a user), in memory. Pure apart from the clock, which is a
 * parameter. The least recently used keys are forgotten beyond `maxKeys`, so memory stays bounded whatever
 * the number of clients (a forgotten client starts again with a full bucket).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    private readonly policy: BucketPolicy,
    private readonly maxKeys = 100_000,
  ) {
    this.perMs = policy.perMinute / 60_000;
  }

  /** Takes one token for `key`; when there is none, says how long until there is. */
  take(key: string, now: number = Date.now()): Take {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
      bucket.tokens = Math.min(this.policy.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs);
      bucket.at = now;
    } else {
      bucket = { tokens: this.policy.burst, at: now };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    // Re-inserted: the map's order is the order of last use.
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  /** How many clients are remembered (tests). */
  get size(): number {
    return this.buckets.size;
  }
}
