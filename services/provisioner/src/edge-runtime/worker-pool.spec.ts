import { PoolFullError, WorkerPool, type PoolWorker } from './worker-pool.js';

/** A worker as the pool sees it: it can stop and exit. (The pool's own logic under test; no process.) */
class TestWorker implements PoolWorker {
  stopped = false;
  private readonly listeners: Array<() => void> = [];
  constructor(readonly name: string) {}
  get exited() {
    return this.stopped;
  }
  onExit(listener: () => void) {
    this.listeners.push(listener);
  }
  async stop() {
    this.stopped = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

describe('WorkerPool', () => {
  let clock = 0;
  const pool = (maxWorkers: number, idleMs = 1000) => new WorkerPool<TestWorker>({ maxWorkers, idleMs }, () => clock);
  const start = (name: string) => async () => new TestWorker(name);
  let pools: Array<WorkerPool<TestWorker>> = [];
  const made = (p: WorkerPool<TestWorker>) => (pools.push(p), p);

  beforeEach(() => {
    clock = 0;
  });
  afterEach(async () => {
    await Promise.all(pools.map((p) => p.close()));
    pools = [];
  });

  it('starts a worker once per function and version; a request is cold only when it started one', async () => {
    const p = made(pool(4));
    const [a, b] = await Promise.all([p.acquire('f', '1', start('f1')), p.acquire('f', '1', start('f1-again'))]);
    expect(a.worker).toBe(b.worker);
    expect([a.cold, b.cold]).toEqual([true, false]);
    const warm = await p.acquire('f', '1', start('never'));
    expect([warm.worker.name, warm.cold]).toEqual(['f1', false]);
    expect(p.size).toBe(1);
  });

  it('makes room by stopping the worker idle longest, and refuses when every worker is busy', async () => {
    const p = made(pool(2));
    const one = await p.acquire('one', '1', start('one'));
    one.release();
    clock = 10;
    const two = await p.acquire('two', '1', start('two'));
    const three = await p.acquire('three', '1', start('three'));
    expect(one.worker.stopped).toBe(true);
    expect(p.size).toBe(2);
    await expect(p.acquire('four', '1', start('four'))).rejects.toBeInstanceOf(PoolFullError);
    two.release();
    three.release();
  });

  it('starts the new worker without waiting for the exit of the one that makes room', async () => {
    const p = made(pool(1));
    const old = await p.acquire('old', '1', start('old'));
    old.release();
    let exit!: () => void;
    // Told to stop, it exits only when the test says so (a Deno process takes its time).
    old.worker.stop = () =>
      new Promise<void>((resolve) => {
        old.worker.stopped = true;
        exit = resolve;
      });
    clock = 10;
    const next = await p.acquire('next', '1', start('next'));
    expect([next.worker.name, old.worker.stopped]).toEqual(['next', true]);
    expect(p.size).toBe(1);
    exit();
    next.release();
  });

  it('has room while the workers running and starting are fewer than the most allowed', async () => {
    const p = made(pool(2));
    expect(p.hasRoom()).toBe(true);
    let started!: () => void;
    const slow = p.acquire(
      'slow',
      '1',
      () => new Promise<TestWorker>((resolve) => (started = () => resolve(new TestWorker('slow')))),
    );
    const one = await p.acquire('one', '1', start('one'));
    expect(p.hasRoom()).toBe(false);
    started();
    (await slow).release();
    expect(p.hasRoom()).toBe(false);
    await one.worker.stop();
    expect(p.hasRoom()).toBe(true);
    one.release();
  });

  it('has room, given a quiet time, when a worker has had no request for that long', async () => {
    const p = made(pool(2));
    clock = 0;
    const a = await p.acquire('a', '1', start('a'));
    const b = await p.acquire('b', '1', start('b'));
    clock = 1000;
    a.release();
    clock = 2500;
    b.release();
    expect(p.hasRoom()).toBe(false);
    // a: no request since 1000; b: since 2500; neither quiet for 2000 yet.
    expect(p.hasRoom(2000)).toBe(false);
    clock = 3000;
    expect(p.hasRoom(2000)).toBe(true);
    // The start that uses it stops the longest idle, a.
    (await p.acquire('c', '1', start('c'))).release();
    expect(a.worker.stopped).toBe(true);
    expect(b.worker.stopped).toBe(false);
    // A worker serving a request is never quiet, however long ago the request came.
    const busy = [await p.acquire('b', '1', start('b')), await p.acquire('c', '1', start('c'))];
    clock = 10_000;
    expect(p.hasRoom(2000)).toBe(false);
    for (const lease of busy) lease.release();
    expect(p.hasRoom(2000)).toBe(false);
    clock = 12_000;
    expect(p.hasRoom(2000)).toBe(true);
  });

  it('stops idle workers, and retires an old version once its requests are done', async () => {
    const p = made(pool(4, 1000));
    const old = await p.acquire('f', '1', start('v1'));
    const next = await p.acquire('f', '2', start('v2'));
    expect(old.worker.stopped).toBe(false);
    old.release();
    expect(old.worker.stopped).toBe(true);
    next.release();
    clock = 999;
    await p.reap();
    expect(next.worker.stopped).toBe(false);
    clock = 1000;
    await p.reap();
    expect(next.worker.stopped).toBe(true);
    expect(p.size).toBe(0);
  });
});
