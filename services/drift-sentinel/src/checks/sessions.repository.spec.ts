import { notCheckable, type CheckedSession } from './sessions.repository.js';
import { planFor } from '../../test/factories.js';

/** A session as a finished, successful build leaves it. */
function builtSession(overrides: Partial<CheckedSession> = {}): CheckedSession {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    status: 'succeeded',
    graphEnded: true,
    buildRunning: false,
    environmentRef: 'vibe_env_00000000000040008000000000000001',
    environmentRemoved: false,
    plan: planFor(),
    driftEnabled: true,
    deferred: [],
    version: '2026-11-25T12:00:00.000000',
    ...overrides,
  };
}

describe('notCheckable', () => {
  it('given a finished, successful build with its environment, then it can be checked', () => {
    expect(notCheckable(builtSession())).toBeNull();
  });

  it.each<[string, Partial<CheckedSession>, RegExp]>([
    ['queued', { status: 'queued', graphEnded: false }, /the session is queued/],
    ['running', { status: 'running', graphEnded: false }, /the session is running/],
    ['failed', { status: 'failed' }, /the session is failed/],
    ['succeeded, graph not at its end', { graphEnded: false }, /a build of the session is running/],
    ['succeeded, build lease held', { buildRunning: true }, /a build of the session is running/],
    ['without an environment', { environmentRef: null }, /no environment/],
    ['with its environment removed', { environmentRemoved: true }, /no environment/],
    ['without a valid plan', { plan: null }, /no valid plan/],
  ])('given a session %s, then it is not checked', (_what, overrides, reason) => {
    expect(notCheckable(builtSession(overrides))).toMatch(reason);
  });
});
