import type { BuildVerification } from '@vibe/contracts';
import {
  accessMatrix,
  expectedSchema,
  plannedPolicies,
  SCHEMA_CATALOG_SQL,
  schemaFromCatalog,
  verificationReport,
} from '@vibe/planning';
import type { BuildDeps } from '../ports.js';
import type { BuildStateValue } from '../state.js';
import type { StepContext } from '../step.js';
import { requireEnvironment, requirePlan } from './require.js';
import { together } from './together.js';

/**
 * Verification before `build_succeeded` (issue 5, DESIGN.md §6, spec §11), through the provisioner only:
 * 1. the schema: the environment's catalog of `public`, read with `execute_sql` on the read-only MCP server,
 *    against `expectedSchema(plan)` (tables, columns, types, nullability, defaults, keys, foreign keys,
 *    checks, indexes) and RLS on every table;
 * 2. the policies and the access matrix: `run_access_matrix` prints the planned policies beside the live
 *    ones, then runs every cell of `accessMatrix(plan)` (anon, the owner, another user and the service role;
 *    select, insert, update, delete; every table and bucket) in transactions that are rolled back;
 * 3. the security advisor (`get_advisors`, security): an ERROR lint fails the build, WARNs are reported.
 * Each call has a stable key, so a finalize that runs again is answered from the provisioner's ledger.
 * Returns the report; the caller decides what a failed one means.
 */
export async function verifyEnvironment(
  state: BuildStateValue,
  deps: BuildDeps,
  ctx: StepContext,
): Promise<BuildVerification> {
  const plan = requirePlan(state);
  const environment = requireEnvironment(state);
  const startedAt = deps.now();

  // The three checks read (or roll back) and do not depend on each other: they run at once, sent before
  // anything else of the step (the access matrix, the longest, first), with the presence update beside them.
  const planned = plannedPolicies(plan);
  const [matrix, { rows }, { lints }] = await together([
    deps.provisioner.call(state.sessionId, 'verify:access-matrix', {
      tool: 'run_access_matrix',
      environmentRef: environment.ref,
      matrix: accessMatrix(plan),
      policies: planned,
    }),
    deps.provisioner.call(state.sessionId, 'verify:catalog', {
      tool: 'execute_sql',
      environmentRef: environment.ref,
      readOnly: true,
      query: SCHEMA_CATALOG_SQL,
    }),
    deps.provisioner.call(state.sessionId, 'verify:advisors:security', {
      tool: 'get_advisors',
      environmentRef: environment.ref,
      type: 'security',
    }),
    ctx.focus({ type: 'policy', name: 'access matrix' }, 0.1),
  ]);

  return verificationReport({
    expectedSchema: expectedSchema(plan),
    actualSchema: schemaFromCatalog(rows),
    planned,
    policies: matrix.policies,
    cells: matrix.cells,
    lints,
    durationMs: deps.now() - startedAt,
  });
}
