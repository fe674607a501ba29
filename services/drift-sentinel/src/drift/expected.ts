import type {
  ColumnType,
  Plan,
  PlanAnalyticsView,
  PlanColumn,
  PlanEdgeFunction,
  PlanSource,
  PlanTable,
} from '@vibe/contracts';
import {
  expandPolicy,
  qualified,
  renderCheck,
  renderColumn,
  renderDefault,
  renderPlan,
  renderPolicy,
  renderTable,
  tableIndexes,
  type ExpandedPolicy,
} from '@vibe/planning';
import type { PolicyCommand } from './observed.js';

/**
 * What an environment built from a plan looks like, in the catalog's terms, with the SQL (from the plan's
 * own renderer, libs/planning) that puts each piece back. Pure.
 */

export interface PlannedPolicy {
  schema: 'public' | 'storage';
  table: string;
  name: string;
  command: PolicyCommand;
  roles: string[];
  using: string | null;
  withCheck: string | null;
  source: PlanSource;
  /** Drop and create: the policy as the plan has it. */
  sql: string;
}

export type PlannedConstraint =
  | { kind: 'p' | 'u'; name: string; columns: string[]; sql: string }
  | { kind: 'c'; name: string; columns: string[]; expression: string; sql: string }
  | {
      kind: 'f';
      name: string;
      columns: string[];
      references: { schema: string; table: string; columns: string[]; onDelete: string };
      sql: string;
    };

export interface PlannedIndex {
  name: string;
  unique: boolean;
  columns: string[];
  sql: string;
}

export interface PlannedColumn {
  column: PlanColumn;
  /** As `format_type` names it. */
  type: string;
  notNull: boolean;
  default: string | null;
}

export interface PlannedTable {
  table: PlanTable;
  columns: PlannedColumn[];
  constraints: PlannedConstraint[];
  indexes: PlannedIndex[];
  policies: PlannedPolicy[];
  /** The table as the plan creates it (RLS on, indexes, trigger) and its policies. */
  sql: string;
}

export interface PlannedView {
  view: PlanAnalyticsView;
  sql: string;
}

/** A lint the plan causes on purpose, so it is not drift. */
export interface PlannedLint {
  name: string;
  schema: string;
  object: string;
}

export interface PlannedState {
  tables: PlannedTable[];
  /** The folder policies of the plan's storage buckets (spec §9.4), on storage.objects. */
  storagePolicies: PlannedPolicy[];
  views: PlannedView[];
  edgeFunctions: PlanEdgeFunction[];
  lints: PlannedLint[];
}

/** Plan column types as Postgres' `format_type` names them. */
export const FORMAT_TYPE: Record<ColumnType, string> = {
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

/** pg_constraint.confdeltype of the plan's `onDelete`. */
export const ON_DELETE_CODE: Record<string, string> = { cascade: 'c', restrict: 'r', 'set null': 'n' };

function plannedColumns(table: PlanTable): PlannedColumn[] {
  return table.columns.map((column) => ({
    column,
    type: FORMAT_TYPE[column.type],
    notNull: column.primaryKey || !column.nullable,
    default: column.default === null ? null : renderDefault(column.default),
  }));
}

/** Constraints as Postgres names those declared with a column (`<table>_<column>_check`, ...). */
function plannedConstraints(table: PlanTable): PlannedConstraint[] {
  const name = qualified(table.name);
  const constraints: PlannedConstraint[] = [];
  const keys = table.columns.filter((c) => c.primaryKey).map((c) => c.name);
  if (keys.length) {
    constraints.push({
      kind: 'p',
      name: `${table.name}_pkey`,
      columns: keys,
      sql: `alter table ${name} add primary key (${keys.map((k) => `"${k}"`).join(', ')});`,
    });
  }
  for (const column of table.columns) {
    const c = `"${column.name}"`;
    if (column.unique && !column.primaryKey) {
      const constraint = `${table.name}_${column.name}_key`;
      constraints.push({
        kind: 'u',
        name: constraint,
        columns: [column.name],
        sql: `alter table ${name} add constraint "${constraint}" unique (${c});`,
      });
    }
    if (column.check) {
      const constraint = `${table.name}_${column.name}_check`;
      const expression = renderCheck(column.name, column.check);
      constraints.push({
        kind: 'c',
        name: constraint,
        columns: [column.name],
        expression,
        sql: `alter table ${name} add constraint "${constraint}" check (${expression});`,
      });
    }
    if (column.references) {
      const { schema, table: target, column: targetColumn, onDelete } = column.references;
      const constraint = `${table.name}_${column.name}_fkey`;
      constraints.push({
        kind: 'f',
        name: constraint,
        columns: [column.name],
        references: { schema, table: target, columns: [targetColumn], onDelete: ON_DELETE_CODE[onDelete] ?? onDelete },
        sql:
          `alter table ${name} add constraint "${constraint}" foreign key (${c}) ` +
          `references ${qualified(target, schema)}("${targetColumn}") on delete ${onDelete};`,
      });
    }
  }
  return constraints;
}

/** The indexes `renderTable` creates (declared ones and one per foreign key), each with the renderer's statement. */
export function plannedIndexes(table: PlanTable): PlannedIndex[] {
  const lines = renderTable(table).split('\n');
  return tableIndexes(table).map((index) => {
    const sql = lines.find((line) => line.includes(`index if not exists "${index.name}" `));
    if (!sql) throw new Error(`the renderer creates no index ${index.name} for ${table.name}`);
    return { name: index.name, unique: index.unique, columns: index.columns, sql };
  });
}

function toPlanned(policy: ExpandedPolicy, source: PlanSource, schema: 'public' | 'storage'): PlannedPolicy {
  const sql =
    schema === 'public'
      ? renderPolicy(policy)
      : renderPolicy(policy).replaceAll(qualified(policy.table), `storage.${policy.table}`);
  return {
    schema,
    table: policy.table,
    name: policy.name,
    command: policy.command,
    roles: [...policy.roles].sort(),
    using: policy.using,
    withCheck: policy.withCheck,
    source,
    sql,
  };
}

/** The renderer's bucket policies (spec §9.4): the owner's folder, per command. */
function bucketPolicies(plan: Plan): PlannedPolicy[] {
  return plan.buckets.flatMap((bucket) => {
    const folder = `bucket_id = '${bucket.id}' and (storage.foldername(name))[1] = (select auth.uid())::text`;
    const base = bucket.id.replace(/-/g, '_');
    const policy = (verb: string, command: ExpandedPolicy['command']): ExpandedPolicy => ({
      table: 'objects',
      name: `${base}_${verb}_own`,
      command,
      roles: ['authenticated'],
      using: command === 'insert' ? null : folder,
      withCheck: command === 'select' || command === 'delete' ? null : folder,
    });
    return [
      policy('read', 'select'),
      policy('insert', 'insert'),
      policy('update', 'update'),
      policy('delete', 'delete'),
    ].map((p) => toPlanned(p, bucket.source, 'storage'));
  });
}

/** A Edge Function the build recorded as deferred (not deployed) is not expected in the environment. */
function isDeferred(slug: string, deferred: readonly string[]): boolean {
  return deferred.some((item) => item.startsWith(`Edge Function ${slug}:`));
}

export interface PlannedStateOptions {
  /** `build_sessions.outputs.deferred`: what the build said it left for later. */
  deferred?: readonly string[];
}

export function plannedState(plan: Plan, options: PlannedStateOptions = {}): PlannedState {
  const rendered = renderPlan(plan);
  const policiesOf = (table: string) =>
    plan.policies
      .filter((policy) => policy.table === table)
      .flatMap((policy) => expandPolicy(policy).map((expanded) => toPlanned(expanded, policy.source, 'public')));

  const tables = plan.tables.map((table): PlannedTable => {
    const policies = policiesOf(table.name);
    return {
      table,
      columns: plannedColumns(table),
      constraints: plannedConstraints(table),
      indexes: plannedIndexes(table),
      policies,
      sql: [renderTable(table), ...policies.map((policy) => policy.sql)].join('\n'),
    };
  });

  const viewsSql = rendered.analytics.find((migration) => migration.name === 'analytics_views')?.query ?? '';
  const views = plan.options.enableAnalytics
    ? plan.analyticsViews.map((view) => ({
        view,
        sql: viewsSql.split('\n\n').find((block) => block.includes(`view ${qualified(view.name)} `)) ?? '',
      }))
    : [];

  // The organization helpers are security definer and granted to authenticated on purpose (the policies
  // call them); they live in schema private, which the API does not expose.
  const usesOrgHelpers = plan.policies.some((policy) => policy.kind.startsWith('org_'));
  const lints: PlannedLint[] = usesOrgHelpers
    ? ['is_org_member', 'is_org_admin'].map((object) => ({
        name: 'authenticated_security_definer_function_executable',
        schema: 'private',
        object,
      }))
    : [];

  return {
    tables,
    storagePolicies: bucketPolicies(plan),
    views,
    edgeFunctions: plan.edgeFunctions.filter((fn) => !isDeferred(fn.slug, options.deferred ?? [])),
    lints,
  };
}

/** `alter table … add column …` for a planned column, with the indexes on it. */
export function addColumnSql(table: PlannedTable, column: PlanColumn): string {
  return [
    `alter table ${qualified(table.table.name)} add column if not exists ${renderColumn(column)};`,
    ...table.indexes.filter((index) => index.columns.includes(column.name)).map((index) => index.sql),
  ].join('\n');
}
