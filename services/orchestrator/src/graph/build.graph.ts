import { END, START, StateGraph, type BaseCheckpointSaver } from '@langchain/langgraph';
import { applyMigrations } from './nodes/apply-migrations.js';
import { cancelBuild } from './nodes/cancel-build.js';
import { configureAnalytics } from './nodes/configure-analytics.js';
import { configureRls } from './nodes/configure-rls.js';
import { deployEdgeFunctions } from './nodes/deploy-edge-functions.js';
import { discardEnvironment } from './nodes/discard-environment.js';
import { finalize } from './nodes/finalize.js';
import { generatePlan } from './nodes/generate-plan.js';
import { ingestVibe } from './nodes/ingest-vibe.js';
import { provisionEnvironment } from './nodes/provision-environment.js';
import type { BuildDeps, GraphNodeName } from './ports.js';
import { BuildState, type BuildStateValue } from './state.js';
import { routeAfter, step } from './step.js';

/**
 * The build graph of spec §6.1: eight nodes in order. A failed node routes to `discard_environment`
 * (the half-made environment is removed) and then to `finalize`, which records the failure. A cancel seen
 * at a node boundary routes to `cancel_build`.
 *
 * With a checkpointer, every node boundary is a checkpoint (thread = session id): a build interrupted
 * anywhere resumes with the node that was running, which is why every node's effects are idempotent.
 */
export function buildGraph(deps: BuildDeps, checkpointer?: BaseCheckpointSaver) {
  const then = (next: GraphNodeName) =>
    [routeAfter(next), [next, 'discard_environment', 'cancel_build'] as GraphNodeName[]] as const;
  return new StateGraph(BuildState)
    .addNode('ingest_vibe', step('ingest_vibe', ingestVibe, deps))
    .addNode('generate_plan', step('generate_plan', generatePlan, deps))
    .addNode('provision_environment', step('provision_environment', provisionEnvironment, deps))
    .addNode('apply_migrations', step('apply_migrations', applyMigrations, deps))
    .addNode('configure_rls', step('configure_rls', configureRls, deps))
    .addNode('deploy_edge_functions', step('deploy_edge_functions', deployEdgeFunctions, deps))
    .addNode('configure_analytics', step('configure_analytics', configureAnalytics, deps))
    .addNode('finalize', step('finalize', finalize, deps))
    .addNode('discard_environment', step('discard_environment', discardEnvironment, deps))
    .addNode('cancel_build', step('cancel_build', cancelBuild, deps))
    .addEdge(START, 'ingest_vibe')
    .addConditionalEdges('ingest_vibe', ...then('generate_plan'))
    .addConditionalEdges('generate_plan', ...then('provision_environment'))
    .addConditionalEdges('provision_environment', ...then('apply_migrations'))
    .addConditionalEdges('apply_migrations', ...then('configure_rls'))
    .addConditionalEdges('configure_rls', ...then('deploy_edge_functions'))
    .addConditionalEdges('deploy_edge_functions', ...then('configure_analytics'))
    .addConditionalEdges('configure_analytics', ...then('finalize'))
    .addEdge('discard_environment', 'finalize')
    .addConditionalEdges('finalize', (state: BuildStateValue) => (state.canceledAt ? 'cancel_build' : END), [
      'cancel_build',
      END,
    ])
    .addEdge('cancel_build', END)
    .compile({ name: 'vibe_build', checkpointer });
}

export type BuildGraph = ReturnType<typeof buildGraph>;
