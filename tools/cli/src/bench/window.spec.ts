import { slidingWindow } from './window.js';

/** A promise settled by hand, to hold work in flight. */
function pending() {
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const promise = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  return { promise, ...settle };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('slidingWindow', () => {
  it('starts each n once, in order, never more than `window` unsettled at a time', async () => {
    const started: number[] = [];
    const open = new Map<number, ReturnType<typeof pending>>();
    let most = 0;
    const running = slidingWindow(10, 3, (n) => {
      started.push(n);
      const work = pending();
      open.set(n, work);
      most = Math.max(most, open.size);
      return work.promise.finally(() => open.delete(n));
    });
    await tick();
    expect(started).toEqual([0, 1, 2]);
    open.get(1)!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    while (open.size > 0) {
      for (const work of [...open.values()]) work.resolve();
      await tick();
    }
    await running;
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
  });

  it('stops starting after a failure and rejects with it once the rest in flight have settled', async () => {
    const started: number[] = [];
    const open = new Map<number, ReturnType<typeof pending>>();
    const running = slidingWindow(100, 2, (n) => {
      started.push(n);
      const work = pending();
      open.set(n, work);
      return work.promise;
    });
    let outcome: unknown = 'running';
    running.catch((error: unknown) => (outcome = error));
    await tick();
    open.get(0)!.reject(new Error('publish 0 failed'));
    await tick();
    expect(outcome).toBe('running');
    open.get(1)!.resolve();
    await tick();
    expect(started).toEqual([0, 1]);
    expect(outcome).toEqual(new Error('publish 0 failed'));
  });
});
