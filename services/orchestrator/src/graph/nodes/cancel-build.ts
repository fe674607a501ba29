import type { StepBody } from '../step.js';
import { removeEnvironment } from './discard-environment.js';

/**
 * Ends a canceled build (`POST /sessions/:id/cancel`): the environment is removed, the session becomes
 * `canceled`, then `build_canceled` is emitted (status first, as `finalize` does, so that a client that
 * sees the event finds the session in agreement).
 */
export const cancelBuild: StepBody = async (state, deps, ctx) => {
  const at = state.canceledAt ?? 'unknown';
  const removal = await removeEnvironment(state, at, deps, ctx);
  await deps.sessions.finish(state.sessionId, { status: 'canceled' });
  await deps.events.emit(
    state.sessionId,
    'build_canceled',
    'final',
    `Build canceled before ${at}${removal.note ? `; ${removal.note}` : ''}`,
    { step: at, environmentRemoved: removal.removed, environment: removal.ref },
  );
  await deps.events.presence(state.sessionId, 'cancel_build', 1, null);
  return {};
};
