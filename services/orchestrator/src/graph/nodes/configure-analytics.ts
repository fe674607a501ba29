import type { EnvironmentInfo, Plan } from '@vibe/contracts';
import { edgeFunctionAnswerProblems, parseForeignTable, renderPlan, type AnalyticsProvenance } from '@vibe/planning';
import type { BuildDeps } from '../ports.js';
import type { StepBody } from '../step.js';
import { applyAll } from './apply.js';
import { requireEnvironment, requirePlan } from './require.js';
import { together } from './together.js';

/** Where the analytics rows come from when no S3 / Iceberg wrapper is configured. */
export const LOCAL_ANALYTICS_PROVENANCE = 'local views (no S3/Iceberg wrapper configured)';

/** What analytics reads (spec §10.2): the configured wrapper's foreign table, or the plan's own table. */
export function analyticsProvenance(plan: Plan, deps: Pick<BuildDeps, 'analytics'>): AnalyticsProvenance | null {
  const view = plan.analyticsViews[0];
  if (!view) return null;
  const wrapper = deps.analytics?.icebergWrapper ?? null;
  return wrapper
    ? { kind: 'wrapper', relation: wrapper, description: `S3/Iceberg wrapper ${wrapper}` }
    : { kind: 'views', relation: `public.${view.table}`, description: LOCAL_ANALYTICS_PROVENANCE };
}

/** The wrapper's foreign table must be in the environment before analytics is pointed at it. */
export async function requireForeignTable(
  sessionId: string,
  environment: EnvironmentInfo,
  name: string,
  deps: BuildDeps,
): Promise<void> {
  const target = parseForeignTable(name);
  if (!target) throw new Error(`ANALYTICS_ICEBERG_WRAPPER "${name}" is not schema.table`);
  const { rows } = await deps.provisioner.call(sessionId, 'verify:analytics:wrapper', {
    tool: 'execute_sql',
    environmentRef: environment.ref,
    readOnly: true,
    query: `select c.relkind::text as kind from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = '${target.schema}' and c.relname = '${target.table}'`,
  });
  if (rows[0]?.kind !== 'f') {
    throw new Error(
      `ANALYTICS_ICEBERG_WRAPPER names ${name}, which is ${rows.length ? 'not a foreign table' : 'not there'} in ${environment.ref}`,
    );
  }
}

/**
 * Spec §6.1 `configure_analytics` (optional): analytics views and, in demo mode, demo rows in the
 * environment, validated by a read-only run of `run_analytics_query()` (spec §7.3) and through the deployed
 * `analytics_query` Edge Function as a client calls it (spec §11.4: `{ ok: true, rows: [...] }` with its
 * provenance, rows non-empty in demo mode). The rows come from the environment's own tables, or from an
 * S3 / Iceberg wrapper's foreign table where ANALYTICS_ICEBERG_WRAPPER names one (deploy_edge_functions
 * pointed run_analytics_query at it); the event says which. Skipped, and said so, when analytics is off.
 */
export const configureAnalytics: StepBody = async (state, deps, ctx) => {
  const plan = requirePlan(state);
  const environment = requireEnvironment(state);
  const { analytics } = renderPlan(plan);
  if (!analytics.length) {
    const note = 'analytics not requested (neither options.enableAnalytics nor the vibe asked for it)';
    await deps.events.emit(state.sessionId, 'step_completed', 'configure_analytics', `Skipped: ${note}`, {
      step: 'configure_analytics',
      done: [],
      deferred: [note],
    });
    return {};
  }
  const views = plan.analyticsViews.map((view) => view.name);
  const demo = plan.seed !== null;
  const provenance = analyticsProvenance(plan, deps)!.description;
  await ctx.focus({ type: 'analytics', name: views.join(', ') });
  await applyAll(state.sessionId, environment.ref, analytics, deps);
  // The query and the Edge Function that serves it are checked at once.
  const viaFunction = plan.edgeFunctions.some((fn) => fn.slug === 'analytics_query');
  if (viaFunction) await ctx.focus({ type: 'function', name: 'analytics_query' }, 0.5);
  const [{ rows }, answer] = await together([
    deps.provisioner.call(state.sessionId, 'verify:analytics', {
      tool: 'execute_sql',
      environmentRef: environment.ref,
      readOnly: true,
      query: 'select public.run_analytics_query() as rows',
    }),
    viaFunction
      ? deps.provisioner.call(state.sessionId, 'verify:analytics:edge_function', {
          tool: 'invoke_edge_function',
          environmentRef: environment.ref,
          slug: 'analytics_query',
          method: 'POST',
          auth: 'anon',
          body: {},
        })
      : null,
  ]);
  const result = rows[0]?.rows;
  if (!Array.isArray(result)) throw new Error('run_analytics_query() did not return a JSON array');
  if (demo && result.length === 0)
    throw new Error('run_analytics_query() returned no rows although demo rows were seeded');

  let through = 'a read-only query';
  if (answer) {
    const problems = edgeFunctionAnswerProblems('analytics_query', answer);
    const served = (answer.body as { rows?: unknown }).rows;
    if (demo && Array.isArray(served) && served.length === 0) problems.push('"rows" is empty in demo mode');
    if (problems.length) {
      throw new Error(`analytics_query failed its check at ${answer.url}: ${problems.join('; ')}`);
    }
    through = `a read-only query and the analytics_query Edge Function (${Array.isArray(served) ? served.length : 0} row(s))`;
  }
  await deps.events.emit(
    state.sessionId,
    'analytics_configured',
    'analytics',
    `Configured ${views.join(', ')}${demo ? ' with demo rows' : ''}; validated through ${through}: ${result.length} row(s) from ${provenance}`,
    { views, provenance, rowCount: result.length },
  );
  return { analytics: { configured: true, provenance, rowCount: result.length } };
};
