import type { PlanSource } from '@vibe/contracts';
import type { ModelPlan } from '../../services/orchestrator/src/planning/openai-planner.js';

/**
 * What a good model adds to a marketplace plan for "buyers book a repair appointment with a seller": a
 * table that only its two participants read and its buyer writes, traced to the chunk that asked for it.
 * Changes the plan in place (plans in the model's form, as the OpenAI planner receives them).
 */
export function addAppointments(model: ModelPlan, chunk: number | null): ModelPlan {
  const source: PlanSource = { chunk, reason: 'buyers book repair appointments with a seller' };
  const column = (
    name: string,
    type: 'uuid' | 'timestamptz',
    extra: Partial<ModelPlan['tables'][number]['columns'][number]> = {},
  ) => ({
    name,
    type,
    nullable: false,
    primaryKey: false,
    unique: false,
    default: null,
    check: null,
    references: null,
    ...extra,
  });
  const profile = () => ({ schema: 'public' as const, table: 'profiles', column: 'id', onDelete: 'cascade' as const });
  model.tables.push({
    name: 'appointments',
    columns: [
      column('id', 'uuid', { primaryKey: true, default: 'gen_random_uuid' }),
      column('buyer_id', 'uuid', { default: 'auth_uid', references: profile() }),
      column('seller_id', 'uuid', { references: profile() }),
      column('starts_at', 'timestamptz'),
    ],
    indexes: [
      { columns: ['buyer_id'], unique: false },
      { columns: ['seller_id'], unique: false },
    ],
    touchUpdatedAt: false,
    source,
  });
  model.policies.push(
    { kind: 'participant_read', table: 'appointments', participantColumns: ['buyer_id', 'seller_id'], source },
    { kind: 'owner_write', table: 'appointments', ownerColumn: 'buyer_id', commands: ['insert', 'delete'], source },
  );
  return model;
}
