import type {
  AccessActor,
  AccessCell,
  AccessExpectation,
  AccessMatrixSpec,
  AccessOperation,
  AccessSubject,
  ColumnCheck,
  FixtureRow,
  FixtureValue,
  Plan,
  PlanBucket,
  PlanColumn,
  PlannedPolicy,
  PlanPolicy,
  PlanTable,
} from '@vibe/contracts';
import { expandPolicy } from './policies.js';
import { bucketPolicies, InvalidPlanError } from './render-sql.js';
import { ORG_TABLES, tableOrder, validatePlan } from './validate-plan.js';

/**
 * The access matrix of a plan (DESIGN.md §6, issue 5): for every table (and every bucket's objects) a
 * fixture row owned by one user, and for each actor (anon, that owner, another user, the service role) and
 * operation (select, insert, update, delete) whether Postgres must allow or deny it, derived from the plan's
 * policy kinds, not from the SQL they render to. The provisioner executes it (`run_access_matrix`) in
 * transactions that are rolled back; a cell whose outcome differs from its expectation fails the build.
 * Pure and deterministic: the same plan gives the same matrix.
 *
 * What a cell means:
 * - select: the actor's `select … where <key> = <row>` returns the row;
 * - insert: the actor inserts the row (its parents already there) without error;
 * - update: the actor's `update … set <column> = <new value>` with no filter reaches the row. Without a
 *   filter only the update policies decide (a filter would add the select policies), so an update policy
 *   that is too wide shows even on a table whose rows the actor cannot read;
 * - delete: the actor's `delete from …` with no filter removes the row, likewise.
 * The service role's update and delete filter by the row's key: it bypasses RLS, and unfiltered it would
 * reach every row of the environment.
 */

/** Fixed ids of the matrix's users; every fixture row is rolled back, so they never persist. */
export const ACCESS_MATRIX_USERS = {
  owner: 'acce5500-0000-4000-8000-00000000000a',
  other: 'acce5500-0000-4000-8000-00000000000b',
  /** A third user, for rows that must belong to someone other than the owner (another member's membership). */
  bystander: 'acce5500-0000-4000-8000-00000000000c',
} as const;

export const ACCESS_ACTORS: readonly AccessActor[] = ['anon', 'owner', 'other', 'service_role'];
export const ACCESS_OPERATIONS: readonly AccessOperation[] = ['select', 'insert', 'update', 'delete'];

const USER_EMAILS: Record<keyof typeof ACCESS_MATRIX_USERS, string> = {
  owner: 'access-matrix-owner@vibe-architect.invalid',
  other: 'access-matrix-other@vibe-architect.invalid',
  bystander: 'access-matrix-bystander@vibe-architect.invalid',
};

const FIXTURE_TEXT = 'vibe access matrix';
const FIXTURE_TIME = '2000-01-01T00:00:00.000Z';
const UPDATED_TIME = '2001-02-03T04:05:06.000Z';

type Values = Record<string, FixtureValue>;
type Actor = { actor: AccessActor; role: 'anon' | 'authenticated' | 'service_role'; uid: string | null };

const ACTORS: Record<AccessActor, Actor> = {
  anon: { actor: 'anon', role: 'anon', uid: null },
  owner: { actor: 'owner', role: 'authenticated', uid: ACCESS_MATRIX_USERS.owner },
  other: { actor: 'other', role: 'authenticated', uid: ACCESS_MATRIX_USERS.other },
  service_role: { actor: 'service_role', role: 'service_role', uid: null },
};

/** A deterministic uuid per fixture row. */
function rowId(n: number): string {
  return `acce5500-0000-4000-8000-${(0x100 + n).toString(16).padStart(12, '0')}`;
}

/** The plan's policies as the renderer writes them, public tables and bucket folders together. */
export function plannedPolicies(plan: Plan): PlannedPolicy[] {
  const fromTables = plan.policies.flatMap(expandPolicy).map((p) => ({ schema: 'public' as const, ...p }));
  const fromBuckets = plan.buckets.flatMap(bucketPolicies).map((p) => ({ schema: 'storage' as const, ...p }));
  return [...fromTables, ...fromBuckets];
}

/** What the plan's policies say about who owns a row: columns that hold a user's id or an organization. */
interface Ownership {
  /** `table.column` of columns that policies compare with the caller's id. */
  userColumns: Set<string>;
  /** `table.column` of columns that policies take as the row's organization. */
  orgColumns: Set<string>;
  /** `table.column` of columns a policy filters on with a value (public_read's `where`): column → value. */
  filters: Map<string, string>;
  /** `table.column` of columns a policy follows to a parent row. */
  parentColumns: Set<string>;
}

function ownershipOf(plan: Plan): Ownership {
  const userColumns = new Set<string>();
  const orgColumns = new Set<string>();
  const filters = new Map<string, string>();
  const parentColumns = new Set<string>();
  for (const policy of plan.policies) {
    const t = policy.table;
    switch (policy.kind) {
      case 'public_read':
        if (policy.ownerColumn) userColumns.add(`${t}.${policy.ownerColumn}`);
        if (policy.where) filters.set(`${t}.${policy.where.column}`, policy.where.equals);
        break;
      case 'owner_read':
      case 'owner_write':
        userColumns.add(`${t}.${policy.ownerColumn}`);
        break;
      case 'participant_read':
        for (const c of policy.participantColumns) userColumns.add(`${t}.${c}`);
        break;
      case 'parent_owner_read':
      case 'parent_owner_write':
        userColumns.add(`${policy.parentTable}.${policy.parentOwnerColumn}`);
        parentColumns.add(`${t}.${policy.parentColumn}`);
        break;
      case 'org_member_read':
      case 'org_admin_write':
        orgColumns.add(`${t}.${policy.orgColumn}`);
        break;
      case 'org_member_insert':
        orgColumns.add(`${t}.${policy.orgColumn}`);
        if (policy.ownerColumn) userColumns.add(`${t}.${policy.ownerColumn}`);
        break;
      default: {
        const unknown: never = policy;
        throw new Error(`unknown policy kind ${JSON.stringify(unknown)}`);
      }
    }
  }
  return { userColumns, orgColumns, filters, parentColumns };
}

/** A value of the column's type that satisfies its check. */
function valueFor(column: PlanColumn, preferred?: string): FixtureValue {
  const check = column.check;
  switch (column.type) {
    case 'text': {
      if (check?.kind === 'one_of') {
        return preferred !== undefined && check.values.includes(preferred) ? preferred : check.values[0]!;
      }
      const text = preferred ?? FIXTURE_TEXT;
      return check?.kind === 'max_length' ? text.slice(0, check.max) : text;
    }
    case 'int':
    case 'bigint':
    case 'numeric':
      return numberFor(check, 1);
    case 'boolean':
      return true;
    case 'timestamptz':
      return FIXTURE_TIME;
    case 'date':
      return FIXTURE_TIME.slice(0, 10);
    case 'jsonb':
      return '{}';
    case 'uuid':
      return rowId(0xfff);
    default: {
      const unknown: never = column.type;
      throw new Error(`unknown column type ${String(unknown)}`);
    }
  }
}

function numberFor(check: ColumnCheck | null, wanted: number): number {
  if (check?.kind === 'between') return Math.min(Math.max(wanted, check.min), check.max);
  return wanted;
}

/** The value a column's default gives, where it is a constant. */
function defaultValue(column: PlanColumn): FixtureValue | undefined {
  const value = column.default;
  if (value === null) return undefined;
  if (typeof value === 'object') return value.text;
  if (value === 'zero') return 0;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

/** A different value the column can take (the update's new value), or null when none is known to exist. */
function updatedValueFor(column: PlanColumn, current: FixtureValue | undefined): FixtureValue | null {
  const check = column.check;
  switch (column.type) {
    case 'timestamptz':
      return UPDATED_TIME;
    case 'date':
      return UPDATED_TIME.slice(0, 10);
    case 'text': {
      if (check?.kind === 'one_of') return check.values.find((v) => v !== current) ?? null;
      const text = 'vibe access matrix, updated'.slice(0, check?.kind === 'max_length' ? check.max : undefined);
      return text !== current && text.length > 0 ? text : null;
    }
    case 'int':
    case 'bigint':
    case 'numeric': {
      const next = typeof current === 'number' ? current + 1 : 2;
      return check?.kind === 'between' && next > check.max ? null : numberFor(check, next);
    }
    case 'jsonb':
      return '{"vibe": "access matrix"}';
    case 'boolean':
    case 'uuid':
      return null;
    default: {
      const unknown: never = column.type;
      throw new Error(`unknown column type ${String(unknown)}`);
    }
  }
}

interface Row {
  table: PlanTable;
  values: Values;
  key: string;
}

/**
 * The fixture world of a plan: one row per table owned by the owner (a table keyed by a user id, such as
 * profiles, one row per user that rows refer to), and the owner's membership of the organization.
 */
class Fixtures {
  private readonly tables: Map<string, PlanTable>;
  private readonly order: Map<string, number>;
  private readonly ownership: Ownership;
  private readonly rows = new Map<string, Row>();
  private readonly ids = new Map<string, string>();
  /** `table.column` of columns other tables' foreign keys point at (their value must be given). */
  private readonly referenced = new Set<string>();
  readonly membership: Row | null;

  constructor(private readonly plan: Plan) {
    this.tables = new Map(plan.tables.map((t) => [t.name, t]));
    this.order = new Map(tableOrder(plan.tables)!.map((t, i) => [t.name, i]));
    this.ownership = ownershipOf(plan);
    for (const table of plan.tables) {
      for (const c of table.columns) {
        if (c.references?.schema === 'public') this.referenced.add(`${c.references.table}.${c.references.column}`);
      }
    }
    this.membership = this.ownerMembership();
  }

  /** The primary key column of a table. */
  keyOf(table: PlanTable): PlanColumn {
    return table.columns.find((c) => c.primaryKey)!;
  }

  /** Whether a table's key is a user's id (its primary key references auth.users or such a table). */
  userKeyed(table: PlanTable, depth = 0): boolean {
    const ref = this.keyOf(table).references;
    if (!ref || depth > 10) return false;
    if (ref.schema === 'auth') return true;
    const target = this.tables.get(ref.table);
    return target !== undefined && this.userKeyed(target, depth + 1);
  }

  /** The row of `table` for `user` (user-keyed tables), or the table's one row. */
  row(tableName: string, user: string = ACCESS_MATRIX_USERS.owner): Row {
    const table = this.tables.get(tableName)!;
    const id = this.userKeyed(table) ? user : this.idOf(tableName);
    const cacheKey = `${tableName}:${id}`;
    const cached = this.rows.get(cacheKey);
    if (cached) return cached;
    const values: Values = {};
    for (const column of table.columns) {
      const value = this.columnValue(table, column, id);
      if (value !== undefined) values[column.name] = value;
    }
    const row = { table, values, key: this.keyOf(table).name };
    this.rows.set(cacheKey, row);
    return row;
  }

  private idOf(table: string): string {
    let id = this.ids.get(table);
    if (!id) {
      id = rowId(this.ids.size + 1);
      this.ids.set(table, id);
    }
    return id;
  }

  /** A user column holds the owner when a policy ties it to the caller, else the bystander. */
  private userFor(table: PlanTable, column: PlanColumn): string {
    return this.ownership.userColumns.has(`${table.name}.${column.name}`)
      ? ACCESS_MATRIX_USERS.owner
      : ACCESS_MATRIX_USERS.bystander;
  }

  private columnValue(table: PlanTable, column: PlanColumn, id: string): FixtureValue | undefined {
    const qualifiedName = `${table.name}.${column.name}`;
    if (column.primaryKey) return column.type === 'uuid' || this.userKeyed(table) ? id : valueFor(column);
    const ref = column.references;
    if (ref) {
      if (ref.schema === 'auth') return this.userFor(table, column);
      const target = this.tables.get(ref.table)!;
      if (this.userKeyed(target) && this.keyOf(target).name === ref.column) return this.userFor(table, column);
      return this.row(ref.table).values[ref.column];
    }
    const filter = this.ownership.filters.get(qualifiedName);
    if (filter !== undefined) return valueFor(column, filter);
    if (column.type === 'uuid' && this.ownership.userColumns.has(qualifiedName)) return ACCESS_MATRIX_USERS.owner;
    if (column.type === 'uuid' && this.ownership.orgColumns.has(qualifiedName) && this.tables.has('organizations')) {
      const org = this.row('organizations');
      return org.values[org.key];
    }
    if (column.default === 'auth_uid') return this.userFor(table, column);
    if (column.default !== null && !this.referenced.has(qualifiedName)) return undefined;
    if (column.nullable && !this.referenced.has(qualifiedName)) return undefined;
    return valueFor(column);
  }

  /** The rows a row refers to (and theirs), parents first; users are added by the caller. */
  parentsOf(row: Row, seen = new Set<string>()): Row[] {
    const parents: Row[] = [];
    for (const column of row.table.columns) {
      const ref = column.references;
      const value = row.values[column.name];
      if (!ref || ref.schema !== 'public' || typeof value !== 'string') continue;
      const target = this.tables.get(ref.table)!;
      const parent = this.userKeyed(target) ? this.row(ref.table, value) : this.row(ref.table);
      const id = `${ref.table}:${String(parent.values[parent.key])}`;
      if (parent === row || seen.has(id)) continue;
      seen.add(id);
      parents.push(...this.parentsOf(parent, seen), parent);
    }
    // An org-scoped row whose organization column is not a foreign key still needs the organization.
    for (const column of row.table.columns) {
      if (column.references || !this.ownership.orgColumns.has(`${row.table.name}.${column.name}`)) continue;
      if (!this.tables.has('organizations') || row.table.name === 'organizations') continue;
      const org = this.row('organizations');
      const id = `organizations:${String(org.values[org.key])}`;
      if (seen.has(id)) continue;
      seen.add(id);
      parents.push(...this.parentsOf(org, seen), org);
    }
    return parents;
  }

  /** The owner's membership (role owner) of the organization, when the plan has organization policies. */
  private ownerMembership(): Row | null {
    const usesOrgs = this.plan.policies.some((p) => p.kind.startsWith('org_'));
    const memberships = this.tables.get('memberships');
    if (!usesOrgs || !memberships || !this.tables.has('organizations')) return null;
    if (!ORG_TABLES.memberships.every((c) => memberships.columns.some((m) => m.name === c))) return null;
    const org = this.row('organizations');
    const values: Values = {
      [this.keyOf(memberships).name]: rowId(0xffe),
      org_id: org.values[org.key] ?? null,
      user_id: ACCESS_MATRIX_USERS.owner,
      role: 'owner',
    };
    return { table: memberships, values, key: this.keyOf(memberships).name };
  }

  /** Sorts rows parents first (the plan's table order), each row once. */
  sorted(rows: Row[]): Row[] {
    const unique = new Map<string, Row>();
    for (const row of rows) unique.set(`${row.table.name}:${String(row.values[row.key])}`, row);
    return [...unique.values()].sort((a, b) => this.order.get(a.table.name)! - this.order.get(b.table.name)!);
  }

  /** Every row of the world: what a policy's sub-select may find. */
  all(): Row[] {
    return [...this.rows.values(), ...(this.membership ? [this.membership] : [])];
  }
}

const fixtureRow = (schema: FixtureRow['schema'], table: string, values: Values): FixtureRow => ({
  schema,
  table,
  values,
});

function userRows(): FixtureRow[] {
  return (Object.keys(ACCESS_MATRIX_USERS) as Array<keyof typeof ACCESS_MATRIX_USERS>).map((user) =>
    fixtureRow('auth', 'users', { id: ACCESS_MATRIX_USERS[user], email: USER_EMAILS[user] }),
  );
}

const toFixture = (row: Row): FixtureRow => fixtureRow('public', row.table.name, row.values);

/**
 * The column an update sets: one no policy, key, constraint or trigger depends on, that can take a new
 * value satisfying its check; `created_at` when there is one.
 */
function updateOf(plan: Plan, table: PlanTable, row: Row): AccessSubject['update'] {
  const ownership = ownershipOf(plan);
  const referenced = new Set(
    plan.tables.flatMap((t) =>
      t.columns.flatMap((c) =>
        c.references?.schema === 'public' ? [`${c.references.table}.${c.references.column}`] : [],
      ),
    ),
  );
  const indexed = new Set(table.indexes.filter((i) => i.unique).flatMap((i) => i.columns));
  const candidates = table.columns.filter((column) => {
    const name = `${table.name}.${column.name}`;
    return (
      !column.primaryKey &&
      !column.unique &&
      !column.references &&
      !indexed.has(column.name) &&
      !referenced.has(name) &&
      !ownership.userColumns.has(name) &&
      !ownership.orgColumns.has(name) &&
      !ownership.filters.has(name) &&
      !ownership.parentColumns.has(name) &&
      // A trigger keeps it current: the value set would not stay.
      !(table.touchUpdatedAt && column.name === 'updated_at')
    );
  });
  candidates.sort((a, b) => Number(b.name === 'created_at') - Number(a.name === 'created_at'));
  for (const column of candidates) {
    const value = updatedValueFor(column, row.values[column.name] ?? defaultValue(column));
    if (value !== null) return { column: column.name, value };
  }
  return null;
}

/** Whether a policy kind admits the row for the actor (evaluating what its SQL evaluates). */
interface Evaluation {
  allow: boolean;
  reason: string;
}

class Evaluator {
  private readonly byTable = new Map<string, PlanPolicy[]>();

  constructor(
    plan: Plan,
    private readonly fixtures: Fixtures,
  ) {
    for (const policy of plan.policies) {
      const list = this.byTable.get(policy.table) ?? [];
      list.push(policy);
      this.byTable.set(policy.table, list);
    }
  }

  /** Allowed when any permissive policy for the operation and the actor's role admits the row. */
  evaluate(table: string, values: Values, actor: Actor, operation: AccessOperation, depth = 0): Evaluation {
    if (actor.role === 'service_role') return { allow: true, reason: 'the service role bypasses RLS' };
    const applicable: string[] = [];
    for (const policy of this.byTable.get(table) ?? []) {
      for (const expanded of expandPolicy(policy)) {
        if (expanded.command !== operation || !(expanded.roles as string[]).includes(actor.role)) continue;
        applicable.push(expanded.name);
        if (this.admits(policy, values, actor, depth)) return { allow: true, reason: `policy ${expanded.name}` };
      }
    }
    const role = actor.role === 'anon' ? 'anon' : 'authenticated';
    return {
      allow: false,
      reason: applicable.length
        ? `no ${operation} policy for ${role} admits the row (${applicable.join(', ')})`
        : `no ${operation} policy for ${role}`,
    };
  }

  private admits(policy: PlanPolicy, values: Values, actor: Actor, depth: number): boolean {
    const uid = actor.uid;
    const is = (column: string) => uid !== null && values[column] === uid;
    switch (policy.kind) {
      case 'public_read':
        return (
          (policy.where ? values[policy.where.column] === policy.where.equals : true) ||
          (policy.ownerColumn !== null && is(policy.ownerColumn))
        );
      case 'owner_read':
      case 'owner_write':
        return is(policy.ownerColumn);
      case 'participant_read':
        return policy.participantColumns.some(is);
      case 'parent_owner_read':
      case 'parent_owner_write': {
        // exists (select 1 from <parent> p where p.id = <row>.<parentColumn> and p.<owner> = uid), run
        // under the caller's RLS: the parent must also be visible to them.
        if (depth > 8) return false;
        const parent = this.fixtures
          .all()
          .find((row) => row.table.name === policy.parentTable && row.values.id === values[policy.parentColumn]);
        return (
          parent !== undefined &&
          uid !== null &&
          parent.values[policy.parentOwnerColumn] === uid &&
          this.evaluate(policy.parentTable, parent.values, actor, 'select', depth + 1).allow
        );
      }
      case 'org_member_read':
        return this.member(values[policy.orgColumn], uid, false);
      case 'org_member_insert':
        return (
          this.member(values[policy.orgColumn], uid, false) && (policy.ownerColumn === null || is(policy.ownerColumn))
        );
      case 'org_admin_write':
        return this.member(values[policy.orgColumn], uid, true);
      default: {
        const unknown: never = policy;
        throw new Error(`unknown policy kind ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** private.is_org_member / is_org_admin: security definer, so every membership row counts. */
  private member(org: FixtureValue | undefined, uid: string | null, admin: boolean): boolean {
    const membership = this.fixtures.membership;
    if (uid === null || org === undefined || !membership) return false;
    return (
      membership.values.org_id === org &&
      membership.values.user_id === uid &&
      (!admin || ['owner', 'admin'].includes(String(membership.values.role)))
    );
  }
}

/** The bucket's objects under test: an object in the owner's folder. */
function bucketSubject(bucket: PlanBucket, index: number): AccessSubject {
  const owner = ACCESS_MATRIX_USERS.owner;
  return {
    name: `storage.objects (bucket ${bucket.id})`,
    row: fixtureRow('storage', 'objects', {
      id: rowId(0x800 + index),
      bucket_id: bucket.id,
      name: `${owner}/access-matrix.txt`,
    }),
    key: 'id',
    setup: [...userRows(), fixtureRow('storage', 'buckets', { id: bucket.id, name: bucket.id, public: false })],
    after: [],
    update: { column: 'version', value: 'access-matrix-updated' },
  };
}

function bucketExpectation(actor: Actor): Evaluation {
  if (actor.role === 'service_role') return { allow: true, reason: 'the service role bypasses RLS' };
  if (actor.uid === ACCESS_MATRIX_USERS.owner) return { allow: true, reason: 'the object is in their folder' };
  return { allow: false, reason: 'the object is not in their folder' };
}

/** The access matrix of a valid plan. Throws InvalidPlanError for a plan that cannot be rendered. */
export function accessMatrix(plan: Plan): AccessMatrixSpec {
  const problems = validatePlan(plan);
  if (problems.length) throw new InvalidPlanError(problems);
  const fixtures = new Fixtures(plan);
  const evaluator = new Evaluator(plan, fixtures);
  const subjects: AccessSubject[] = [];
  const cells: AccessCell[] = [];

  for (const table of tableOrder(plan.tables)!) {
    const row = fixtures.row(table.name);
    const parents = fixtures.parentsOf(row);
    const membership = fixtures.membership;
    const needsMembership = membership !== null && [...parents, row].some((r) => r.table.name === 'organizations');
    const update = updateOf(plan, table, row);
    const subject: AccessSubject = {
      name: `public.${table.name}`,
      row: toFixture(row),
      key: row.key,
      setup: [
        ...userRows(),
        ...fixtures
          .sorted([...parents, ...(needsMembership && table.name !== 'organizations' ? [membership] : [])])
          .map(toFixture),
      ],
      after: needsMembership && table.name === 'organizations' ? [toFixture(membership)] : [],
      update,
    };
    subjects.push(subject);
    for (const actor of ACCESS_ACTORS) {
      for (const operation of ACCESS_OPERATIONS) {
        const evaluation = expectation(evaluator, table.name, row.values, ACTORS[actor], operation, update === null);
        cells.push(cell(subject.name, actor, operation, evaluation));
      }
    }
  }

  plan.buckets.forEach((bucket, i) => {
    const subject = bucketSubject(bucket, i);
    subjects.push(subject);
    for (const actor of ACCESS_ACTORS) {
      for (const operation of ACCESS_OPERATIONS) {
        cells.push(cell(subject.name, actor, operation, bucketExpectation(ACTORS[actor])));
      }
    }
  });

  return {
    users: { owner: ACCESS_MATRIX_USERS.owner, other: ACCESS_MATRIX_USERS.other },
    subjects,
    cells,
  };
}

function expectation(
  evaluator: Evaluator,
  table: string,
  values: Values,
  actor: Actor,
  operation: AccessOperation,
  filteredUpdate: boolean,
): Evaluation {
  const evaluation = evaluator.evaluate(table, values, actor, operation);
  // An update that must filter by the key is also subject to the select policies.
  if (operation === 'update' && filteredUpdate && evaluation.allow) {
    const read = evaluator.evaluate(table, values, actor, 'select');
    if (!read.allow) return { allow: false, reason: `${evaluation.reason}, but ${read.reason}` };
  }
  return evaluation;
}

function cell(subject: string, actor: AccessActor, operation: AccessOperation, evaluation: Evaluation): AccessCell {
  const expected: AccessExpectation = evaluation.allow ? 'allow' : 'deny';
  return { subject, actor, operation, expected, reason: evaluation.reason };
}
