import { environmentMayExist, errorMessage, type StepBody, type StepContext } from '../step.js';
import type { BuildDeps } from '../ports.js';
import type { BuildStateValue } from '../state.js';

export interface Removal {
  /** The environment that was (or would have been) removed; null when the build never had one. */
  ref: string | null;
  /** True when this build's environment existed and is gone now. */
  removed: boolean;
  /** True when the environment may still exist: it could not be removed and stays marked for removal. */
  kept: boolean;
  /** What was done, or why the environment stays; null when there was nothing to do. */
  note: string | null;
}

/**
 * Removes the environment of a build that will not succeed, through the provisioner's idempotent
 * `delete_environment` (a re-run is answered from its ledger). A transient failure is retried by the step
 * until its budget is spent; then, like a permanent one, the environment is left marked for removal
 * (`environment_removed_at` stays null) and the build still ends.
 */
export async function removeEnvironment(
  state: BuildStateValue,
  stoppedBefore: string,
  deps: BuildDeps,
  ctx: StepContext,
): Promise<Removal> {
  if (!environmentMayExist(stoppedBefore)) return { ref: null, removed: false, kept: false, note: null };
  let outcome: { ref: string; deleted: boolean };
  try {
    outcome = await deps.provisioner.call(state.sessionId, 'environment:delete', {
      tool: 'delete_environment',
      environmentRef: state.environment?.ref ?? null,
    });
  } catch (error) {
    if (deps.control.isTransient(error) && !ctx.finalAttempt) throw error;
    const ref = state.environment?.ref ?? null;
    return {
      ref,
      removed: false,
      kept: true,
      note: `environment ${ref ?? 'of the build'} was not removed (${errorMessage(error)}); it stays marked for removal`,
    };
  }
  await deps.sessions.markEnvironmentRemoved(state.sessionId);
  return {
    ref: outcome.ref,
    removed: outcome.deleted,
    kept: false,
    note: outcome.deleted ? `removed environment ${outcome.ref}` : `environment ${outcome.ref} did not exist`,
  };
}

/**
 * After a failed node and before `finalize`: the half-made environment is removed (DESIGN.md §4, issue 4),
 * and a closing note says so. A build that failed before `provision_environment` has nothing to remove.
 */
export const discardEnvironment: StepBody = async (state, deps, ctx) => {
  const failedAt = state.failure?.step ?? 'unknown';
  const removal = await removeEnvironment(state, failedAt, deps, ctx);
  if (removal.note === null) return {};
  const done = removal.kept ? [] : [removal.note];
  const deferred = removal.kept ? [removal.note] : [];
  await deps.events.emit(
    state.sessionId,
    'step_completed',
    'discard_environment',
    `After the failure at ${failedAt}: ${removal.note}`,
    { step: 'discard_environment', done, deferred },
  );
  return {};
};
