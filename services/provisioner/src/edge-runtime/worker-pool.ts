/**
 * The running Edge Function workers of this provisioner, bounded: at most `maxWorkers` processes, started on
 * the first request for a function and stopped after `idleMs` without one. When the pool is full, the worker
 * idle longest makes room: it is told to stop, and the new one starts without waiting for its exit (for a
 * moment the one leaving and the one starting both run). When every worker is busy, the request is refused
 * (503) rather than queued without bound. A redeployed function (a new version) gets a new worker; the old
 * one finishes its requests and stops.
 */
export interface PoolWorker {
  readonly exited: boolean;
  onExit(listener: () => void): void;
  stop(): Promise<void>;
}

export interface PoolSettings {
  maxWorkers: number;
  idleMs: number;
}

export class PoolFullError extends Error {
  override readonly name = 'PoolFullError';
}

interface Entry<W extends PoolWorker> {
  key: string;
  version: string;
  worker: W;
  inFlight: number;
  lastUsed: number;
  retiring: boolean;
}

export interface Lease<W> {
  readonly worker: W;
  /** Whether this request started the worker (a cold start). */
  readonly cold: boolean;
  release(): void;
}

export class WorkerPool<W extends PoolWorker> {
  private readonly entries = new Map<string, Entry<W>>();
  /** Workers of older versions, finishing their requests. */
  private readonly retiring = new Set<Entry<W>>();
  private readonly starting = new Map<string, Promise<Entry<W>>>();
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly settings: PoolSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.reaper = setInterval(() => void this.reap(), Math.max(250, Math.min(settings.idleMs / 2, 10_000)));
    this.reaper.unref();
  }

  /** Processes running now (serving and retiring). */
  get size(): number {
    return this.entries.size + this.retiring.size;
  }

  /**
   * Whether one more worker can start without stopping another (counting those being started), or, given
   * `quietMs`, by stopping one that has had no request for that long (the longest idle goes first).
   */
  hasRoom(quietMs?: number): boolean {
    if (this.size + this.starting.size < this.settings.maxWorkers) return true;
    if (quietMs === undefined) return false;
    const cutoff = this.now() - quietMs;
    return [...this.entries.values()].some((entry) => entry.inFlight === 0 && entry.lastUsed <= cutoff);
  }

  /** The worker of `key` at `version`, started by `start` when there is none (or an older one). */
  async acquire(key: string, version: string, start: () => Promise<W>): Promise<Lease<W>> {
    if (this.closed) throw new PoolFullError('the functions runtime is shutting down');
    const current = this.entries.get(key);
    if (current && current.version === version && !current.worker.exited) return this.lease(current, false);
    if (current) this.retire(current);

    const startKey = `${key}@${version}`;
    let pending = this.starting.get(startKey);
    const cold = !pending;
    if (!pending) {
      pending = this.startEntry(key, version, startKey, start);
      this.starting.set(startKey, pending);
      void pending.then(
        () => this.starting.delete(startKey),
        () => this.starting.delete(startKey),
      );
    }
    return this.lease(await pending, cold);
  }

  /** Stops every worker (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    const all = [...this.entries.values(), ...this.retiring];
    this.entries.clear();
    this.retiring.clear();
    await Promise.allSettled(all.map((entry) => entry.worker.stop()));
  }

  /** Stops workers idle for longer than `idleMs`, and retired ones that have finished. */
  async reap(): Promise<void> {
    const cutoff = this.now() - this.settings.idleMs;
    const idle = [...this.entries.values()].filter((entry) => entry.inFlight === 0 && entry.lastUsed <= cutoff);
    for (const entry of idle) this.entries.delete(entry.key);
    const done = [...this.retiring].filter((entry) => entry.inFlight === 0);
    for (const entry of done) this.retiring.delete(entry);
    await Promise.allSettled([...idle, ...done].map((entry) => entry.worker.stop()));
  }

  private async startEntry(key: string, version: string, startKey: string, start: () => Promise<W>): Promise<Entry<W>> {
    this.makeRoom(startKey);
    const worker = await start();
    const entry: Entry<W> = { key, version, worker, inFlight: 0, lastUsed: this.now(), retiring: false };
    if (this.closed) {
      await worker.stop();
      throw new PoolFullError('the functions runtime is shutting down');
    }
    const previous = this.entries.get(key);
    if (previous && previous !== entry) this.retire(previous);
    this.entries.set(key, entry);
    worker.onExit(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      this.retiring.delete(entry);
    });
    return entry;
  }

  /**
   * Room for one more (counting the other workers being started), the longest-idle worker stopped if need be;
   * else PoolFullError. The stop is not awaited: the exit of an idle Deno process took 12-18 ms of a function's
   * first start in a traced build, and nothing of the new worker depends on it.
   */
  private makeRoom(startKey: string): void {
    const others = [...this.starting.keys()].filter((other) => other !== startKey).length;
    while (this.size + others >= this.settings.maxWorkers) {
      const idle = [...this.entries.values()]
        .filter((entry) => entry.inFlight === 0)
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!idle) {
        throw new PoolFullError(`all ${this.settings.maxWorkers} function workers are busy; try again shortly`);
      }
      this.entries.delete(idle.key);
      void idle.worker.stop();
    }
  }

  private retire(entry: Entry<W>): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    entry.retiring = true;
    if (entry.inFlight === 0) void entry.worker.stop();
    else this.retiring.add(entry);
  }

  private lease(entry: Entry<W>, cold: boolean): Lease<W> {
    entry.inFlight++;
    entry.lastUsed = this.now();
    let released = false;
    return {
      worker: entry.worker,
      cold,
      release: () => {
        if (released) return;
        released = true;
        entry.inFlight--;
        entry.lastUsed = this.now();
        if (entry.retiring && entry.inFlight === 0) {
          this.retiring.delete(entry);
          void entry.worker.stop();
        }
      },
    };
  }
}
