/**
 * Spare Deno processes, started ahead of need so that a function's first request does not wait for Deno to
 * load supabase-js (DenoSpare). A small set of its own, at most `size`, beside the WorkerPool's serving
 * workers: a spare taken becomes a serving worker, inside the WorkerPool's bound, and another is started in
 * the background. Spares are started one at a time, never on a request's path: when none is ready the
 * request starts its worker cold at once. A spare that fails to start or dies before use is replaced after a
 * backoff (doubling up to `maxBackoffMs`), so a broken Deno does not spin.
 */
export interface Spare {
  readonly exited: boolean;
  onExit(listener: () => void): void;
  stop(): Promise<void>;
}

export interface SparePoolSettings {
  /** Spares kept ready; 0: none. */
  size: number;
  /** The wait after a failure, doubled at each failure in a row up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /**
   * When the replacement of a taken spare starts: `refill` calls `start` when it may begin (never before it
   * returns) and returns a function that cancels it (default: at once). Starting Deno takes a core for tens
   * of milliseconds, and a spare is taken while its build is busiest: the provisioner waits for a quiet
   * moment (CommandActivity).
   */
  refill?: (start: () => void) => () => void;
  /** Why a spare was lost, and when the next one starts. */
  warn(message: string): void;
}

export class SparePool<S extends Spare> {
  private readonly ready: S[] = [];
  private starting: AbortController | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** Cancels the replacement waiting to start, if any. */
  private refillPending: (() => void) | undefined;
  /** Failures since a spare was last used: the backoff's exponent. */
  private failures = 0;
  private closed = false;

  constructor(
    private readonly settings: SparePoolSettings,
    /** Starts one spare, resolving once it is ready; the signal aborts (and kills) it. */
    private readonly start: (signal: AbortSignal) => Promise<S>,
  ) {}

  /** Spares ready now. */
  get size(): number {
    return this.ready.length;
  }

  /** Starts spares in the background up to `size` (one at a time); returns at once. */
  fill(): void {
    if (this.closed || this.starting || this.retry || this.ready.length >= this.settings.size) return;
    const controller = new AbortController();
    this.starting = controller;
    void this.startOne(controller.signal).finally(() => {
      this.starting = undefined;
      this.fill();
    });
  }

  /** A ready spare, now the caller's to run or stop; undefined when none is ready (never waits for one). */
  take(): S | undefined {
    let spare = this.ready.shift();
    while (spare?.exited) spare = this.ready.shift();
    if (spare) this.failures = 0;
    const refill = this.settings.refill;
    if (!refill) this.fill();
    else
      this.refillPending ??= refill(() => {
        this.refillPending = undefined;
        this.fill();
      });
    return spare;
  }

  /** Stops the spares, and the one being started. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.refillPending?.();
    this.starting?.abort();
    await Promise.allSettled(this.ready.splice(0).map((spare) => spare.stop()));
  }

  private async startOne(signal: AbortSignal): Promise<void> {
    let spare: S;
    try {
      spare = await this.start(signal);
    } catch (error) {
      if (!this.closed) this.failed(`a spare did not start: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (this.closed) {
      await spare.stop();
      return;
    }
    this.ready.push(spare);
    spare.onExit(() => {
      const at = this.ready.indexOf(spare);
      // Taken (its user's now) or stopped by close().
      if (at === -1 || this.closed) return;
      this.ready.splice(at, 1);
      this.failed('a spare exited before use');
    });
  }

  private failed(why: string): void {
    this.failures++;
    if (this.retry) return;
    const delay = Math.min(this.settings.backoffMs * 2 ** (this.failures - 1), this.settings.maxBackoffMs);
    this.settings.warn(`${why}; the next spare starts in ${delay} ms`);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.fill();
    }, delay);
    this.retry.unref();
  }
}
