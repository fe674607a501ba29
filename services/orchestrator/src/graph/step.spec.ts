import { environmentMayExist, retryDelay, routeAfter } from './step.js';
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
