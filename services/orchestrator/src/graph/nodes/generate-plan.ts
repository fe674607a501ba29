import { chunkVibe } from '@vibe/planning';
import { renderPlan } from '@vibe/planning';
import type { StepBody } from '../step.js';

/**
 * Spec §6.1 `generate_plan`: the planner maps the vibe onto the template; the plan is validated by
 * rendering it (an invalid plan fails here, before anything is provisioned) and persisted on the session.
 */
export const generatePlan: StepBody = async (state, deps) => {
  const chunks = chunkVibe(state.vibeText);
  const { plan, fallback } = await deps.planner.plan({
    vibeText: state.vibeText,
    chunks,
    template: state.template,
    options: state.options,
  });
  if (fallback) {
    await deps.events.emit(
      state.sessionId,
      'planner_fallback',
      'plan',
      `The ${fallback.from} planner failed (${fallback.reason}); the rules planner made the plan`,
      { from: fallback.from, to: 'rules', reason: fallback.reason },
    );
  }
  const rendered = renderPlan(plan);
  await deps.sessions.savePlan(state.sessionId, plan);
  const unrecognized = plan.unrecognized.length ? `; not planned: ${plan.unrecognized.length} request(s)` : '';
  await deps.events.emit(
    state.sessionId,
    'plan_created',
    'plan',
    `Planned ${plan.tables.length} tables, ${rendered.policies.length} policies and ${plan.buckets.length} bucket(s) ` +
      `from the ${plan.template} template (${plan.planner} planner)${unrecognized}`,
    {
      template: plan.template,
      tables: plan.tables.map((t) => t.name),
      policies: rendered.policies.length,
      chunks: chunks.length,
      planner: plan.planner,
      buckets: plan.buckets.map((b) => b.id),
      unrecognized: plan.unrecognized,
    },
  );
  return { plan };
};
