import type { PlanPolicy } from '@vibe/contracts';
import { ident, qualified } from './sql.js';

/** A policy as Postgres stores it: what the renderer writes and what verification compares against. */
export interface ExpandedPolicy {
  table: string;
  name: string;
  command: 'select' | 'insert' | 'update' | 'delete';
  roles: Array<'anon' | 'authenticated'>;
  using: string | null;
  withCheck: string | null;
}

/** The caller's user id, evaluated once per statement rather than per row (lint auth_rls_initplan). */
export const UID = '(select auth.uid())';

const eq = (column: string) => `${ident(column)} = ${UID}`;

/**
 * Expands a policy kind into concrete policies. Every write predicate ties the row to the caller (their id,
 * their parent row, their organization), so none is always true, and `anon` never gets a write.
 */
export function expandPolicy(policy: PlanPolicy): ExpandedPolicy[] {
  const t = policy.table;
  switch (policy.kind) {
    case 'public_read': {
      const filter = policy.where ? `${ident(policy.where.column)} = ${literal(policy.where.equals)}` : 'true';
      const using = policy.ownerColumn ? `${filter} or ${eq(policy.ownerColumn)}` : filter;
      return [
        {
          table: t,
          name: `${t}_read_public`,
          command: 'select',
          roles: ['anon', 'authenticated'],
          using,
          withCheck: null,
        },
      ];
    }
    case 'owner_read':
      return [
        {
          table: t,
          name: `${t}_read_own`,
          command: 'select',
          roles: ['authenticated'],
          using: eq(policy.ownerColumn),
          withCheck: null,
        },
      ];
    case 'owner_write':
      return policy.commands.map((command) => writePolicy(t, `${t}_${command}_own`, command, eq(policy.ownerColumn)));
    case 'participant_read':
      return [
        {
          table: t,
          name: `${t}_read_participant`,
          command: 'select',
          roles: ['authenticated'],
          using: policy.participantColumns.map(eq).join(' or '),
          withCheck: null,
        },
      ];
    case 'parent_owner_read':
    case 'parent_owner_write': {
      const predicate =
        `exists (select 1 from ${qualified(policy.parentTable)} p ` +
        `where p.${ident('id')} = ${qualified(t)}.${ident(policy.parentColumn)} and p.${ident(policy.parentOwnerColumn)} = ${UID})`;
      if (policy.kind === 'parent_owner_read') {
        return [
          {
            table: t,
            name: `${t}_read_${policy.parentTable}_owner`,
            command: 'select',
            roles: ['authenticated'],
            using: predicate,
            withCheck: null,
          },
        ];
      }
      return policy.commands.map((command) =>
        writePolicy(t, `${t}_${command}_${policy.parentTable}_owner`, command, predicate),
      );
    }
    case 'org_member_read':
      return [
        {
          table: t,
          name: `${t}_read_org_member`,
          command: 'select',
          roles: ['authenticated'],
          using: `private.is_org_member(${ident(policy.orgColumn)})`,
          withCheck: null,
        },
      ];
    case 'org_member_insert': {
      const member = `private.is_org_member(${ident(policy.orgColumn)})`;
      return [
        writePolicy(
          t,
          `${t}_insert_org_member`,
          'insert',
          policy.ownerColumn ? `${member} and ${eq(policy.ownerColumn)}` : member,
        ),
      ];
    }
    case 'org_admin_write':
      return policy.commands.map((command) =>
        writePolicy(t, `${t}_${command}_org_admin`, command, `private.is_org_admin(${ident(policy.orgColumn)})`),
      );
    default: {
      const unknown: never = policy;
      throw new Error(`unknown policy kind ${JSON.stringify(unknown)}`);
    }
  }
}

function writePolicy(
  table: string,
  name: string,
  command: 'insert' | 'update' | 'delete',
  predicate: string,
): ExpandedPolicy {
  return {
    table,
    name,
    command,
    roles: ['authenticated'],
    using: command === 'insert' ? null : predicate,
    withCheck: command === 'delete' ? null : predicate,
  };
}

export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function renderPolicy(policy: ExpandedPolicy): string {
  const lines = [
    `create policy ${ident(policy.name)}`,
    `on ${qualified(policy.table)}`,
    'as permissive',
    `for ${policy.command}`,
    `to ${policy.roles.join(', ')}`,
  ];
  if (policy.using !== null) lines.push(`using (${policy.using})`);
  if (policy.withCheck !== null) lines.push(`with check (${policy.withCheck})`);
  return `drop policy if exists ${ident(policy.name)} on ${qualified(policy.table)};\n${lines.join('\n')};`;
}
