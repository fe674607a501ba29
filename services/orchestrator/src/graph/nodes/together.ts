/**
 * Awaits calls started together and returns their values in order. Unlike Promise.all it waits for every
 * call to end before throwing the first failure: a node that fails moves on to discarding the environment,
 * and must not do so while one of its calls still runs against it.
 */
export async function together<T extends readonly unknown[]>(calls: {
  readonly [K in keyof T]: T[K] | Promise<T[K]>;
}): Promise<T> {
  const outcomes: Array<PromiseSettledResult<unknown>> = await Promise.allSettled(calls);
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Runs `body`, which sends presence and events through `send` without waiting for each acknowledgement (one
 * NATS connection keeps them in the order sent), then awaits them all. When `body` throws, what it sent is
 * still awaited before the error goes on, so nothing is left unhandled.
 */
export async function sendingInOrder<T>(body: (send: (...sends: Array<Promise<void>>) => void) => T): Promise<T> {
  const sent: Array<Promise<void>> = [];
  let value: T;
  try {
    value = body((...sends) => void sent.push(...sends));
  } catch (error) {
    await Promise.allSettled(sent);
    throw error;
  }
  await together(sent);
  return value;
}
