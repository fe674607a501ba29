/**
 * Calls `start(n)` for n = 0 … count - 1, with at most `window` of the promises it returns unsettled at a time;
 * rejects with the first failure once those in flight have settled. One waiter is woken as each settles, where
 * `Promise.race` over the set in flight would add a reaction to every promise of the window at each step.
 */
export async function slidingWindow(
  count: number,
  window: number,
  start: (n: number) => Promise<unknown>,
): Promise<void> {
  let inFlight = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const settled = () => {
    inFlight -= 1;
    const waiter = wake;
    wake = undefined;
    waiter?.();
  };
  const slotFree = () => new Promise<void>((resolve) => (wake = resolve));
  for (let n = 0; n < count && !failure; n++) {
    inFlight += 1;
    start(n).then(settled, (error: unknown) => {
      failure ??= { error };
      settled();
    });
    while (inFlight >= window) await slotFree();
  }
  while (inFlight > 0) await slotFree();
  if (failure) throw failure.error;
}
