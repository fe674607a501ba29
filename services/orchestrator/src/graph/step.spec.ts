import type { BuildDeps } from './ports.js';
import { environmentMayExist, retryDelay, routeAfter, step } from './step.js';
import type { BuildStateValue } from './state.js';

const state = (overrides: Partial<BuildStateValue>) =>
  ({ failure: null, canceledAt: null, ...overrides }) as BuildStateValue;

describe('retryDelay', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    const policy = { initialDelayMs: 250, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelay(attempt, policy))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
  });
});

describe('routeAfter', () => {
  it('goes on to the next node while the build is fine', () => {
    expect(routeAfter('configure_rls')(state({}))).toBe('configure_rls');
  });

  it('sends a failed build to discard its environment (and then finalize)', () => {
    expect(routeAfter('configure_rls')(state({ failure: { step: 'apply_migrations', message: 'x' } }))).toBe(
      'discard_environment',
    );
  });

  it('sends a canceled build to cancel_build, even one that also failed', () => {
    expect(routeAfter('finalize')(state({ canceledAt: 'finalize' }))).toBe('cancel_build');
    expect(
      routeAfter('finalize')(state({ canceledAt: 'finalize', failure: { step: 'configure_rls', message: 'x' } })),
    ).toBe('cancel_build');
  });
});

describe('environmentMayExist', () => {
  it('is false only before provision_environment has ever started', () => {
    expect(environmentMayExist('ingest_vibe')).toBe(false);
    expect(environmentMayExist('generate_plan')).toBe(false);
    // A build stopped before provision_environment may have run it in an attempt that crashed.
    expect(environmentMayExist('provision_environment')).toBe(true);
    expect(environmentMayExist('finalize')).toBe(true);
    expect(environmentMayExist('something else')).toBe(true);
  });
});

describe('step', () => {
  /** Presence puts that resolve or fail when the test says; a retry waits no time. */
  function harness() {
    const puts: Array<{ progress: number; ack(): void; fail(error: Error): void }> = [];
    const retried: number[] = [];
    const deps = {
      events: {
        presence: (_session: string, _step: string, progress: number) =>
          new Promise<void>((ack, fail) => puts.push({ progress, ack: () => ack(), fail })),
      },
      control: {
        enterStep: async () => 'run' as const,
        sleep: async () => undefined,
        isTransient: (error: unknown) => error instanceof Error && error.message === 'NATS unavailable',
        retrying: (_session: string, _step: string, attempt: number) => void retried.push(attempt),
      },
      retry: { budgetMs: 60_000, initialDelayMs: 1, maxDelayMs: 1 },
      now: () => Date.now(),
    } as unknown as BuildDeps;
    return { deps, puts, retried };
  }
  const buildState = state({ sessionId: '00000000-0000-4000-8000-000000000001' });

  it('runs the node without waiting for its presence to be acknowledged, and ends only once it is', async () => {
    const { deps, puts } = harness();
    let bodyRan = false;
    let ended = false;
    const run = step(
      'configure_rls',
      async (_state, _deps, ctx) => {
        await ctx.focus({ type: 'table', name: 'listings' }, 0.5);
        bodyRan = true;
        return {};
      },
      deps,
    )(buildState).then((update) => {
      ended = true;
      return update;
    });
    await new Promise((resolve) => setImmediate(resolve));
    // Both presence puts are out, in order, unacknowledged; the node's work is done; the step waits.
    expect(bodyRan).toBe(true);
    expect(puts.map((put) => put.progress)).toEqual([0.5, 0.5625]);
    expect(ended).toBe(false);
    for (const put of puts) put.ack();
    await expect(run).resolves.toEqual({});
  });

  it('fails the attempt when a presence put fails, and retries the node', async () => {
    const { deps, puts, retried } = harness();
    let runs = 0;
    const run = step(
      'configure_rls',
      async () => {
        runs++;
        return {};
      },
      deps,
    )(buildState);
    await new Promise((resolve) => setImmediate(resolve));
    puts[0]!.fail(new Error('NATS unavailable'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const put of puts.slice(1)) put.ack();
    await expect(run).resolves.toEqual({});
    expect(runs).toBe(2);
    expect(retried).toEqual([1]);
  });
});
