import {
  AccessCellResult,
  LivePolicy,
  type AccessCell,
  type AccessSubject,
  type FixtureRow,
  type FixtureValue,
  type NormalizedPolicy,
  type PlannedPolicy,
  type ProvisionCommandOf,
  type ProvisionOutput,
} from '@vibe/contracts';
import { quoteIdent, quoteLiteral } from '@vibe/platform';
import { z } from 'zod';
import { PermanentFailure } from '../drivers/driver.js';
import type { CommandMcpCalls } from './mcp-calls.js';
import { toRows } from './mcp-outputs.js';
import { splitStatements } from '../drivers/local/sql-text.js';

/**
 * `run_access_matrix` (issue 5, DESIGN.md §6): the access matrix of a plan executed in its environment with
 * one `execute_sql` call to the environment's MCP server, so that it runs the same on the local driver and on
 * Supabase (where MCP and the Management API's `database/query` are the only way in). Every cell needs a
 * transaction of its own (read-write, then rolled back, with the role switched in the middle), which one
 * query cannot open: the cells run inside a PL/pgSQL block instead, each in a sub-transaction that is always
 * rolled back by raising an error of ours (MATRIX_ROLLBACK) and catching it. The outcomes are kept in
 * variables, which a rollback does not touch, and handed back through a temporary table dropped at commit:
 * the query leaves nothing behind. The cells and the planned policies reach the block as a transaction-local
 * setting, so the block's text never changes and no value is ever spliced into it.
 *
 * Each cell: the subject's setup rows and (except for an insert) the row itself, inserted as the MCP
 * server's own role; `set local role <actor>` and Supabase's `request.jwt.claims`; the cell's statement;
 * back to the server's role to see what the statement did to the row; rollback. Cells with the same setup
 * (a subject's, for an insert or for the rest: 8 of 64 cells in the sample plan) share it: it is made once,
 * in a sub-transaction each of its cells starts from and returns to, then rolled back in turn. A cell sees what
 * it would see with a setup of its own (the setup is the same statements from the same state); it took 400 of
 * the matrix's 500 statements (issue 11: the block 35 ms → 14 ms). SQLSTATE 42501 (RLS or
 * privileges) is a denial; any other error an `error` outcome, never allowed or denied. Lock timeouts,
 * deadlocks and serialization failures fail the whole call, to be retried.
 *
 * Before the cells, in one more rolled-back sub-transaction, the planned policies are created beside the
 * live ones (under other names) and both are read back with the same empty search_path: Postgres prints the
 * planned expressions as it prints the live ones, so quotes, parentheses and the casts Postgres adds cannot
 * make a difference, only what it stores. A policy's text cannot end the transaction: Postgres refuses a
 * COMMIT inside a sub-transaction.
 */

const PLANNED_PREFIX = 'vibe_planned_';
const MATRIX_ROLLBACK = 'VAM01';
const INPUT_SETTING = 'vibe.access_matrix';

const ROLES = { anon: 'anon', owner: 'authenticated', other: 'authenticated', service_role: 'service_role' } as const;

export async function runAccessMatrix(
  command: ProvisionCommandOf<'run_access_matrix'>,
  mcp: Pick<CommandMcpCalls, 'call'>,
): Promise<ProvisionOutput<'run_access_matrix'>> {
  const { matrix } = command;
  const subjects = new Map(matrix.subjects.map((subject) => [subject.name, subject]));
  const cells = matrix.cells.map((cell) => {
    const subject = subjects.get(cell.subject);
    if (!subject) {
      throw new PermanentFailure(
        `cell ${cell.actor} ${cell.operation} names no subject "${cell.subject}"`,
        'invalid_matrix',
      );
    }
    return cellInput(subject, cell, matrix.users);
  });
  // A planned policy is one statement: one whose expression would smuggle in another is refused here (EXECUTE
  // would run both) and reported like a policy Postgres refused; the block skips it.
  const refused = new Map<number, string>();
  const planned = command.policies.map((policy, i) => {
    const sql = createPolicySql(policy, `${PLANNED_PREFIX}${i}`);
    const statements = splitStatements(sql).length;
    if (statements === 1) return sql;
    refused.set(i, `refused: the policy's SQL is ${statements} statements, not one`);
    return null;
  });
  // Cells grouped by their setup, each with its place in the matrix (the outcomes come back in that order).
  const groups = new Map<string, { setup: string[]; cells: Array<Omit<CellInput, 'setup'> & { i: number }> }>();
  cells.forEach(({ setup, ...cell }, i) => {
    const key = JSON.stringify(setup);
    const group = groups.get(key) ?? { setup, cells: [] };
    groups.set(key, group);
    group.cells.push({ i, ...cell });
  });
  const input = JSON.stringify({ count: cells.length, groups: [...groups.values()], planned });
  const rows = toRows(
    await mcp.call('read-write', 'execute_sql', {
      query: `select set_config(${quoteLiteral(INPUT_SETTING)}, ${quoteLiteral(input)}, true);\n${MATRIX_SQL}`,
    }),
  );
  const result = MatrixResult.safeParse(rows[0]?.result);
  if (!result.success) {
    throw new PermanentFailure(
      `run_access_matrix: the environment answered ${JSON.stringify(rows).slice(0, 200)}, not the matrix's outcomes`,
      'invalid_output',
    );
  }
  const { outcomes, live, failed } = result.data;
  if (outcomes.length !== matrix.cells.length) {
    throw new PermanentFailure(
      `run_access_matrix: ${outcomes.length} outcomes for ${matrix.cells.length} cells`,
      'invalid_output',
    );
  }
  const byName = new Map(live.filter((row) => row.scratch).map((row) => [row.name, row]));
  return {
    cells: matrix.cells.map((cell, i) => ({ ...cell, ...outcomes[i]! })),
    policies: {
      live: live.filter((row) => !row.scratch).map(({ scratch: _, ...policy }) => policy),
      planned: command.policies.map((policy, i): NormalizedPolicy => {
        const row = byName.get(`${PLANNED_PREFIX}${i}`);
        const error = refused.get(i) ?? failed[String(i)];
        return {
          schema: policy.schema,
          table: policy.table,
          name: policy.name,
          using: row?.using ?? null,
          withCheck: row?.withCheck ?? null,
          ...(error !== undefined && { error }),
        };
      }),
    },
  };
}

/** What the block hands back: an outcome per cell, every policy as Postgres prints it, the planned ones that failed. */
const MatrixResult = z.object({
  outcomes: z.array(AccessCellResult.pick({ actual: true, detail: true })),
  live: z.array(LivePolicy.extend({ scratch: z.boolean() })),
  failed: z.record(z.string(), z.string()),
});

/** What the block needs of a cell: all of its SQL written here, with every value quoted. */
interface CellInput {
  operation: AccessCell['operation'];
  setup: string[];
  role: string;
  claims: string;
  statement: string;
  effect: string | null;
}

function cellInput(subject: AccessSubject, cell: AccessCell, users: { owner: string; other: string }): CellInput {
  const role = ROLES[cell.actor];
  const sub = cell.actor === 'owner' ? users.owner : cell.actor === 'other' ? users.other : null;
  return {
    operation: cell.operation,
    setup: setupSql(subject, cell),
    role,
    claims: JSON.stringify(sub ? { sub, role } : { role }),
    statement: statementSql(subject, cell),
    effect: effectSql(subject, cell),
  };
}

function createPolicySql(policy: PlannedPolicy, name: string): string {
  return [
    `create policy ${quoteIdent(name)} on ${table(policy)}`,
    `as permissive for ${policy.command} to ${policy.roles.map(quoteIdent).join(', ')}`,
    policy.using !== null ? `using (${policy.using})` : '',
    policy.withCheck !== null ? `with check (${policy.withCheck})` : '',
  ].join(' ');
}

/** A value as an SQL literal: strings quoted (Postgres casts them to the column's type), numbers finite. */
function literal(value: FixtureValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PermanentFailure(`a fixture value is not a finite number`, 'invalid_matrix');
    return String(value);
  }
  return quoteLiteral(value);
}

const table = (row: Pick<FixtureRow, 'schema' | 'table'>) => `${quoteIdent(row.schema)}.${quoteIdent(row.table)}`;

function insertSql(row: FixtureRow, onConflict: boolean): string {
  const columns = Object.keys(row.values);
  const values = Object.values(row.values).map((value) => literal(value));
  const into = columns.length
    ? `(${columns.map(quoteIdent).join(', ')}) values (${values.join(', ')})`
    : 'default values';
  return `insert into ${table(row)} ${into}${onConflict ? ' on conflict do nothing' : ''}`;
}

function keyFilter(subject: AccessSubject): string {
  const value = subject.row.values[subject.key];
  if (value === undefined) {
    throw new PermanentFailure(`the row of ${subject.name} has no value for its key ${subject.key}`, 'invalid_matrix');
  }
  return `${quoteIdent(subject.key)} = ${literal(value)}`;
}

/** The server role's part of a cell: the rows the statement needs (the block then takes the actor's role). */
function setupSql(subject: AccessSubject, cell: AccessCell): string[] {
  const statements = subject.setup.map((row) => insertSql(row, true));
  // A trigger may have made the row already (a profile for a new user): the cell's row is the one given.
  statements.push(`delete from ${table(subject.row)} where ${keyFilter(subject)}`);
  if (cell.operation !== 'insert') {
    statements.push(insertSql(subject.row, false), ...subject.after.map((row) => insertSql(row, true)));
  }
  return statements;
}

/** The actor's statement; update and delete reach rows through their own policies only (see the contract). */
function statementSql(subject: AccessSubject, cell: AccessCell): string {
  const target = table(subject.row);
  const key = keyFilter(subject);
  const filter = cell.actor === 'service_role' ? ` where ${key}` : '';
  switch (cell.operation) {
    case 'select':
      return `select count(*)::int as n from ${target} where ${key}`;
    case 'insert':
      return insertSql(subject.row, false);
    case 'update':
      return subject.update
        ? `update ${target} set ${quoteIdent(subject.update.column)} = ${literal(subject.update.value)}${filter}`
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
function effectSql(subject: AccessSubject, cell: AccessCell): string | null {
  const target = table(subject.row);
  const key = keyFilter(subject);
  switch (cell.operation) {
    case 'select':
      return null;
    case 'insert':
      return `select count(*) = 1 as done from ${target} where ${key}`;
    case 'update':
      return subject.update
        ? `select count(*) = 1 as done from ${target} where ${key} and ${quoteIdent(subject.update.column)} = ${literal(subject.update.value)}`
        : null;
    case 'delete':
      return `select count(*) = 0 as done from ${target} where ${key}`;
    default: {
      const unknown: never = cell.operation;
      throw new Error(`unknown operation ${String(unknown)}`);
    }
  }
}

/** A caught error as describePgError words it: message, SQLSTATE, then the server's detail and hint. */
const DESCRIBE = `message || ' (SQLSTATE ' || state || ')'
    || coalesce(' detail: ' || nullif(detail, ''), '') || coalesce(' hint: ' || nullif(hint, ''), '')`;
const DIAGNOSTICS = `get stacked diagnostics message = message_text, state = returned_sqlstate,
          detail = pg_exception_detail, hint = pg_exception_hint`;
/** Errors that may pass if the whole matrix runs again: they end the call instead of becoming an outcome. */
const RETRYABLE = 'lock_not_available or deadlock_detected or serialization_failure';

/** The block, after the input setting: every cell, then the policies, handed back through a temporary table. */
const MATRIX_SQL = `set local standard_conforming_strings = on;
set local lock_timeout = '5s';
set local statement_timeout = '120s';
create temporary table vibe_access_matrix (result jsonb not null) on commit drop;
do $vibe_access_matrix$
declare
  input constant jsonb := current_setting(${quoteLiteral(INPUT_SETTING)})::jsonb;
  own_role constant text := current_user;
  grp jsonb;
  cell jsonb;
  sql text;
  fixture text;
  outcome jsonb;
  outcomes jsonb := coalesce((select jsonb_agg(null::jsonb) from generate_series(1, (input ->> 'count')::int)), '[]');
  live jsonb := '[]';
  failed jsonb := '{}';
  affected bigint;
  done boolean;
  i int := 0;
  message text;
  state text;
  detail text;
  hint text;
begin
  for grp in select value from jsonb_array_elements(input -> 'groups') loop
    begin
      fixture := null;
      begin
        for sql in select value from jsonb_array_elements_text(grp -> 'setup') loop
          execute sql;
        end loop;
      exception
        when ${RETRYABLE} then raise;
        when others then
          ${DIAGNOSTICS};
          fixture := 'fixture: ' || ${DESCRIBE};
      end;
      for cell in select value from jsonb_array_elements(grp -> 'cells') loop
        outcome := case when fixture is null then null else jsonb_build_object('actual', 'error', 'detail', fixture) end;
        if outcome is null then
          begin
            begin
              execute format('set local role %I', cell ->> 'role');
              perform set_config('request.jwt.claims', cell ->> 'claims', true);
            exception
              when ${RETRYABLE} then raise;
              when others then
                ${DIAGNOSTICS};
                outcome := jsonb_build_object('actual', 'error', 'detail', 'fixture: ' || ${DESCRIBE});
            end;
            if outcome is null then
              begin
                if cell ->> 'operation' = 'select' then
                  execute cell ->> 'statement' into affected;
                  outcome := jsonb_build_object('actual', case when coalesce(affected, 0) > 0 then 'allow' else 'deny' end,
                    'detail', null);
                else
                  execute cell ->> 'statement';
                  get diagnostics affected = row_count;
                  execute format('set local role %I', own_role);
                  if cell ->> 'effect' is null then
                    outcome := jsonb_build_object('actual', case when affected > 0 then 'allow' else 'deny' end, 'detail', null);
                  else
                    execute cell ->> 'effect' into done;
                    outcome := case when done then jsonb_build_object('actual', 'allow', 'detail', null)
                      else jsonb_build_object('actual', 'deny', 'detail', (cell ->> 'operation') || ' reached no row') end;
                  end if;
                end if;
              exception
                when ${RETRYABLE} then raise;
                when others then
                  ${DIAGNOSTICS};
                  outcome := jsonb_build_object('actual', case when state = '42501' then 'deny' else 'error' end,
                    'detail', ${DESCRIBE});
              end;
            end if;
            raise exception 'access matrix: rolling the cell back' using errcode = '${MATRIX_ROLLBACK}';
          exception when sqlstate '${MATRIX_ROLLBACK}' then
            null;
          end;
        end if;
        outcomes := jsonb_set(outcomes, array[cell ->> 'i'], outcome);
      end loop;
      raise exception 'access matrix: rolling the setup back' using errcode = '${MATRIX_ROLLBACK}';
    exception when sqlstate '${MATRIX_ROLLBACK}' then
      null;
    end;
  end loop;

  begin
    perform set_config('search_path', '', true);
    for sql in select value from jsonb_array_elements_text(input -> 'planned') loop
      begin
        if sql is not null then
          execute sql;
        end if;
      exception
        when ${RETRYABLE} then raise;
        when others then
          ${DIAGNOSTICS};
          failed := failed || jsonb_build_object(i::text, ${DESCRIBE});
      end;
      i := i + 1;
    end loop;
    select coalesce(jsonb_agg(to_jsonb(p) order by p.schema, p.table, p.name), '[]') into live from (
      select n.nspname as schema, c.relname as table, p.polname as name,
        case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete'
          else 'all' end as command,
        case when p.polroles = '{0}' then array['public']
          else array(select r.rolname::text from pg_catalog.pg_roles r where r.oid = any (p.polroles) order by r.rolname)
          end as roles,
        p.polpermissive as permissive,
        pg_catalog.pg_get_expr(p.polqual, p.polrelid) as using,
        pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as "withCheck",
        p.polname like '${PLANNED_PREFIX}%' as scratch
      from pg_catalog.pg_policy p
      join pg_catalog.pg_class c on c.oid = p.polrelid
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' or (n.nspname = 'storage' and c.relname = 'objects')
    ) p;
    raise exception 'access matrix: rolling the planned policies back' using errcode = '${MATRIX_ROLLBACK}';
  exception when sqlstate '${MATRIX_ROLLBACK}' then
    null;
  end;
  insert into pg_temp.vibe_access_matrix values (jsonb_build_object('outcomes', outcomes, 'live', live, 'failed', failed));
end
$vibe_access_matrix$;
select result from pg_temp.vibe_access_matrix`;
