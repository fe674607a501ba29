import { renderPlan } from '@vibe/planning';
import { sqlStringList, type StepBody } from '../step.js';
import type { BuiltPolicy } from '../state.js';
import { applyAll } from './apply.js';
import { requireEnvironment, requirePlan } from './require.js';
import { sendingInOrder, together } from './together.js';

/**
 * Spec §6.1 `configure_rls`: RLS on every table, the plan's policies, and storage buckets with their folder
 * policies, then verified by reading `pg_class` and `pg_policies` (spec §11.2). Events are emitted for what
 * the catalog shows; a table without RLS or a missing or different policy fails the build.
 */
export const configureRls: StepBody = async (state, deps, ctx) => {
  const plan = requirePlan(state);
  const environment = requireEnvironment(state);
  const rendered = renderPlan(plan);
  await applyAll(state.sessionId, environment.ref, rendered.security, deps);

  const tableNames = sqlStringList(plan.tables.map((t) => t.name));
  const [{ rows: rlsRows }, { rows: policyRows }] = await together([
    deps.provisioner.call(state.sessionId, 'verify:rls', {
      tool: 'execute_sql',
      environmentRef: environment.ref,
      readOnly: true,
      query: `select c.relname, c.relrowsecurity
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind = 'r' and c.relname in (${tableNames})
order by c.relname`,
    }),
    deps.provisioner.call(state.sessionId, 'verify:policies', {
      tool: 'execute_sql',
      environmentRef: environment.ref,
      readOnly: true,
      query: `select schemaname, tablename, policyname, lower(cmd) as cmd, roles::text[] as roles
from pg_policies
where (schemaname = 'public' and tablename in (${tableNames})) or (schemaname = 'storage' and tablename = 'objects')
order by schemaname, tablename, policyname`,
    }),
  ]);

  const tables = plan.tables.map((planned) => {
    const row = rlsRows.find((r) => r.relname === planned.name);
    if (row?.relrowsecurity !== true) throw new Error(`RLS is not enabled on public.${planned.name}`);
    return { name: planned.name, rlsEnabled: true };
  });

  const storagePolicies = plan.buckets.flatMap((bucket) =>
    ['read', 'insert', 'update', 'delete'].map((verb) => ({
      schema: 'storage',
      table: 'objects',
      name: `${bucket.id.replace(/-/g, '_')}_${verb}_own`,
      command: verb === 'read' ? 'select' : verb,
      roles: ['authenticated'],
    })),
  );
  const expected = [
    ...rendered.policies.map((p) => ({
      schema: 'public',
      table: p.table,
      name: p.name,
      command: p.command,
      roles: p.roles,
    })),
    ...storagePolicies,
  ];
  // Presence and events go out without waiting for each acknowledgement (see sendingInOrder).
  return sendingInOrder((send) => {
    for (const table of tables) {
      send(
        ctx.focus({ type: 'table', name: table.name }, 0.2),
        deps.events.emit(state.sessionId, 'rls_enabled', table.name, `Enabled RLS on public.${table.name}`, {
          table: table.name,
        }),
      );
    }
    const policies: BuiltPolicy[] = [];
    for (const [i, planned] of expected.entries()) {
      const where = `${planned.schema}.${planned.table}`;
      const row = policyRows.find(
        (r) => r.schemaname === planned.schema && r.tablename === planned.table && r.policyname === planned.name,
      );
      if (!row) throw new Error(`policy ${planned.name} on ${where} is missing`);
      const roles = Array.isArray(row.roles) ? row.roles.map(String).sort() : [];
      if (row.cmd !== planned.command || roles.join(',') !== [...planned.roles].sort().join(',')) {
        throw new Error(`policy ${planned.name} on ${where} differs from the plan`);
      }
      const table = planned.schema === 'public' ? planned.table : where;
      policies.push({ table, name: planned.name, command: planned.command, roles });
      send(
        ctx.focus({ type: 'policy', name: planned.name }, 0.2 + (0.8 * (i + 1)) / expected.length),
        deps.events.emit(
          state.sessionId,
          'policy_created',
          `${table}.${planned.name}`,
          `Created policy ${planned.name} on ${where} (${planned.command} to ${roles.join(', ')})`,
          { table, policy: planned.name, command: planned.command, roles },
        ),
      );
    }
    return { tables, policies };
  });
};
