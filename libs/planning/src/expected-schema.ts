import type { ColumnCheck, ColumnDefault, ColumnType, Plan, PlanColumn } from '@vibe/contracts';
import { InvalidPlanError, tableIndexes } from './render-sql.js';
import { validatePlan } from './validate-plan.js';

/**
 * The schema a plan asks for, in the shape the environment's catalog is read into, so that the two can be
 * compared after a build (issue 5, spec §11.2): tables, columns (type, nullability, default), constraints
 * (primary key, unique, foreign keys with their delete action, checks) and indexes. Pure.
 *
 * Defaults and checks are stated as Postgres prints them (`pg_get_expr`, `pg_get_constraintdef`, read with
 * an empty search_path). They come from a closed vocabulary of single comparisons and constants whose
 * printed form has been the same for many Postgres versions, so the plan states them exactly; policies,
 * whose printed form depends on version and search path, are compared through Postgres instead
 * (`run_access_matrix`). Identifier quoting is left out of the comparison (`normalizeSql`).
 */
export interface SchemaColumn {
  name: string;
  /** As `format_type` prints it: `integer`, `timestamp with time zone`, ... */
  type: string;
  nullable: boolean;
  /** As `pg_get_expr` prints it, or null. */
  default: string | null;
}

export interface SchemaTable {
  name: string;
  rlsEnabled: boolean;
  columns: SchemaColumn[];
  /** One line per constraint, sorted: `primary key (id)`, `foreign key (owner_id) references public.profiles (id) on delete cascade`, `CHECK ((price_cents >= 0))`. */
  constraints: string[];
  /** One line per index that backs no constraint, sorted: `index bids_listing_id_idx (listing_id)`. */
  indexes: string[];
}

export interface SchemaShape {
  /** Sorted by name. */
  tables: SchemaTable[];
}

const TYPES: Record<ColumnType, string> = {
  uuid: 'uuid',
  text: 'text',
  int: 'integer',
  bigint: 'bigint',
  numeric: 'numeric',
  boolean: 'boolean',
  timestamptz: 'timestamp with time zone',
  date: 'date',
  jsonb: 'jsonb',
};

const DEFAULTS: Record<Exclude<ColumnDefault, { text: string }>, string> = {
  now: 'now()',
  gen_random_uuid: 'gen_random_uuid()',
  auth_uid: 'auth.uid()',
  true: 'true',
  false: 'false',
  zero: '0',
  empty_object: "'{}'::jsonb",
};

const INT4_MIN = -(2 ** 31);
const INT4_MAX = 2 ** 31 - 1;

/** An integer constant compared with a column of `type`, as Postgres prints it. */
function integerConstant(value: number, type: ColumnType): string {
  const n = Math.trunc(value);
  const int4 = n >= INT4_MIN && n <= INT4_MAX;
  // A negative int4 and any int8 constant are printed quoted with their type, so that they parse back.
  const constant = int4 ? (n >= 0 ? String(n) : `'${n}'::integer`) : `'${n}'::bigint`;
  if (type !== 'numeric') return constant;
  // Compared with numeric, the constant is coerced; a plain one gets parentheses around it.
  return `(${constant})::numeric`;
}

function textConstant(value: string): string {
  return `'${value.replace(/'/g, "''")}'::text`;
}

/** A column check as `pg_get_constraintdef` prints it: Postgres rewrites `between` and `in` when it stores them. */
export function expectedCheck(column: PlanColumn & { check: ColumnCheck }): string {
  const c = column.name;
  const check = column.check;
  switch (check.kind) {
    case 'non_negative':
      return `CHECK ((${c} >= ${integerConstant(0, column.type)}))`;
    case 'positive':
      return `CHECK ((${c} > ${integerConstant(0, column.type)}))`;
    case 'between':
      return `CHECK (((${c} >= ${integerConstant(check.min, column.type)}) AND (${c} <= ${integerConstant(check.max, column.type)})))`;
    case 'one_of':
      return check.values.length === 1
        ? `CHECK ((${c} = ${textConstant(check.values[0]!)}))`
        : `CHECK ((${c} = ANY (ARRAY[${check.values.map(textConstant).join(', ')}])))`;
    case 'max_length':
      return `CHECK ((char_length(${c}) <= ${integerConstant(check.max, 'int')}))`;
    default: {
      const unknown: never = check;
      throw new Error(`unknown check ${JSON.stringify(unknown)}`);
    }
  }
}

/** A column default as `pg_get_expr` prints it. */
export function expectedDefault(value: ColumnDefault): string {
  return typeof value === 'string' ? DEFAULTS[value] : textConstant(value.text);
}

/** The schema a valid plan renders to. Throws InvalidPlanError for a plan that cannot be rendered. */
export function expectedSchema(plan: Plan): SchemaShape {
  const problems = validatePlan(plan);
  if (problems.length) throw new InvalidPlanError(problems);
  const tables = plan.tables.map((table): SchemaTable => {
    const constraints: string[] = [];
    for (const column of table.columns) {
      if (column.primaryKey) constraints.push(`primary key (${column.name})`);
      else if (column.unique) constraints.push(`unique (${column.name})`);
      if (column.references) {
        const { schema, table: target, column: targetColumn, onDelete } = column.references;
        constraints.push(
          `foreign key (${column.name}) references ${schema}.${target} (${targetColumn}) on delete ${onDelete}`,
        );
      }
      if (column.check) constraints.push(expectedCheck({ ...column, check: column.check }));
    }
    return {
      name: table.name,
      rlsEnabled: true,
      columns: table.columns.map((column) => ({
        name: column.name,
        type: TYPES[column.type],
        nullable: !column.primaryKey && column.nullable,
        default: column.default === null ? null : expectedDefault(column.default),
      })),
      constraints: constraints.map(normalizeSql).sort(),
      indexes: tableIndexes(table)
        .map((index) => `${index.unique ? 'unique index' : 'index'} ${index.name} (${index.columns.join(', ')})`)
        .sort(),
    };
  });
  return { tables: tables.sort((a, b) => a.name.localeCompare(b.name)) };
}

/**
 * The catalog of `public` as `schemaFromCatalog` reads it: one row per table (views and the platform's
 * schemas left out). Read-only; the empty search_path makes Postgres qualify every name outside
 * pg_catalog, so the printed expressions do not depend on the session.
 */
export const SCHEMA_CATALOG_SQL = `set local search_path = '';
select c.relname as name,
  c.relrowsecurity as rls_enabled,
  coalesce((
    select jsonb_agg(jsonb_build_object(
        'name', a.attname,
        'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
        'nullable', not a.attnotnull,
        'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid))
      order by a.attnum)
    from pg_catalog.pg_attribute a
    left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]'::jsonb) as columns,
  coalesce((
    select jsonb_agg(jsonb_build_object(
        'type', k.contype,
        'columns', (select jsonb_agg(a.attname order by u.ord)
          from unnest(k.conkey) with ordinality u(attnum, ord)
          join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum),
        'definition', pg_catalog.pg_get_constraintdef(k.oid),
        'target_schema', fn.nspname,
        'target_table', fc.relname,
        'target_columns', (select jsonb_agg(a.attname order by u.ord)
          from unnest(k.confkey) with ordinality u(attnum, ord)
          join pg_catalog.pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum),
        'on_delete', k.confdeltype)
      order by k.conname)
    from pg_catalog.pg_constraint k
    left join pg_catalog.pg_class fc on fc.oid = k.confrelid
    left join pg_catalog.pg_namespace fn on fn.oid = fc.relnamespace
    where k.conrelid = c.oid), '[]'::jsonb) as constraints,
  coalesce((
    select jsonb_agg(jsonb_build_object(
        'name', ic.relname,
        'unique', i.indisunique,
        'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
        'columns', (select jsonb_agg(a.attname order by u.ord)
          from unnest(i.indkey::int2[]) with ordinality u(attnum, ord)
          join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = u.attnum),
        'plain', i.indexprs is null and i.indpred is null)
      order by ic.relname)
    from pg_catalog.pg_index i
    join pg_catalog.pg_class ic on ic.oid = i.indexrelid
    where i.indrelid = c.oid
      and not exists (select 1 from pg_catalog.pg_constraint k where k.conindid = i.indexrelid and k.conrelid = c.oid)),
    '[]'::jsonb) as indexes
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p')
order by c.relname`;

const ON_DELETE: Record<string, string> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

type Row = Record<string, unknown>;
const rowsOf = (value: unknown): Row[] => (Array.isArray(value) ? (value as Row[]) : []);
const names = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
const textOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The rows of SCHEMA_CATALOG_SQL (through execute_sql, JSON values parsed or not) as a SchemaShape. Pure. */
export function schemaFromCatalog(rows: ReadonlyArray<Record<string, unknown>>): SchemaShape {
  const json = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);
  const tables = rows.map((row): SchemaTable => {
    const constraints = rowsOf(json(row.constraints)).map((k) => {
      const columns = names(k.columns).join(', ');
      switch (k.type) {
        case 'p':
          return `primary key (${columns})`;
        case 'u':
          return `unique (${columns})`;
        case 'f':
          return (
            `foreign key (${columns}) references ${String(k.target_schema)}.${String(k.target_table)} ` +
            `(${names(k.target_columns).join(', ')}) on delete ${ON_DELETE[String(k.on_delete)] ?? String(k.on_delete)}`
          );
        default:
          return String(k.definition);
      }
    });
    const indexes = rowsOf(json(row.indexes)).map((index) =>
      index.plain === false
        ? String(index.definition)
        : `${index.unique === true ? 'unique index' : 'index'} ${String(index.name)} (${names(index.columns).join(', ')})`,
    );
    return {
      name: String(row.name),
      rlsEnabled: row.rls_enabled === true,
      columns: rowsOf(json(row.columns)).map((column) => ({
        name: String(column.name),
        type: String(column.type),
        nullable: column.nullable === true,
        default: textOrNull(column.default),
      })),
      constraints: constraints.map(normalizeSql).sort(),
      indexes: indexes.sort(),
    };
  });
  return { tables: tables.sort((a, b) => a.name.localeCompare(b.name)) };
}

/**
 * Spelling that does not change meaning, removed: identifier quotes (Postgres quotes names that are
 * keywords, such as `"order"`; our identifiers are `[a-z0-9_]`, so a quote never carries meaning) and runs
 * of white space.
 */
export function normalizeSql(text: string): string {
  return text.replace(/"/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * What differs between the planned and the actual schema, one sentence each, naming the table and column
 * or constraint; empty when they are equal. RLS is compared too (every table must have it). Pure.
 */
export function diffSchema(expected: SchemaShape, actual: SchemaShape): string[] {
  const differences: string[] = [];
  const actualTables = new Map(actual.tables.map((table) => [table.name, table]));
  const plannedNames = new Set(expected.tables.map((table) => table.name));
  for (const planned of expected.tables) {
    const found = actualTables.get(planned.name);
    const where = `public.${planned.name}`;
    if (!found) {
      differences.push(`table ${where} is missing`);
      continue;
    }
    if (!found.rlsEnabled) differences.push(`table ${where} does not have row level security enabled`);
    const columns = new Map(found.columns.map((column) => [column.name, column]));
    for (const column of planned.columns) {
      const live = columns.get(column.name);
      if (!live) {
        differences.push(`column ${where}.${column.name} is missing`);
        continue;
      }
      if (live.type !== column.type)
        differences.push(`column ${where}.${column.name} is ${live.type}, planned ${column.type}`);
      if (live.nullable !== column.nullable) {
        differences.push(
          `column ${where}.${column.name} is ${live.nullable ? 'nullable' : 'not null'}, planned ${column.nullable ? 'nullable' : 'not null'}`,
        );
      }
      const liveDefault = live.default === null ? null : normalizeSql(live.default);
      const plannedDefault = column.default === null ? null : normalizeSql(column.default);
      if (liveDefault !== plannedDefault) {
        differences.push(
          `column ${where}.${column.name} defaults to ${liveDefault ?? 'nothing'}, planned ${plannedDefault ?? 'nothing'}`,
        );
      }
    }
    const plannedColumns = new Set(planned.columns.map((column) => column.name));
    for (const column of found.columns) {
      if (!plannedColumns.has(column.name)) differences.push(`column ${where}.${column.name} is not in the plan`);
    }
    for (const [kind, plannedItems, liveItems] of [
      ['constraint', planned.constraints, found.constraints],
      ['index', planned.indexes, found.indexes],
    ] as const) {
      for (const item of missingFrom(liveItems, plannedItems))
        differences.push(`${kind} of ${where} is missing: ${item}`);
      for (const item of missingFrom(plannedItems, liveItems))
        differences.push(`${kind} of ${where} is not in the plan: ${item}`);
    }
  }
  for (const table of actual.tables) {
    if (!plannedNames.has(table.name)) {
      differences.push(`table public.${table.name} is not in the plan`);
      if (!table.rlsEnabled) differences.push(`table public.${table.name} does not have row level security enabled`);
    }
  }
  return differences;
}

/** Items of `wanted` that `have` lacks, counting repeats (two equal checks are two constraints). */
function missingFrom(have: readonly string[], wanted: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const item of have) left.set(item, (left.get(item) ?? 0) + 1);
  const missing: string[] = [];
  for (const item of wanted) {
    const n = left.get(item) ?? 0;
    if (n > 0) left.set(item, n - 1);
    else missing.push(item);
  }
  return missing;
}
