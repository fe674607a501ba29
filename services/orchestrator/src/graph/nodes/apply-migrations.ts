import { renderPlan } from '@vibe/planning';
import type { StepBody } from '../step.js';
import { applyAll } from './apply.js';
import { requireEnvironment, requirePlan } from './require.js';
import { sendingInOrder } from './together.js';

/**
 * Spec §6.1 `apply_migrations`: renders the plan's schema migrations, applies them, then reads the
 * environment's catalog back (spec §7.3 "verify schema state"); `table_created` is emitted only for tables
 * found there with every planned column.
 */
export const applyMigrations: StepBody = async (state, deps, ctx) => {
  const plan = requirePlan(state);
  const environment = requireEnvironment(state);
  const { schema } = renderPlan(plan);
  await deps.events.emit(
    state.sessionId,
    'migration_started',
    'schema',
    `Applying ${schema.map((m) => m.name).join(', ')}`,
    { migrations: schema.map((m) => m.name) },
  );
  await applyAll(state.sessionId, environment.ref, schema, deps);
  const { tables } = await deps.provisioner.call(state.sessionId, 'verify:schema', {
    tool: 'list_tables',
    environmentRef: environment.ref,
    schemas: ['public'],
  });
  // Presence and events go out without waiting for each acknowledgement (see sendingInOrder).
  await sendingInOrder((send) => {
    for (const [i, planned] of plan.tables.entries()) {
      const found = tables.find((table) => table.name === planned.name);
      if (!found) throw new Error(`table ${planned.name} is missing after the migration`);
      const missing = planned.columns.filter((column) => !found.columns.some((c) => c.name === column.name));
      if (missing.length) {
        throw new Error(`table ${planned.name} lacks columns ${missing.map((c) => c.name).join(', ')}`);
      }
      send(
        ctx.focus({ type: 'table', name: planned.name }, (i + 1) / plan.tables.length),
        deps.events.emit(state.sessionId, 'table_created', planned.name, `Created table public.${planned.name}`, {
          table: planned.name,
          columns: found.columns.map((c) => c.name),
        }),
      );
    }
  });
  return {};
};
