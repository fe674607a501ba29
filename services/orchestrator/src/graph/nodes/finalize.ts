import type { BuildVerification, FrontendHandover } from '@vibe/contracts';
import { verificationFailureMessage } from '@vibe/planning';
import { errorMessage, type StepBody } from '../step.js';
import type { BuildFailure } from '../state.js';
import { removeEnvironment } from './discard-environment.js';
import { collectHandover } from './handover.js';
import { verifyEnvironment } from './verify.js';

/**
 * Spec §6.1 `finalize`: a build that reached it without a failure is verified first (DESIGN.md §6: schema,
 * RLS, policies, the executed access matrix, no ERROR lint; `verify.ts`); one that fails verification is
 * failed, naming what failed, and its environment is removed like any failed build's. A verified one is
 * handed over (`handover.ts`: API URL, publishable key, Edge Function URLs, types, share link) into
 * `outputs.frontend`. The session's status
 * and outputs are written first, then `build_succeeded` or `build_failed`, so that a client which sees the
 * event and reads the session finds them in agreement.
 */
export const finalize: StepBody = async (state, deps, ctx) => {
  let failure: BuildFailure | null = state.failure;
  let verification: BuildVerification | undefined;
  let frontend: FrontendHandover | undefined;
  if (!failure) {
    // The handover only reads, so it is read while the environment is verified (its calls sent after the
    // verification's, which take longer); it is used only if the verification passes (an environment that
    // failed its proof is never handed over).
    const verifying = verifyEnvironment(state, deps, ctx);
    const handover = collectHandover(state, deps).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    try {
      verification = await verifying.finally(() => handover);
      if (!verification.passed) failure = { step: 'verify', message: verificationFailureMessage(verification) };
    } catch (error) {
      // Unavailable for now: the step retries, and past its budget the build resumes later (finalize must
      // complete). Anything else means the proof cannot be made: the build fails.
      if (deps.control.isTransient(error)) throw error;
      failure = { step: 'verify', message: `the environment could not be verified: ${errorMessage(error)}` };
    }
    if (!failure && verification) {
      await deps.events.emit(
        state.sessionId,
        'step_completed',
        'verify',
        `Verified the environment: ${verificationSummary(verification)}`,
        { step: 'verify', done: verifiedItems(verification), deferred: [] },
      );
    }
    if (!failure) {
      // What a frontend needs (issue 12), read from the environment; without it the build is of no use.
      await ctx.focus({ type: 'function', name: 'handover' }, 0.9);
      const read = await handover;
      if ('value' in read) frontend = read.value;
      else if (deps.control.isTransient(read.error)) throw read.error;
      else {
        failure = {
          step: 'handover',
          message: `the environment could not be handed over: ${errorMessage(read.error)}`,
        };
      }
    }
    if (failure) {
      // An environment that failed its proof is not handed over: removed, as after any failed step.
      const removal = await removeEnvironment(state, 'finalize', deps, ctx);
      if (removal.note !== null) {
        await deps.events.emit(
          state.sessionId,
          'step_completed',
          'discard_environment',
          `After the failure at ${failure.step}: ${removal.note}`,
          {
            step: 'discard_environment',
            done: removal.kept ? [] : [removal.note],
            deferred: removal.kept ? [removal.note] : [],
          },
        );
      }
    } else if (frontend) {
      // The event says what was handed over, never the key or the share link (they are in the outputs only).
      await deps.events.emit(
        state.sessionId,
        'step_completed',
        'handover',
        `Handed over: API URL ${frontend.apiUrl}, the publishable key, ${frontend.edgeFunctions.length} Edge Function URL(s), TypeScript types (${frontend.types.length} characters) and a share link`,
        { step: 'handover', done: handedOver(frontend), deferred: [] },
      );
    }
  }

  const durationMs = deps.now() - state.startedAt;
  if (failure) {
    const { step, message } = failure;
    await deps.sessions.finish(state.sessionId, { status: 'failed', error: `${step}: ${message}` });
    await deps.events.emit(state.sessionId, 'build_failed', 'final', `Build failed at ${step}: ${message}`, {
      step,
      error: message,
      ...(verification && !verification.passed && { failures: verification.failures }),
    });
    await deps.events.presence(state.sessionId, 'finalize', 1, null);
    return {};
  }
  await deps.sessions.finish(state.sessionId, {
    status: 'succeeded',
    outputs: {
      tables: state.tables,
      policies: state.policies,
      functions: state.functions,
      analytics: state.analytics,
      deferred: state.deferred,
      durationMs,
      ...(verification && { verification }),
      ...(frontend && { frontend }),
    },
  });
  await deps.events.emit(
    state.sessionId,
    'build_succeeded',
    'final',
    `Build succeeded in ${durationMs} ms: ${state.tables.length} tables, ${state.policies.length} policies` +
      (verification ? `, ${verification.matrix.cells.length} access cells verified` : ''),
    { durationMs, tables: state.tables.length, policies: state.policies.length },
  );
  await deps.events.presence(state.sessionId, 'finalize', 1, null);
  return {};
};

function verificationSummary(verification: BuildVerification): string {
  const warnings = verification.lints.warnings.length;
  return (
    `${verification.schema.tables.length} tables as planned with RLS, ` +
    `${verification.policies.length} policies as planned, ` +
    `${verification.matrix.cells.length} access cells as expected, ` +
    `no ERROR lint${warnings ? `, ${warnings} WARN lint(s)` : ''}`
  );
}

function verifiedItems(verification: BuildVerification): string[] {
  return [
    `schema of ${verification.schema.tables.join(', ')} equals the plan (columns, types, defaults, constraints, indexes)`,
    `row level security on ${verification.rls.map((r) => r.table).join(', ')}`,
    `${verification.policies.length} policies present with the planned command, roles and expressions`,
    `access matrix: ${verification.matrix.cells.length} cells (anon, owner, other user, service role × select, insert, update, delete) as expected`,
    `security advisor: no ERROR lint, ${verification.lints.warnings.length} WARN, ${verification.lints.info} INFO`,
    ...verification.lints.warnings.map((lint) => `WARN lint ${lint.name} on ${lint.object} (reported)`),
  ];
}

function handedOver(frontend: FrontendHandover): string[] {
  return [
    `API URL ${frontend.apiUrl}`,
    `publishable key (${frontend.publishableKeyType === 'legacy' ? 'the anon key' : 'an sb_publishable_ key'})`,
    ...frontend.edgeFunctions.map((fn) => `Edge Function ${fn.slug} at ${fn.url}`),
    `TypeScript types of the schema at ${frontend.typesPath}`,
    'a supabase-js snippet and a share link',
  ];
}
