import { edgeFunctionAnswerProblems, renderAnalyticsWrapper, renderEdgeFunctions, renderPlan } from '@vibe/planning';
import { sqlStringList, type StepBody } from '../step.js';
import { applyAll } from './apply.js';
import { analyticsProvenance, requireForeignTable } from './configure-analytics.js';
import { requireEnvironment, requirePlan } from './require.js';
import { together } from './together.js';

/**
 * Spec §6.1 `deploy_edge_functions`: the SQL functions of spec §9.3.0 that the Edge Functions call (created,
 * then found in the catalog), then each planned Edge Function (spec §9.3.1, §9.3.2) deployed through the
 * provisioner's `deploy_edge_function` and verified as a client would use it (spec §7.3, §11.4): a POST with
 * the environment's anon key answers 200 with the right shape and no secret, and, when the function verifies
 * JWTs, a POST without one answers 401. `edge_function_deployed` is emitted for a function only once it
 * passed; a function that fails its check fails the build.
 */
export const deployEdgeFunctions: StepBody = async (state, deps, ctx) => {
  const plan = requirePlan(state);
  const environment = requireEnvironment(state);
  const { functions } = renderPlan(plan);
  const expected = ['inspect_security_state', ...(plan.analyticsViews.length ? ['run_analytics_query'] : [])];
  await ctx.focus({ type: 'function', name: expected.join(', ') });
  // With an S3 / Iceberg wrapper configured (spec §10.2), run_analytics_query reads its foreign table.
  const wrapper = plan.analyticsViews.length ? (deps.analytics?.icebergWrapper ?? null) : null;
  if (wrapper) await requireForeignTable(state.sessionId, environment, wrapper, deps);
  const rendered = renderEdgeFunctions(plan, { analyticsProvenance: analyticsProvenance(plan, deps) ?? undefined });
  // Deploying a function does not need its SQL functions (only answering does): the deploys go out beside
  // the migration, and each function is checked once both are in.
  const [found, deployedAll] = await together([
    (async () => {
      await applyAll(
        state.sessionId,
        environment.ref,
        [functions, ...(wrapper ? [renderAnalyticsWrapper(plan, wrapper)] : [])],
        deps,
      );
      const { rows } = await deps.provisioner.call(state.sessionId, 'verify:functions', {
        tool: 'execute_sql',
        environmentRef: environment.ref,
        readOnly: true,
        query: `select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'public' and p.proname in (${sqlStringList(expected)}) order by p.proname`,
      });
      const names = rows.map((row) => String(row.proname));
      const missing = expected.filter((name) => !names.includes(name));
      if (missing.length) throw new Error(`SQL functions missing after the migration: ${missing.join(', ')}`);
      return names;
    })(),
    together(
      rendered.map((fn) =>
        deps.provisioner.call(state.sessionId, `function:${fn.slug}`, {
          tool: 'deploy_edge_function',
          environmentRef: environment.ref,
          name: fn.slug,
          entrypointPath: fn.entrypointPath,
          verifyJwt: fn.verifyJwt,
          files: fn.files,
        }),
      ),
    ),
  ]);

  // The functions are checked side by side, each with and without a JWT at once (a check may wait on a
  // cold Deno start, the longest wait of the step); their events follow in the plan's order once every
  // check is in.
  await ctx.focus({ type: 'function', name: rendered.map((fn) => fn.slug).join(', ') }, 0.5);
  const checked = await together(
    rendered.map(async (fn, i) => {
      const deployed = deployedAll[i]!.function;
      const [answer, refused] = await together([
        deps.provisioner.call(state.sessionId, `verify:function:${fn.slug}:v${deployed.version}`, {
          tool: 'invoke_edge_function',
          environmentRef: environment.ref,
          slug: fn.slug,
          method: 'POST',
          auth: 'anon',
          body: {},
        }),
        fn.verifyJwt
          ? deps.provisioner.call(state.sessionId, `verify:function:${fn.slug}:v${deployed.version}:no-jwt`, {
              tool: 'invoke_edge_function',
              environmentRef: environment.ref,
              slug: fn.slug,
              method: 'POST',
              auth: 'none',
            })
          : null,
      ]);
      const problems = edgeFunctionAnswerProblems(fn.slug, answer);
      if (refused && refused.status !== 401) problems.push(`without a JWT it answered ${refused.status}, not 401`);
      return { fn, deployed, answer, problems };
    }),
  );
  for (const { fn, deployed, answer, problems } of checked) {
    if (problems.length) {
      throw new Error(`Edge Function ${fn.slug} failed its check at ${answer.url}: ${problems.join('; ')}`);
    }
    await deps.events.emit(
      state.sessionId,
      'edge_function_deployed',
      fn.slug,
      `Deployed Edge Function ${fn.slug} (version ${deployed.version}) at ${answer.url}: POST answered ${answer.status} in ${answer.durationMs} ms with the expected shape${fn.verifyJwt ? ', and 401 without a JWT' : ''}`,
      { slug: fn.slug, url: answer.url, verified: true },
    );
  }
  return { functions: found };
};
