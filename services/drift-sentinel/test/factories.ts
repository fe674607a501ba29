/**
 * Factories for the sentinel's tests: plans made by the rules planner from a vibe, and the environment a
 * faithful build of a plan shows (as the snapshot query reads it), to tamper with.
 */
import type { Plan, Template } from '@vibe/contracts';
import { chunkVibe, planWithRules } from '@vibe/planning';
import { plannedState } from '../src/drift/expected.js';
import type { Observed, ObservedConstraint, ObservedTable } from '../src/drift/observed.js';

/**
 * Five chunks (each paragraph is one sentence of more than 200 characters, so no two share a chunk of at
 * most 400), each about one part of the app: listings, bids, orders, profiles, monitoring.
 */
export const MARKETPLACE_VIBE = [
  'A marketplace for vintage furniture where sellers list their pieces with a title, a description and a price in cents, ' +
    'edit or archive their own listings at any time, and where anonymous visitors can browse the active listings of the catalogue.',
  'Bidders place bids on the pieces they want, and a bidder only ever sees the bids they placed themselves: nobody can place ' +
    'a bid in the name of someone else, and the amount of every bid must be positive, because bids are the heart of this auction house.',
  'Buyers check out orders for the pieces they won, each buyer reads only their own orders and their own order history with ' +
    'the total in cents, and the orders of one buyer must stay private from every other buyer and from the sellers.',
  'Every user has a private profile with a display name and an avatar, user accounts and profiles are personal data, and each ' +
    "user sees and updates only their own profile and never anybody else's, so the profile pages and the accounts behind them stay private.",
  'We must monitor the database for drift and audit any tampering with its security settings, with row level security on ' +
    'every table, so that the application keeps running exactly as it was planned on the very first day.',
].join(' ');

/** The chunk (`spec_chunks.chunk_index`) of MARKETPLACE_VIBE that is about each part. */
export const VIBE_CHUNK = { listings: 0, bids: 1, orders: 2, profiles: 3, monitoring: 4 } as const;

export function planFor(
  vibeText = MARKETPLACE_VIBE,
  template: Template = 'marketplace',
  options: { enableAnalytics?: boolean; enableDriftSentinel?: boolean } = {},
): Plan {
  return planWithRules({
    vibeText,
    chunks: chunkVibe(vibeText),
    template,
    options: {
      enableAnalytics: options.enableAnalytics ?? false,
      enableDriftSentinel: options.enableDriftSentinel ?? true,
    },
  });
}

const API_PRIVILEGES = ['anon', 'authenticated'].flatMap((role) =>
  ['delete', 'insert', 'select', 'update'].map((privilege) => `${role}:${privilege}`),
);

/**
 * The environment as a faithful build of the plan leaves it, in the snapshot's terms. Expressions are the
 * renderer's text (the diff compares them by meaning, so Postgres' spelling of them is the same to it).
 */
export function observedFromPlan(plan: Plan, options: { deferred?: string[] } = {}): Observed {
  const planned = plannedState(plan, options);
  const tables = planned.tables.map((table): ObservedTable => {
    const constraints: ObservedConstraint[] = table.constraints.map((constraint) => ({
      name: constraint.name,
      kind: constraint.kind,
      columns: constraint.columns,
      expression: constraint.kind === 'c' ? `(${constraint.expression})` : null,
      references: constraint.kind === 'f' ? constraint.references : null,
      definition: constraint.sql,
    }));
    const keyIndexes = table.constraints
      .filter((constraint) => constraint.kind === 'p' || constraint.kind === 'u')
      .map((constraint) => ({
        name: constraint.name,
        unique: true,
        constraint: true,
        columns: constraint.columns,
        partial: false,
        expressions: false,
        definition: `CREATE UNIQUE INDEX ${constraint.name} ON public.${table.table.name}`,
      }));
    return {
      name: table.table.name,
      rlsEnabled: true,
      apiPrivileges: API_PRIVILEGES,
      columns: table.columns.map((column) => ({
        name: column.column.name,
        type: column.type,
        notNull: column.notNull,
        default: column.default,
      })),
      constraints,
      indexes: [
        ...keyIndexes,
        ...table.indexes.map((index) => ({
          name: index.name,
          unique: index.unique,
          constraint: false,
          columns: index.columns,
          partial: false,
          expressions: false,
          definition: index.sql,
        })),
      ],
    };
  });
  return {
    snapshot: {
      tables,
      policies: [...planned.tables.flatMap((table) => table.policies), ...planned.storagePolicies].map((policy) => ({
        schema: policy.schema,
        table: policy.table,
        name: policy.name,
        permissive: true,
        command: policy.command,
        roles: policy.roles,
        using: policy.using,
        withCheck: policy.withCheck,
      })),
      views: planned.views.map((view) => ({
        name: view.view.name,
        materialized: false,
        securityInvoker: true,
        apiSelect: ['authenticated'],
        dependsOn: [`public.${view.view.table}`],
      })),
    },
    lints: [],
    edgeFunctions: planned.edgeFunctions.map((fn) => fn.slug),
  };
}
