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
 * Sends whose acknowledgements are awaited later: each gets its handler at once (a failure is kept, not left
 * unhandled), and `settled()` waits for all of them and rejects with the first failure.
 */
export class Unawaited {
  private readonly pending: Array<Promise<void>> = [];
  private failure: { error: unknown } | null = null;

  add(...sends: Array<Promise<void>>): void {
    for (const send of sends) this.pending.push(send.catch((error: unknown) => void (this.failure ??= { error })));
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
    if (this.failure) throw this.failure.error;
  }
}

/**
 * Runs `body`, which sends presence and events through `send` without waiting for each acknowledgement (one
 * NATS connection keeps them in the order sent), then awaits them all. When `body` throws, what it sent is
 * still awaited before the error goes on, so nothing is left unhandled.
 */
export async function sendingInOrder<T>(body: (send: (...sends: Array<Promise<void>>) => void) => T): Promise<T> {
  const sent = new Unawaited();
  let value: T;
  try {
    value = body((...sends) => sent.add(...sends));
  } catch (error) {
    await sent.settled().catch(() => undefined);
    throw error;
  }
  await sent.settled();
  return value;
}
