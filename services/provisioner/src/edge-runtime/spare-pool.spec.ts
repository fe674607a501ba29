import { waitFor } from '../../../../test/support/index.js';
import { SparePool, type Spare } from './spare-pool.js';

/** A spare as the pool sees it: it can stop, or die. (The pool's own logic under test; no process.) */
class TestSpare implements Spare {
  exited = false;
  private readonly listeners: Array<() => void> = [];
  constructor(readonly id: number) {}
  onExit(listener: () => void) {
    if (this.exited) listener();
    else this.listeners.push(listener);
  }
  async stop() {
    this.die();
  }
  die() {
    if (this.exited) return;
    this.exited = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/** Starts spares on demand: each start waits until `release()` unless `instant`, or fails while `broken`. */
class Starter {
  started: TestSpare[] = [];
  running = 0;
  mostAtOnce = 0;
  aborted = 0;
  broken = false;
  instant = true;
  private releases: Array<() => void> = [];

  readonly start = async (signal: AbortSignal): Promise<TestSpare> => {
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      if (!this.instant) {
        await new Promise<void>((resolve, reject) => {
          this.releases.push(resolve);
          signal.addEventListener('abort', () => {
            this.aborted++;
            reject(new Error('aborted'));
          });
        });
      }
      if (this.broken) throw new Error('no deno here');
      const spare = new TestSpare(this.started.length + 1);
      this.started.push(spare);
      return spare;
    } finally {
      this.running--;
    }
  };

  release(): void {
    for (const release of this.releases.splice(0)) release();
  }
}

describe('SparePool', () => {
  let pools: Array<SparePool<TestSpare>> = [];
  let warnings: string[] = [];
  const pool = (starter: Starter, size: number, backoff = { backoffMs: 20, maxBackoffMs: 80 }) => {
    const made = new SparePool<TestSpare>({ size, ...backoff, warn: (m) => warnings.push(m) }, starter.start);
    pools.push(made);
    return made;
  };

  beforeEach(() => {
    warnings = [];
  });
  afterEach(async () => {
    await Promise.all(pools.map((p) => p.close()));
    pools = [];
  });

  it('keeps `size` spares ready, started one at a time, and starts another when one is taken', async () => {
    const starter = new Starter();
    const spares = pool(starter, 3);
    spares.fill();
    await waitFor(async () => spares.size === 3, { timeoutMs: 2000, what: 'three spares' });
    expect(starter.mostAtOnce).toBe(1);
    const taken = spares.take();
    expect(taken).toBe(starter.started[0]);
    await waitFor(async () => spares.size === 3, { timeoutMs: 2000, what: 'a new spare' });
    expect(starter.started).toHaveLength(4);
    expect(taken!.exited).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('starts the replacement of a taken spare when `refill` says, once for takes close together', async () => {
    const starter = new Starter();
    const waiting: Array<() => void> = [];
    let canceled = 0;
    const spares = new SparePool<TestSpare>(
      {
        size: 2,
        backoffMs: 20,
        maxBackoffMs: 80,
        refill: (start) => {
          waiting.push(start);
          return () => canceled++;
        },
        warn: (m) => warnings.push(m),
      },
      starter.start,
    );
    pools.push(spares);
    spares.fill();
    await waitFor(async () => spares.size === 2, { timeoutMs: 2000, what: 'two spares' });
    spares.take();
    spares.take();
    await new Promise((resolve) => setTimeout(resolve, 30));
    // Not yet: the taken spares' functions have their first requests now.
    expect([starter.started.length, waiting.length]).toEqual([2, 1]);
    waiting[0]!();
    await waitFor(async () => spares.size === 2, { timeoutMs: 2000, what: 'the spares replaced' });
    expect(starter.started).toHaveLength(4);
    // A later take waits again; closing the pool cancels that wait.
    spares.take();
    expect(waiting).toHaveLength(2);
    await spares.close();
    expect(canceled).toBe(1);
  });

  it('never waits for a spare: none ready, take() answers undefined at once', async () => {
    const starter = new Starter();
    starter.instant = false;
    const spares = pool(starter, 1);
    spares.fill();
    expect(spares.take()).toBeUndefined();
    starter.release();
    await waitFor(async () => spares.size === 1, { timeoutMs: 2000, what: 'the spare' });
    expect(spares.take()).toBe(starter.started[0]);
  });

  it('starts nothing with size 0', async () => {
    const starter = new Starter();
    const spares = pool(starter, 0);
    spares.fill();
    expect(spares.take()).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(starter.started).toHaveLength(0);
  });

  it('replaces a spare that dies before use, after a backoff', async () => {
    const starter = new Starter();
    const spares = pool(starter, 1);
    spares.fill();
    await waitFor(async () => spares.size === 1, { timeoutMs: 2000, what: 'the spare' });
    starter.started[0]!.die();
    expect(spares.size).toBe(0);
    expect(warnings).toEqual(['a spare exited before use; the next spare starts in 20 ms']);
    await waitFor(async () => spares.size === 1, { timeoutMs: 2000, what: 'its replacement' });
    expect(starter.started).toHaveLength(2);
    expect(spares.take()).toBe(starter.started[1]);
  });

  it('backs off longer at each failure in a row, up to the maximum, and starts over once a spare is used', async () => {
    const starter = new Starter();
    starter.broken = true;
    const spares = pool(starter, 1);
    spares.fill();
    await waitFor(async () => warnings.length >= 5, { timeoutMs: 2000, what: 'five failures' });
    expect(warnings.slice(0, 5).map((w) => Number(/in (\d+) ms/.exec(w)![1]))).toEqual([20, 40, 80, 80, 80]);
    expect(warnings[0]).toBe('a spare did not start: no deno here; the next spare starts in 20 ms');
    starter.broken = false;
    await waitFor(async () => spares.size === 1, { timeoutMs: 2000, what: 'a spare once Deno works' });
    expect(spares.take()).toBeDefined();
    await waitFor(async () => spares.size === 1, { timeoutMs: 2000, what: 'the next spare' });
    warnings = [];
    spares.take();
    await waitFor(async () => spares.size === 1, { timeoutMs: 2000, what: 'the next spare' });
    starter.started.at(-1)!.die();
    expect(warnings).toEqual(['a spare exited before use; the next spare starts in 20 ms']);
  });

  it('stops ready spares and aborts the one being started on close, and starts none after', async () => {
    const starter = new Starter();
    const spares = pool(starter, 2);
    spares.fill();
    await waitFor(async () => spares.size === 2, { timeoutMs: 2000, what: 'two spares' });
    starter.instant = false;
    const taken = spares.take();
    await waitFor(async () => starter.running === 1, { timeoutMs: 2000, what: 'a replacement being started' });
    await spares.close();
    expect(starter.aborted).toBe(1);
    expect(starter.started.map((s) => s.exited)).toEqual([false, true]);
    expect(taken).toBe(starter.started[0]);
    expect(spares.size).toBe(0);
    expect(spares.take()).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});
