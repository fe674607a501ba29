import { z } from 'zod';

/**
 * Verification of a provisioned environment before a build succeeds (DESIGN.md §6, issue 5): the access
 * matrix that the orchestrator derives from the plan and the provisioner executes (`run_access_matrix`), and
 * the verification report kept in `build_sessions.outputs.verification`. WIRE CONTRACT and PERSISTED: the
 * matrix travels in a provision command, the report is stored with the session. Add optional fields, never
 * edit or remove one.
 */

/**
 * A lower-case SQL identifier, as plan.ts's (declared again here: session.ts imports this file, and plan.ts
 * imports session.ts).
 */
const Identifier = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier');

/**
 * Who a cell acts as: `anon` (no JWT subject), `owner` (the user who owns the fixture row: its owner column,
 * its organization's owner, the owner of its folder), `other` (a signed-in user with no relation to the row),
 * and `service_role` (the server's key, which bypasses RLS).
 */
export const AccessActor = z.enum(['anon', 'owner', 'other', 'service_role']);
export type AccessActor = z.infer<typeof AccessActor>;

export const AccessOperation = z.enum(['select', 'insert', 'update', 'delete']);
export type AccessOperation = z.infer<typeof AccessOperation>;

export const AccessExpectation = z.enum(['allow', 'deny']);
export type AccessExpectation = z.infer<typeof AccessExpectation>;

/** What a cell did: `error` is neither allowed nor denied by RLS (a fixture or a statement that failed). */
export const AccessOutcome = z.enum(['allow', 'deny', 'error']);
export type AccessOutcome = z.infer<typeof AccessOutcome>;

/** A column value of a fixture row; strings are SQL literals of the column's type (uuids, timestamps, JSON). */
export const FixtureValue = z.union([z.string().max(2000), z.number(), z.boolean(), z.null()]);
export type FixtureValue = z.infer<typeof FixtureValue>;

/** One row the matrix inserts; columns not given take their defaults. */
export const FixtureRow = z.object({
  schema: z.enum(['public', 'auth', 'storage']),
  table: Identifier,
  values: z.record(Identifier, FixtureValue),
});
export type FixtureRow = z.infer<typeof FixtureRow>;

/**
 * A table (or a bucket's objects) under test: the owner's row, the rows it needs, inserted before it by the
 * superuser (users, parent rows, the owner's membership of an organization), and how an update is made.
 */
export const AccessSubject = z.object({
  /** `public.listings`, `storage.objects (bucket listing-images)`: how cells name it. */
  name: z.string().min(1).max(200),
  row: FixtureRow,
  /** The row's primary key column; `row.values[key]` identifies it. */
  key: Identifier,
  /** Inserted before the row, in this order, ignoring conflicts (a trigger may have made one already). */
  setup: z.array(FixtureRow).max(100),
  /** Inserted after the row for select, update and delete cells (what makes the owner the owner of it). */
  after: z.array(FixtureRow).max(20).default([]),
  /**
   * The update a cell makes: `set column = value` with no filter, so that only the update policies decide
   * which rows it reaches (a filter would add the select policies); the row counts as updated when it then
   * holds the value. Null when no column can take a new value: the update then filters by the key.
   */
  update: z.object({ column: Identifier, value: FixtureValue }).nullable(),
});
export type AccessSubject = z.infer<typeof AccessSubject>;

export const AccessCell = z.object({
  subject: z.string(),
  actor: AccessActor,
  operation: AccessOperation,
  expected: AccessExpectation,
  /** Why it is expected: the policy that allows it, or that none does. */
  reason: z.string().max(500),
});
export type AccessCell = z.infer<typeof AccessCell>;

/** The matrix of one plan: fixture subjects and, per subject, actor and operation, the expected cell. */
export const AccessMatrixSpec = z.object({
  /** The ids the owner and the other user act as (JWT `sub`); fixture rows refer to them. */
  users: z.object({ owner: z.uuid(), other: z.uuid() }),
  subjects: z.array(AccessSubject).max(64),
  cells: z.array(AccessCell).max(1024),
});
export type AccessMatrixSpec = z.infer<typeof AccessMatrixSpec>;

export const AccessCellResult = AccessCell.extend({
  actual: AccessOutcome,
  /** The statement's error for a denied or failed cell (SQLSTATE and message), else null. */
  detail: z.string().nullable(),
});
export type AccessCellResult = z.infer<typeof AccessCellResult>;

/** A policy as the plan renders it; the provisioner normalizes its expressions through Postgres. */
export const PlannedPolicy = z.object({
  schema: z.enum(['public', 'storage']),
  table: Identifier,
  name: Identifier,
  command: z.enum(['select', 'insert', 'update', 'delete']),
  roles: z.array(z.enum(['anon', 'authenticated'])).min(1),
  /** SQL expressions from the renderer (never from a vibe). */
  using: z.string().max(4000).nullable(),
  withCheck: z.string().max(4000).nullable(),
});
export type PlannedPolicy = z.infer<typeof PlannedPolicy>;

/** A policy as the catalog holds it (`pg_policy`), expressions as `pg_get_expr` prints them. */
export const LivePolicy = z.object({
  schema: z.string(),
  table: z.string(),
  name: z.string(),
  /** `select`, `insert`, `update`, `delete` or `all`. */
  command: z.string(),
  roles: z.array(z.string()),
  permissive: z.boolean(),
  using: z.string().nullable(),
  withCheck: z.string().nullable(),
});
export type LivePolicy = z.infer<typeof LivePolicy>;

/** A planned policy's expressions as Postgres stores them: created in a rolled-back transaction and read back. */
export const NormalizedPolicy = z.object({
  schema: z.string(),
  table: z.string(),
  name: z.string(),
  using: z.string().nullable(),
  withCheck: z.string().nullable(),
  /** Why the planned policy could not be made in the environment (its table or a function is missing). */
  error: z.string().optional(),
});
export type NormalizedPolicy = z.infer<typeof NormalizedPolicy>;

/** How cells are named in reports and errors: `other update public.orders`. */
export function accessCellName(cell: Pick<AccessCell, 'actor' | 'operation' | 'subject'>): string {
  return `${cell.actor} ${cell.operation} ${cell.subject}`;
}

export const VerificationLint = z.object({
  name: z.string(),
  level: z.enum(['ERROR', 'WARN', 'INFO']),
  /** The object, `schema.name`. */
  object: z.string(),
  detail: z.string(),
});
export type VerificationLint = z.infer<typeof VerificationLint>;

export const PolicyCheck = z.object({
  /** `public.listings`, `storage.objects`. */
  table: z.string(),
  name: z.string(),
  /** `unexpected`: on a planned table, but not in the plan. */
  status: z.enum(['as_planned', 'missing', 'different', 'unexpected']),
  /** What differs (command, roles, permissive, using, with check), or null. */
  detail: z.string().nullable(),
});
export type PolicyCheck = z.infer<typeof PolicyCheck>;

/** `build_sessions.outputs.verification`: what was checked, and every difference found. */
export const BuildVerification = z.object({
  passed: z.boolean(),
  /** One line per failure: a schema difference, a table without RLS, a policy, a cell, an ERROR lint. */
  failures: z.array(z.string()),
  schema: z.object({
    /** The tables compared (the plan's, and any other in `public`). */
    tables: z.array(z.string()),
    differences: z.array(z.string()),
  }),
  rls: z.array(z.object({ table: z.string(), enabled: z.boolean() })),
  policies: z.array(PolicyCheck),
  matrix: z.object({
    cells: z.array(AccessCellResult),
    /** Names of the cells whose outcome was not the expected one. */
    failed: z.array(z.string()),
  }),
  /** The security advisor: any ERROR fails the build; WARN are reported. */
  lints: z.object({
    errors: z.array(VerificationLint),
    warnings: z.array(VerificationLint),
    info: z.number().int(),
  }),
  durationMs: z.number(),
});
export type BuildVerification = z.infer<typeof BuildVerification>;
