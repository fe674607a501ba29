import type { PlanPolicy, PlanTable } from '@vibe/contracts';
import { baseline, column, createdAt, updatedAt } from '../vocabulary.js';

/** Spec §9.1.1: one profile per auth user, created by the new-user trigger. */
export function profilesTable(): PlanTable {
  return {
    name: 'profiles',
    columns: [
      column('id', 'uuid', { primaryKey: true, references: { schema: 'auth', table: 'users' } }),
      createdAt(),
      updatedAt(),
      column('display_name', 'text'),
      column('avatar_url', 'text'),
    ],
    indexes: [],
    touchUpdatedAt: true,
    source: baseline('common primitive (spec §9.1.1)'),
  };
}

export function profilesPolicies(): PlanPolicy[] {
  return [
    { kind: 'owner_read', table: 'profiles', ownerColumn: 'id', source: baseline('spec §9.1.1 profiles_read_own') },
    {
      kind: 'owner_write',
      table: 'profiles',
      ownerColumn: 'id',
      commands: ['update'],
      source: baseline('spec §9.1.1 profiles_update_own'),
    },
  ];
}
