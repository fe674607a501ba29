import { z } from 'zod';
import { Template } from './session.js';

/**
 * The build plan: what a build will create, in a closed vocabulary. A planner (rules or a language model)
 * fills it; it is validated; the orchestrator's renderer alone turns it into SQL. Nothing in a plan is SQL
 * text: checks, defaults and policies are kinds from the lists below, so a prompt-injected vibe can at most
 * produce another valid plan. Persisted in `build_sessions.plan` (PERSISTED: add version 3, never edit).
 */

/** A lower-case SQL identifier; the renderer quotes it. */
export const Identifier = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,62}$/, 'a lower-case identifier: a letter, then letters, digits or "_", at most 63');
export type Identifier = z.infer<typeof Identifier>;

/** Which spec chunk caused a plan item (its `chunk_index`), and why; `chunk` is null for template baselines. */
export const PlanSource = z.object({
  chunk: z.number().int().min(0).nullable(),
  reason: z.string().max(300),
});
export type PlanSource = z.infer<typeof PlanSource>;

export const ColumnType = z.enum([
  'uuid',
  'text',
  'int',
  'bigint',
  'numeric',
  'boolean',
  'timestamptz',
  'date',
  'jsonb',
]);
export type ColumnType = z.infer<typeof ColumnType>;

export const ColumnDefault = z.union([
  z.enum(['now', 'gen_random_uuid', 'auth_uid', 'true', 'false', 'zero', 'empty_object']),
  /** A short text constant, such as a status. */
  z.object({ text: z.string().regex(/^[a-z0-9_ -]{1,40}$/, 'short lower-case words') }),
]);
export type ColumnDefault = z.infer<typeof ColumnDefault>;

export const ColumnCheck = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('non_negative') }),
  z.object({ kind: z.literal('positive') }),
  z.object({ kind: z.literal('between'), min: z.number().int(), max: z.number().int() }),
  z.object({
    kind: z.literal('one_of'),
    values: z
      .array(z.string().regex(/^[a-z0-9_ -]{1,40}$/, 'short lower-case words'))
      .min(1)
      .max(20),
  }),
  z.object({ kind: z.literal('max_length'), max: z.number().int().min(1).max(100_000) }),
]);
export type ColumnCheck = z.infer<typeof ColumnCheck>;

export const ColumnReference = z.object({
  /** `auth.users` for user ids; otherwise a table of the plan. */
  schema: z.enum(['public', 'auth']).default('public'),
  table: Identifier,
  column: Identifier.default('id'),
  onDelete: z.enum(['cascade', 'restrict', 'set null']).default('cascade'),
});
export type ColumnReference = z.infer<typeof ColumnReference>;

export const PlanColumn = z.object({
  name: Identifier,
  type: ColumnType,
  nullable: z.boolean().default(true),
  primaryKey: z.boolean().default(false),
  unique: z.boolean().default(false),
  default: ColumnDefault.nullable().default(null),
  check: ColumnCheck.nullable().default(null),
  references: ColumnReference.nullable().default(null),
});
export type PlanColumn = z.infer<typeof PlanColumn>;

export const PlanIndex = z.object({
  columns: z.array(Identifier).min(1).max(8),
  unique: z.boolean().default(false),
});
export type PlanIndex = z.infer<typeof PlanIndex>;

export const PlanTable = z.object({
  name: Identifier,
  columns: z.array(PlanColumn).min(1).max(64),
  indexes: z.array(PlanIndex).max(16).default([]),
  /** Keeps an `updated_at` column current with a trigger. */
  touchUpdatedAt: z.boolean().default(false),
  source: PlanSource,
});
export type PlanTable = z.infer<typeof PlanTable>;

const WriteCommand = z.enum(['insert', 'update', 'delete']);

/**
 * Policy kinds. The renderer expands each into policies with `(select auth.uid())` predicates; none of them
 * lets `anon` write, and none has a write predicate that is always true.
 */
export const PlanPolicy = z.discriminatedUnion('kind', [
  /** Everyone (anon and authenticated) reads rows; optionally only those whose column equals a value. */
  z.object({
    kind: z.literal('public_read'),
    table: Identifier,
    where: z
      .object({ column: Identifier, equals: z.string().max(40) })
      .nullable()
      .default(null),
    /** Owners also read their own rows that the filter hides. */
    ownerColumn: Identifier.nullable().default(null),
    source: PlanSource,
  }),
  /** A signed-in user reads the rows whose owner column is their id. */
  z.object({ kind: z.literal('owner_read'), table: Identifier, ownerColumn: Identifier, source: PlanSource }),
  /** A signed-in user inserts, updates or deletes only rows whose owner column is their id. */
  z.object({
    kind: z.literal('owner_write'),
    table: Identifier,
    ownerColumn: Identifier,
    commands: z.array(WriteCommand).min(1),
    source: PlanSource,
  }),
  /** A signed-in user reads rows where any of the columns is their id (sender or recipient, buyer or seller). */
  z.object({
    kind: z.literal('participant_read'),
    table: Identifier,
    participantColumns: z.array(Identifier).min(1).max(4),
    source: PlanSource,
  }),
  /** The owner of the parent row (for example the listing's owner) reads the child rows. */
  z.object({
    kind: z.literal('parent_owner_read'),
    table: Identifier,
    parentColumn: Identifier,
    parentTable: Identifier,
    parentOwnerColumn: Identifier,
    source: PlanSource,
  }),
  /** The owner of the parent row writes the child rows (for example tags of one's own listing). */
  z.object({
    kind: z.literal('parent_owner_write'),
    table: Identifier,
    parentColumn: Identifier,
    parentTable: Identifier,
    parentOwnerColumn: Identifier,
    commands: z.array(WriteCommand).min(1),
    source: PlanSource,
  }),
  /** Members of the row's organization read it. */
  z.object({ kind: z.literal('org_member_read'), table: Identifier, orgColumn: Identifier, source: PlanSource }),
  /** Members of the organization insert rows into it, as themselves. */
  z.object({
    kind: z.literal('org_member_insert'),
    table: Identifier,
    orgColumn: Identifier,
    ownerColumn: Identifier.nullable().default(null),
    source: PlanSource,
  }),
  /** Admins (and owners) of the row's organization write it. */
  z.object({
    kind: z.literal('org_admin_write'),
    table: Identifier,
    orgColumn: Identifier,
    commands: z.array(WriteCommand).min(1),
    source: PlanSource,
  }),
]);
export type PlanPolicy = z.infer<typeof PlanPolicy>;
export type PolicyKind = PlanPolicy['kind'];

/** A private storage bucket whose objects live under `<user id>/…` (spec §9.4). */
export const PlanBucket = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'a bucket id: lower-case letters, digits and "-"'),
  public: z.literal(false).default(false),
  folderPolicy: z.literal('owner_folder').default('owner_folder'),
  source: PlanSource,
});
export type PlanBucket = z.infer<typeof PlanBucket>;

export const EdgeFunctionSlug = z.enum(['drift_check', 'analytics_query']);
export type EdgeFunctionSlug = z.infer<typeof EdgeFunctionSlug>;

export const PlanEdgeFunction = z.object({
  slug: EdgeFunctionSlug,
  verifyJwt: z.boolean().default(true),
  source: PlanSource,
});
export type PlanEdgeFunction = z.infer<typeof PlanEdgeFunction>;

/** Rows per day of a table, optionally with a sum of an integer column (spec §9.3.0 `run_analytics_query`). */
export const PlanAnalyticsView = z.object({
  name: Identifier,
  table: Identifier,
  sumColumn: Identifier.nullable().default(null),
  source: PlanSource,
});
export type PlanAnalyticsView = z.infer<typeof PlanAnalyticsView>;

export const SeedValue = z.union([
  z.string().max(500),
  z.number(),
  z.boolean(),
  z.null(),
  /** The id of the n-th demo user. */
  z.object({ user: z.number().int().min(0).max(99) }),
  /** The id of the n-th seed row of a table. */
  z.object({ row: z.number().int().min(0).max(999), table: Identifier }),
  /** A point in time this many days before the build. */
  z.object({ daysAgo: z.number().int().min(0).max(3650) }),
]);
export type SeedValue = z.infer<typeof SeedValue>;

/** Demo data: users in `auth.users`, then rows; ids are derived from the environment so re-runs insert nothing. */
export const PlanSeed = z.object({
  users: z.array(z.object({ email: z.email(), name: z.string().max(100) })).max(20),
  rows: z.array(z.object({ table: Identifier, values: z.record(Identifier, SeedValue) })).max(500),
});
export type PlanSeed = z.infer<typeof PlanSeed>;

/** Something the vibe asked for that no rule or template covers: reported, never silently dropped. */
export const PlanUnrecognized = z.object({
  chunk: z.number().int().min(0).nullable(),
  text: z.string().max(400),
  note: z.string(),
});
export type PlanUnrecognized = z.infer<typeof PlanUnrecognized>;

export const Plan = z.object({
  version: z.literal(2),
  template: Template,
  planner: z.enum(['rules', 'openai']),
  tables: z.array(PlanTable).min(1).max(40),
  policies: z.array(PlanPolicy).max(200),
  buckets: z.array(PlanBucket).max(10).default([]),
  edgeFunctions: z.array(PlanEdgeFunction).max(10).default([]),
  analyticsViews: z.array(PlanAnalyticsView).max(10).default([]),
  seed: PlanSeed.nullable().default(null),
  options: z.object({ enableAnalytics: z.boolean(), enableDriftSentinel: z.boolean() }),
  unrecognized: z.array(PlanUnrecognized).max(100).default([]),
});
export type Plan = z.infer<typeof Plan>;
