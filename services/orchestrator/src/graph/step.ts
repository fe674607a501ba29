import type { PresenceFocus } from '@vibe/contracts';
import { metrics } from '@vibe/platform';
import type { BuildDeps, GraphNodeName, RetryPolicy } from './ports.js';
import { Unawaited } from './nodes/together.js';
import type { BuildStateUpdate, BuildStateValue } from './state.js';

/** The eight nodes of spec §6.1, in order, with the progress shown when each starts. */
export const BUILD_STEPS = [
  'ingest_vibe',
  'generate_plan',
  'provision_environment',
  'apply_migrations',
  'configure_rls',
  'deploy_edge_functions',
  'configure_analytics',
  'finalize',
] as const satisfies readonly GraphNodeName[];
export type BuildStep = (typeof BUILD_STEPS)[number];

/** The nodes that end a build which did not succeed: a failed one, and a canceled one. */
export const ENDING_NODES = ['discard_environment', 'cancel_build'] as const satisfies readonly GraphNodeName[];

/** Every node of the graph (the test pause hook accepts these names). */
export const GRAPH_NODES: readonly GraphNodeName[] = [...BUILD_STEPS, ...ENDING_NODES];

export function progressAt(step: GraphNodeName): number {
  const index = (BUILD_STEPS as readonly string[]).indexOf(step);
  return (index === -1 ? BUILD_STEPS.length - 1 : index) / BUILD_STEPS.length;
}

/**
 * Whether a build stopped before `step` may have an environment: `provision_environment` or a later node
 * has started, in this run or in one that crashed (nodes run strictly in order, and a resumed build runs
 * the interrupted node again, so no node after the next one has ever started).
 */
export function environmentMayExist(step: string): boolean {
  const index = (BUILD_STEPS as readonly string[]).indexOf(step);
  return index === -1 || index >= BUILD_STEPS.indexOf('provision_environment');
}

/** Helpers a node gets: presence within the step, the step's name, and whether this is its last try. */
export interface StepContext {
  step: GraphNodeName;
  /**
   * Sends the architect's presence without waiting for its acknowledgement (one NATS connection keeps the
   * order); the step awaits every one before it ends, and one that failed fails the attempt.
   */
  focus(focus: PresenceFocus | null, fraction?: number): Promise<void>;
  /** True when a transient failure of this attempt will not be retried: the node's retry budget is spent. */
  finalAttempt: boolean;
}

export type StepBody = (state: BuildStateValue, deps: BuildDeps, ctx: StepContext) => Promise<BuildStateUpdate>;

/**
 * Nodes whose errors are not a build failure but unfinished bookkeeping: when one of them cannot complete
 * (Postgres or NATS stays unavailable), the run stops at its checkpoint and the build is resumed later,
 * rather than ending with a status nobody recorded.
 */
const MUST_COMPLETE: ReadonlySet<GraphNodeName> = new Set(['finalize', 'discard_environment', 'cancel_build']);

/** Thrown by a must-complete node that could not complete; the run stops and is resumed later. */
export class StepIncompleteError extends Error {
  override readonly name = 'StepIncompleteError';
}

/** The delay before retry number `attempt` (1 = the first retry): doubling from the initial delay, capped. */
export function retryDelay(attempt: number, policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** What the graph does after a node: a canceled build ends in cancel_build, a failed one is discarded first. */
export function routeAfter(next: GraphNodeName) {
  return (state: BuildStateValue): GraphNodeName =>
    state.canceledAt ? 'cancel_build' : state.failure ? 'discard_environment' : next;
}

/**
 * Wraps a node. At its start (a node boundary) it asks the driver whether to run, stop or cancel; it
 * announces the step in presence; it retries transient failures with a growing delay within the retry
 * budget (nodes are idempotent, so running one again is safe); and it turns a lasting error into a
 * recorded failure that routes the graph to `discard_environment` and `finalize`.
 */
export function step(name: GraphNodeName, body: StepBody, deps: BuildDeps) {
  return async (state: BuildStateValue): Promise<BuildStateUpdate> => {
    if (state.canceledAt && name !== 'cancel_build') return {};
    const afterFailure = name === 'finalize' || name === 'discard_environment';
    if (state.failure && !afterFailure) return {};
    const gate = await deps.control.enterStep(state.sessionId, name);
    // A failing build ends as failed; once it ends, there is nothing left to cancel.
    if (gate === 'cancel' && !state.failure && !(ENDING_NODES as readonly string[]).includes(name)) {
      return { canceledAt: name };
    }
    const start = progressAt(name);
    const width = 1 / BUILD_STEPS.length;
    const startedAt = deps.now();
    for (let attempt = 1; ; attempt++) {
      const delay = retryDelay(attempt, deps.retry);
      const presence = new Unawaited();
      const ctx: StepContext = {
        step: name,
        focus: (focus, fraction = 0) => {
          presence.add(deps.events.presence(state.sessionId, name, Math.min(1, start + width * fraction), focus));
          return Promise.resolve();
        },
        finalAttempt: deps.now() - startedAt + delay > deps.retry.budgetMs,
      };
      try {
        void ctx.focus(null);
        const update = await metrics.time(metrics.nodeDuration, { node: name }, () => body(state, deps, ctx));
        await presence.settled();
        return update;
      } catch (error) {
        await presence.settled().catch(() => undefined);
        const transient = deps.control.isTransient(error);
        if (transient && !ctx.finalAttempt) {
          deps.control.retrying(state.sessionId, name, attempt, delay, error);
          await deps.control.sleep(state.sessionId, delay);
          continue;
        }
        const message = errorMessage(error);
        const described = transient
          ? `gave up after ${attempt} attempt(s) in ${Math.round((deps.now() - startedAt) / 1000)} s, still unavailable: ${message}`
          : message;
        if (MUST_COMPLETE.has(name)) throw new StepIncompleteError(`${name}: ${described}`, { cause: error });
        return { failure: { step: name, message: described } };
      }
    }
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** SQL list of string literals, for names that come from our own templates. */
export function sqlStringList(values: readonly string[]): string {
  return values.map((value) => `'${value.replace(/'/g, "''")}'`).join(', ');
}
