import type {
  AccessCell,
  AccessCellResult,
  AccessSubject,
  FixtureRow,
  FixtureValue,
  LivePolicy,
  NormalizedPolicy,
  PlannedPolicy,
  ProvisionCommandOf,
  ProvisionOutput,
} from '@vibe/contracts';
import type { QueryConfig, QueryResult } from 'pg';
import { isTransientPgError, pgErrorCode, quoteIdent, type PoolClient } from '@vibe/platform';
import { PermanentFailure, type EnvironmentDriver } from '../drivers/driver.js';
import { describePgError } from '../drivers/local/pg-errors.js';

/**
 * `run_access_matrix` (issue 5, DESIGN.md §6): the access matrix of a plan executed in its environment, over
 * one connection of the driver's own, because every cell needs a transaction that MCP's `execute_sql` cannot
 * give (read-write, then rolled back, with the role switched in the middle). Audited like every command (its
 * `provisioner_call` event summarizes the cells).
 *
 * Each cell: `begin`; the subject's setup rows and (except for an insert) the row itself, inserted by the
 * superuser; `set local role <actor>` and Supabase's `request.jwt.claims`; the cell's statement; back to the
 * superuser to see what the statement did to the row; `rollback`. SQLSTATE 42501 (RLS or privileges) is a
 * denial; any other error an `error` outcome, never allowed or denied.
 *
 * Before the cells, in one more rolled-back transaction, the planned policies are created beside the live
 * ones (under other names) and both are read back with the same empty search_path: Postgres prints the
 * planned expressions as it prints the live ones, so quotes, parentheses and the casts Postgres adds cannot
 * make a difference, only what it stores. Their expressions come from the orchestrator's renderer, which may
 * apply migrations anyway; each is created over the extended protocol, which takes one statement only.
 */

/** Transactions of the matrix wait this long at most for a lock or a statement. */
const TIMEOUTS = "set local lock_timeout = '5s'; set local statement_timeout = '15s'";
const PLANNED_PREFIX = 'vibe_planned_';

const ROLES = { anon: 'anon', owner: 'authenticated', other: 'authenticated', service_role: 'service_role' } as const;

export async function runAccessMatrix(
  command: ProvisionCommandOf<'run_access_matrix'>,
  driver: EnvironmentDriver,
): Promise<ProvisionOutput<'run_access_matrix'>> {
  const connections = directConnections(driver);
  if (!connections) {
    throw new PermanentFailure(
      'run_access_matrix needs transactions of its own in the environment (rolled back, the role switched inside), ' +
        'which the local driver gives; the cloud driver does not have them yet',
      'not_implemented',
    );
  }
  const { matrix } = command;
  const subjects = new Map(matrix.subjects.map((subject) => [subject.name, subject]));
  for (const cell of matrix.cells) {
    if (!subjects.has(cell.subject)) {
      throw new PermanentFailure(
        `cell ${cell.actor} ${cell.operation} names no subject "${cell.subject}"`,
        'invalid_matrix',
      );
    }
  }
  return connections.withEnvironment(command.environmentRef, async (client) => {
    const policies = await readPolicies(client, command.policies);
    const cells: AccessCellResult[] = [];
    for (const cell of matrix.cells) {
      const subject = subjects.get(cell.subject)!;
      cells.push({ ...cell, ...(await runCell(client, subject, cell, matrix.users)) });
    }
    return { cells, policies };
  });
}

/** Connections of the driver's own to an environment, given back clean: the local driver has them. */
interface DirectConnections {
  withEnvironment<T>(ref: string, work: (client: PoolClient) => Promise<T>): Promise<T>;
}

function directConnections(driver: EnvironmentDriver): DirectConnections | null {
  const candidate = driver as EnvironmentDriver & Partial<DirectConnections>;
  return typeof candidate.withEnvironment === 'function' ? (candidate as DirectConnections) : null;
}

/** pg's extended protocol (`queryMode`, which its type declarations lack): one statement, no more. */
function oneStatement(text: string): QueryConfig {
  return { text, queryMode: 'extended' } as QueryConfig;
}

/** A value as an SQL literal: strings quoted (Postgres casts them to the column's type), numbers finite. */
function literal(client: PoolClient, value: FixtureValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PermanentFailure(`a fixture value is not a finite number`, 'invalid_matrix');
    return String(value);
  }
  return client.escapeLiteral(value);
}

const table = (row: Pick<FixtureRow, 'schema' | 'table'>) => `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`;

function insertSql(client: PoolClient, row: FixtureRow, onConflict: boolean): string {
  const columns = Object.keys(row.values);
  const values = Object.values(row.values).map((value) => literal(client, value));
  const into = columns.length
    ? `(${columns.map(quoteIdent).join(', ')}) values (${values.join(', ')})`
    : 'default values';
  return `insert into ${table(row)} ${into}${onConflict ? ' on conflict do nothing' : ''}`;
}

function keyFilter(client: PoolClient, subject: AccessSubject): string {
  const value = subject.row.values[subject.key];
  if (value === undefined) {
    throw new PermanentFailure(`the row of ${subject.name} has no value for its key ${subject.key}`, 'invalid_matrix');
  }
  return `${quoteIdent(subject.key)} = ${literal(client, value)}`;
}

/** The superuser's part of a cell: the rows the statement needs, then the actor's role and JWT claims. */
function setupSql(
  client: PoolClient,
  subject: AccessSubject,
  cell: AccessCell,
  users: { owner: string; other: string },
): string {
  const statements = [TIMEOUTS, ...subject.setup.map((row) => insertSql(client, row, true))];
  // A trigger may have made the row already (a profile for a new user): the cell's row is the one given.
  statements.push(`delete from ${table(subject.row)} where ${keyFilter(client, subject)}`);
  if (cell.operation !== 'insert') {
    statements.push(insertSql(client, subject.row, false), ...subject.after.map((row) => insertSql(client, row, true)));
  }
  const role = ROLES[cell.actor];
  const sub = cell.actor === 'owner' ? users.owner : cell.actor === 'other' ? users.other : null;
  const claims = JSON.stringify(sub ? { sub, role } : { role });
  statements.push(
    `set local role ${quoteIdent(role)}`,
    `select set_config('request.jwt.claims', ${client.escapeLiteral(claims)}, true)`,
  );
  return statements.join(';\n');
}

/** The actor's statement; update and delete reach rows through their own policies only (see the contract). */
function statementSql(client: PoolClient, subject: AccessSubject, cell: AccessCell): string {
  const target = table(subject.row);
  const key = keyFilter(client, subject);
  const filter = cell.actor === 'service_role' ? ` where ${key}` : '';
  switch (cell.operation) {
    case 'select':
      return `select count(*)::int as n from ${target} where ${key}`;
    case 'insert':
      return insertSql(client, subject.row, false);
    case 'update':
      return subject.update
        ? `update ${target} set ${quoteIdent(subject.update.column)} = ${literal(client, subject.update.value)}${filter}`
        : `update ${target} set ${key} where ${key}`;
    case 'delete':
      return `delete from ${target}${filter}`;
    default: {
      const unknown: never = cell.operation;
      throw new Error(`unknown operation ${String(unknown)}`);
    }
  }
}

/** After the statement, as the superuser: whether the row now shows its effect. */
function effectSql(client: PoolClient, subject: AccessSubject, cell: AccessCell): string | null {
  const target = table(subject.row);
  const key = keyFilter(client, subject);
  switch (cell.operation) {
    case 'select':
      return null;
    case 'insert':
      return `select count(*) = 1 as done from ${target} where ${key}`;
    case 'update':
      return subject.update
        ? `select count(*) = 1 as done from ${target} where ${key} and ${quoteIdent(subject.update.column)} = ${literal(client, subject.update.value)}`
        : null;
    case 'delete':
      return `select count(*) = 0 as done from ${target} where ${key}`;
    default: {
      const unknown: never = cell.operation;
      throw new Error(`unknown operation ${String(unknown)}`);
    }
  }
}

type Outcome = Pick<AccessCellResult, 'actual' | 'detail'>;

async function runCell(
  client: PoolClient,
  subject: AccessSubject,
  cell: AccessCell,
  users: { owner: string; other: string },
): Promise<Outcome> {
  // Three round trips: begin and the superuser's part; the actor's statement and the look at its effect;
  // rollback. The effect is read as the superuser (`reset role`), in the same transaction.
  try {
    try {
      await client.query(`begin;\n${setupSql(client, subject, cell, users)}`);
    } catch (error) {
      if (isTransientPgError(error)) throw error;
      return { actual: 'error', detail: `fixture: ${describePgError(error)}` };
    }
    const statement = statementSql(client, subject, cell);
    const effect = effectSql(client, subject, cell);
    let results: Array<QueryResult<Record<string, unknown>>>;
    try {
      const answer: QueryResult<Record<string, unknown>> | Array<QueryResult<Record<string, unknown>>> =
        await client.query(effect === null ? statement : `${statement};\nreset role;\n${effect}`);
      results = Array.isArray(answer) ? answer : [answer];
    } catch (error) {
      if (isTransientPgError(error)) throw error;
      const code = pgErrorCode(error);
      return { actual: code === '42501' ? 'deny' : 'error', detail: describePgError(error) };
    }
    const [done, , checked] = results;
    if (cell.operation === 'select') {
      return { actual: Number(done?.rows[0]?.n ?? 0) > 0 ? 'allow' : 'deny', detail: null };
    }
    if (effect === null) return { actual: (done?.rowCount ?? 0) > 0 ? 'allow' : 'deny', detail: null };
    return checked?.rows[0]?.done === true
      ? { actual: 'allow', detail: null }
      : { actual: 'deny', detail: `${cell.operation} reached no row` };
  } finally {
    await client.query('rollback');
  }
}

/**
 * The live policies of `public` and `storage.objects`, and the planned ones created beside them under other
 * names, all printed by Postgres with an empty search_path, in one transaction that is rolled back.
 */
async function readPolicies(
  client: PoolClient,
  planned: readonly PlannedPolicy[],
): Promise<ProvisionOutput<'run_access_matrix'>['policies']> {
  await client.query('begin');
  try {
    await client.query(`${TIMEOUTS}; set local search_path = ''`);
    const failed = new Map<number, string>();
    for (const [i, policy] of planned.entries()) {
      const sql = [
        `create policy ${quoteIdent(`${PLANNED_PREFIX}${i}`)} on ${table(policy)}`,
        `as permissive for ${policy.command} to ${policy.roles.map(quoteIdent).join(', ')}`,
        policy.using !== null ? `using (${policy.using})` : '',
        policy.withCheck !== null ? `with check (${policy.withCheck})` : '',
      ].join(' ');
      // A planned policy that cannot be made here (its table or a function it calls is gone) is reported, and
      // the others are still read. The extended protocol takes one statement: an expression cannot end the
      // transaction.
      await client.query('savepoint planned_policy');
      try {
        await client.query(oneStatement(sql));
      } catch (error) {
        if (isTransientPgError(error) || pgErrorCode(error) === undefined) throw error;
        failed.set(i, describePgError(error));
        await client.query('rollback to savepoint planned_policy');
      }
    }
    const { rows } = await client.query<LivePolicy & { scratch: boolean }>(
      `select n.nspname as schema, c.relname as table, p.polname as name,
         case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end as command,
         case when p.polroles = '{0}' then array['public']
           else array(select r.rolname::text from pg_catalog.pg_roles r where r.oid = any (p.polroles) order by r.rolname) end as roles,
         p.polpermissive as permissive,
         pg_catalog.pg_get_expr(p.polqual, p.polrelid) as using,
         pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as "withCheck",
         p.polname like '${PLANNED_PREFIX}%' as scratch
       from pg_catalog.pg_policy p
       join pg_catalog.pg_class c on c.oid = p.polrelid
       join pg_catalog.pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' or (n.nspname = 'storage' and c.relname = 'objects')
       order by 1, 2, 3`,
    );
    const live = rows.filter((row) => !row.scratch).map(({ scratch: _, ...policy }) => policy);
    const normalized: NormalizedPolicy[] = planned.map((policy, i) => {
      const row = rows.find((r) => r.scratch && r.name === `${PLANNED_PREFIX}${i}`);
      return {
        schema: policy.schema,
        table: policy.table,
        name: policy.name,
        using: row?.using ?? null,
        withCheck: row?.withCheck ?? null,
        ...(failed.has(i) && { error: failed.get(i) }),
      };
    });
    return { live, planned: normalized };
  } finally {
    await client.query('rollback');
  }
}
