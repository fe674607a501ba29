import type { AdvisorLint, DriftFindingType, DriftSeverity, Plan, PlanSource } from '@vibe/contracts';
import { qualified } from '@vibe/planning';
import {
  addColumnSql,
  plannedState,
  type PlannedConstraint,
  type PlannedPolicy,
  type PlannedState,
  type PlannedStateOptions,
  type PlannedTable,
} from './expected.js';
import { canonicalExpression, isAlwaysTrue, sameExpression } from './expression.js';
import type {
  Observed,
  ObservedConstraint,
  ObservedPolicy,
  ObservedTable,
  ObservedView,
  PolicyCommand,
} from './observed.js';
import { bySeverity, lintSeverity, maxSeverity } from './severity.js';

/**
 * Drift: `diff(plan, observed) → findings`. Pure: the plan (what the build made), what the sentinel observed
 * in the environment, and what is different, how bad it is, why it matters and the SQL that restores the
 * plan (rendered by the plan's own renderer, libs/planning). One finding per root cause: a missing table is
 * one finding (its recreation brings back its columns, indexes and policies), a lint that confirms a
 * finding is attached to it.
 */
export interface DriftFinding {
  type: DriftFindingType;
  severity: DriftSeverity;
  /** `table:public.bids`, `policy:public.bids.bids_read_own`, `column:public.bids.amount_cents`, ... */
  resource: string;
  summary: string;
  rationale: string;
  recommendation: string;
  /** Security lints that confirm the finding. */
  lints: string[];
  /** The plan item the drift breaks (and the spec chunk it came from), or null for what the plan never had. */
  source: PlanSource | null;
  /** More of the plan's own words about what drifted (the reasons of related items), for the spec chunk search. */
  context?: string;
  /** What the plan has, and what the environment has: small, deterministic (part of the fingerprint). */
  expected: unknown;
  observed: unknown;
}

/** Any identifier, double-quoted (observed names are not necessarily the plan's lower-case ones). */
function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const ALL_COMMANDS: PolicyCommand[] = ['select', 'insert', 'update', 'delete'];
const commandsOf = (command: PolicyCommand) => (command === 'all' ? ALL_COMMANDS : [command]);
const usesUsing = (command: PolicyCommand) => command !== 'insert';
const usesCheck = (command: PolicyCommand) => command === 'insert' || command === 'update' || command === 'all';

interface PolicyShape {
  command: PolicyCommand;
  roles: string[];
  using: string | null;
  withCheck: string | null;
}

/**
 * The predicate new rows must pass. Postgres falls back to `using` for update (and all); a permissive policy
 * without an expression grants nothing (checked on Postgres 15: no rows, and inserts refused).
 */
function effectiveCheck(policy: PolicyShape): string | null {
  return policy.withCheck ?? (policy.command === 'insert' ? null : policy.using);
}

function grantsSomething(policy: PolicyShape): boolean {
  return (
    (usesUsing(policy.command) && policy.using !== null) ||
    (usesCheck(policy.command) && effectiveCheck(policy) !== null)
  );
}

function lettingEveryRowThrough(policy: PolicyShape): boolean {
  return (
    (usesUsing(policy.command) && isAlwaysTrue(policy.using)) ||
    (usesCheck(policy.command) && isAlwaysTrue(effectiveCheck(policy)))
  );
}

/** Whether the observed policy lets someone do what the planned one does not (more commands, roles, rows). */
function widens(planned: PolicyShape, observed: ObservedPolicy): boolean {
  if (!observed.permissive || !grantsSomething(observed)) return false;
  const plannedCommands = commandsOf(planned.command);
  if (commandsOf(observed.command).some((command) => !plannedCommands.includes(command))) return true;
  if (observed.roles.some((role) => !planned.roles.includes(role))) return true;
  if (usesUsing(observed.command) && isAlwaysTrue(observed.using) && !isAlwaysTrue(planned.using)) return true;
  return (
    usesCheck(observed.command) && isAlwaysTrue(effectiveCheck(observed)) && !isAlwaysTrue(effectiveCheck(planned))
  );
}

function describePolicy(policy: PolicyShape): string {
  const parts = [`for ${policy.command} to ${policy.roles.join(', ')}`];
  if (policy.using !== null) parts.push(`using (${policy.using})`);
  if (policy.withCheck !== null) parts.push(`with check (${policy.withCheck})`);
  return parts.join(' ');
}

function policyDifferences(planned: PlannedPolicy, observed: ObservedPolicy): string[] {
  const differences: string[] = [];
  if (observed.command !== planned.command)
    differences.push(`command ${observed.command} instead of ${planned.command}`);
  const roles = [...observed.roles].sort();
  if (roles.join(',') !== planned.roles.join(',')) {
    differences.push(`roles ${roles.join(', ')} instead of ${planned.roles.join(', ')}`);
  }
  if (!observed.permissive) differences.push('restrictive instead of permissive');
  if (!sameExpression(observed.using, planned.using)) {
    differences.push(`using (${observed.using ?? 'none'}) instead of (${planned.using ?? 'none'})`);
  }
  if (!sameExpression(observed.withCheck, planned.withCheck)) {
    differences.push(`with check (${observed.withCheck ?? 'none'}) instead of (${planned.withCheck ?? 'none'})`);
  }
  return differences;
}

function policyObserved(policy: ObservedPolicy): unknown {
  return {
    command: policy.command,
    roles: [...policy.roles].sort(),
    permissive: policy.permissive,
    using: canonicalExpression(policy.using),
    withCheck: canonicalExpression(policy.withCheck),
  };
}

class Findings {
  readonly list: DriftFinding[] = [];

  add(finding: Omit<DriftFinding, 'lints'> & { lints?: string[] }): void {
    this.list.push({ ...finding, lints: finding.lints ?? [] });
  }
}

function tableFindings(planned: PlannedTable, observed: ObservedTable, out: Findings): void {
  const table = planned.table.name;
  const where = `public.${table}`;
  const source = planned.table.source;

  if (!observed.rlsEnabled) {
    const exposed = observed.apiPrivileges;
    out.add({
      type: 'rls_disabled',
      severity: exposed.length ? 'critical' : 'high',
      resource: `table:${where}`,
      summary: `Row level security is disabled on ${where}.`,
      rationale: exposed.length
        ? `Without row level security every row of ${where} is open to whoever holds these privileges: ${exposed.join(', ')}; ` +
          `the plan lets users reach only the rows its policies allow (${planned.policies.map((p) => p.name).join(', ') || 'none'}).`
        : `The API roles hold no privilege on ${where} now, but the plan requires row level security on every table.`,
      recommendation: `alter table ${qualified(table)} enable row level security;`,
      source,
      expected: { rlsEnabled: true },
      observed: { rlsEnabled: false },
    });
  }

  const columns = new Map(observed.columns.map((column) => [column.name, column]));
  const missingColumns = new Set<string>();
  for (const expected of planned.columns) {
    const name = expected.column.name;
    const found = columns.get(name);
    if (!found) {
      missingColumns.add(name);
      out.add({
        type: 'column_missing',
        severity: 'medium',
        resource: `column:${where}.${name}`,
        summary: `Column ${where}.${name} (${expected.column.type}) is missing.`,
        rationale: `The plan stores ${name} in ${table}; code and policies that use it fail, and what it recorded is gone.`,
        recommendation: addColumnSql(planned, expected.column),
        source,
        expected: { type: expected.type, notNull: expected.notNull },
        observed: null,
      });
      continue;
    }
    const differences: string[] = [];
    const statements: string[] = [];
    const column = `alter table ${qualified(table)} alter column "${name}"`;
    if (found.type !== expected.type) {
      differences.push(`type ${found.type} instead of ${expected.type}`);
      statements.push(`${column} type ${expected.column.type} using "${name}"::${expected.column.type};`);
    }
    if (found.notNull !== expected.notNull) {
      differences.push(expected.notNull ? 'nullable instead of not null' : 'not null instead of nullable');
      statements.push(`${column} ${expected.notNull ? 'set' : 'drop'} not null;`);
    }
    if (!sameExpression(found.default, expected.default)) {
      differences.push(`default ${found.default ?? 'none'} instead of ${expected.default ?? 'none'}`);
      statements.push(
        expected.default === null ? `${column} drop default;` : `${column} set default ${expected.default};`,
      );
    }
    if (differences.length) {
      out.add({
        type: 'column_changed',
        severity: 'medium',
        resource: `column:${where}.${name}`,
        summary: `Column ${where}.${name} differs from the plan: ${differences.join('; ')}.`,
        rationale: `Rows written now can break the rules the plan gives ${table}.${name}, and code written for the plan may fail.`,
        recommendation: statements.join('\n'),
        source,
        expected: { type: expected.type, notNull: expected.notNull, default: canonicalExpression(expected.default) },
        observed: { type: found.type, notNull: found.notNull, default: canonicalExpression(found.default) },
      });
    }
  }
  const plannedColumns = new Set(planned.columns.map((c) => c.column.name));
  for (const column of observed.columns) {
    if (plannedColumns.has(column.name)) continue;
    out.add({
      type: 'column_added',
      severity: 'medium',
      resource: `column:${where}.${column.name}`,
      summary: `Column ${where}.${column.name} (${column.type}) is not in the plan.`,
      rationale: `Data the plan does not know about is stored in ${table}; no policy was designed with it in mind.`,
      recommendation: `-- Not in the plan: this drops the column and what it holds.\nalter table ${qualified(table)} drop column if exists ${quote(column.name)};`,
      source,
      expected: null,
      observed: { type: column.type, notNull: column.notNull },
    });
  }

  constraintFindings(planned, observed, missingColumns, out);
  indexFindings(planned, observed, missingColumns, out);
}

/** The part of a constraint that matters: what it does, not what it is called. */
function constraintKey(constraint: { kind: string; columns: string[] }): string {
  return `${constraint.kind}:${constraint.columns.join(',')}`;
}

function constraintDetail(constraint: PlannedConstraint | ObservedConstraint): string {
  if (constraint.kind === 'c') return canonicalExpression(constraint.expression ?? null) ?? '';
  if (constraint.kind === 'f' && constraint.references) {
    const { schema, table, columns, onDelete } = constraint.references;
    return `${schema}.${table}(${columns.join(',')}) on delete ${onDelete}`;
  }
  return '';
}

function describePlanned(constraint: PlannedConstraint): string {
  switch (constraint.kind) {
    case 'p':
      return `primary key (${constraint.columns.join(', ')})`;
    case 'u':
      return `unique (${constraint.columns.join(', ')})`;
    case 'c':
      return `check (${constraint.expression})`;
    case 'f':
      return `foreign key (${constraint.columns.join(', ')}) references ${constraint.references.schema}.${constraint.references.table}`;
    default: {
      const unknown: never = constraint;
      throw new Error(`unknown constraint ${JSON.stringify(unknown)}`);
    }
  }
}

function constraintFindings(
  planned: PlannedTable,
  observed: ObservedTable,
  missingColumns: Set<string>,
  out: Findings,
): void {
  const where = `public.${planned.table.name}`;
  const source = planned.table.source;
  const unmatched = [...observed.constraints];
  const take = (predicate: (o: ObservedConstraint) => boolean) => {
    const index = unmatched.findIndex(predicate);
    return index < 0 ? undefined : unmatched.splice(index, 1)[0];
  };
  const leftover: PlannedConstraint[] = [];
  for (const expected of planned.constraints) {
    // A dropped column took its constraints along; putting the column back brings them back.
    if (expected.columns.some((column) => missingColumns.has(column))) continue;
    const same = take(
      (o) => constraintKey(o) === constraintKey(expected) && constraintDetail(o) === constraintDetail(expected),
    );
    if (!same) leftover.push(expected);
  }
  for (const expected of leftover) {
    const changed = take((o) => constraintKey(o) === constraintKey(expected));
    if (changed) {
      out.add({
        type: 'constraint_changed',
        severity: 'medium',
        resource: `constraint:${where}.${changed.name}`,
        summary: `Constraint ${changed.name} on ${where} differs from the plan: ${changed.definition} instead of ${describePlanned(expected)}.`,
        rationale: `Rows that the plan's rule for ${expected.columns.join(', ')} refuses can be stored now.`,
        recommendation: `alter table ${qualified(planned.table.name)} drop constraint if exists ${quote(changed.name)};\n${expected.sql}`,
        source,
        expected: { kind: expected.kind, columns: expected.columns, detail: constraintDetail(expected) },
        observed: { kind: changed.kind, columns: changed.columns, detail: constraintDetail(changed) },
      });
      continue;
    }
    out.add({
      type: 'constraint_missing',
      severity: 'medium',
      resource: `constraint:${where}.${expected.name}`,
      summary: `Constraint ${expected.name} (${describePlanned(expected)}) on ${where} is missing.`,
      rationale: `Without it ${where} accepts rows the plan refuses (${describePlanned(expected)}).`,
      recommendation: expected.sql,
      source,
      expected: { kind: expected.kind, columns: expected.columns, detail: constraintDetail(expected) },
      observed: null,
    });
  }
  for (const extra of unmatched) {
    // A constraint on a column the plan does not have is part of that column's finding.
    if (extra.columns.some((column) => !planned.columns.some((c) => c.column.name === column))) continue;
    out.add({
      type: 'constraint_added',
      severity: 'low',
      resource: `constraint:${where}.${extra.name}`,
      summary: `Constraint ${extra.name} on ${where} is not in the plan: ${extra.definition}.`,
      rationale: `Writes the plan allows may be refused.`,
      recommendation: `alter table ${qualified(planned.table.name)} drop constraint if exists ${quote(extra.name)};`,
      source,
      expected: null,
      observed: { kind: extra.kind, columns: extra.columns, detail: constraintDetail(extra) },
    });
  }
}

function indexFindings(
  planned: PlannedTable,
  observed: ObservedTable,
  missingColumns: Set<string>,
  out: Findings,
): void {
  const where = `public.${planned.table.name}`;
  const source = planned.table.source;
  const candidates = observed.indexes.filter((index) => !index.constraint);
  const key = (index: { unique: boolean; columns: string[] }) => `${index.unique}:${index.columns.join(',')}`;
  const unmatched = [...candidates];
  for (const expected of planned.indexes) {
    if (expected.columns.some((column) => missingColumns.has(column))) continue;
    const at = unmatched.findIndex((o) => !o.partial && !o.expressions && key(o) === key(expected));
    if (at >= 0) {
      unmatched.splice(at, 1);
      continue;
    }
    out.add({
      type: 'index_missing',
      severity: expected.unique ? 'medium' : 'low',
      resource: `index:${where}.${expected.name}`,
      summary: `Index ${expected.name} on ${where} (${expected.columns.join(', ')}) is missing.`,
      rationale: expected.unique
        ? `Duplicate rows that the plan refuses can be stored now.`
        : `Queries and policy checks on ${expected.columns.join(', ')} scan the table.`,
      recommendation: expected.sql,
      source,
      expected: { unique: expected.unique, columns: expected.columns },
      observed: null,
    });
  }
  for (const extra of unmatched) {
    // An index on a column the plan does not have goes with that column's finding (an expression key is '').
    if (extra.columns.some((column) => column !== '' && !planned.columns.some((c) => c.column.name === column)))
      continue;
    out.add({
      type: 'index_added',
      severity: 'low',
      resource: `index:${where}.${extra.name}`,
      summary: `Index ${extra.name} on ${where} is not in the plan: ${extra.definition}.`,
      rationale: extra.unique
        ? `Writes the plan allows may be refused as duplicates.`
        : `It costs writes the plan did not plan for.`,
      recommendation: `drop index if exists "public".${quote(extra.name)};`,
      source,
      expected: null,
      observed: {
        unique: extra.unique,
        columns: extra.columns,
        partial: extra.partial,
        expressions: extra.expressions,
      },
    });
  }
}

function tableAdded(observed: ObservedTable, out: Findings): void {
  const where = `public.${observed.name}`;
  const open = !observed.rlsEnabled && observed.apiPrivileges.length > 0;
  out.add({
    type: 'table_added',
    severity: open ? 'critical' : 'medium',
    resource: `table:${where}`,
    summary: `Table ${where} is not in the plan${observed.rlsEnabled ? '' : ' and has row level security disabled'}.`,
    rationale: open
      ? `Every row of ${where} is open to ${observed.apiPrivileges.join(', ')}: the spec requires row level security on every table.`
      : `The plan does not know this table; no policy of the plan protects what it holds.`,
    recommendation: `-- Not in the plan: this drops the table and its rows. To keep it, add it to the plan instead.\ndrop table if exists "public".${quote(observed.name)};`,
    source: null,
    expected: null,
    observed: { rlsEnabled: observed.rlsEnabled, apiPrivileges: observed.apiPrivileges },
  });
}

function policyFindings(
  planned: PlannedState,
  observedPolicies: ObservedPolicy[],
  present: Set<string>,
  out: Findings,
): void {
  const expected = [
    ...planned.tables.filter((t) => present.has(t.table.name)).flatMap((t) => t.policies),
    ...planned.storagePolicies,
  ];
  const plannedTables = new Set(planned.tables.map((t) => t.table.name));
  const key = (p: { schema: string; table: string; name: string }) => `${p.schema}.${p.table}.${p.name}`;
  const considered = observedPolicies.filter(
    (p) => (p.schema === 'public' && plannedTables.has(p.table) && present.has(p.table)) || p.schema === 'storage',
  );
  const observedByKey = new Map(considered.map((p) => [key(p), p]));
  const tableSource = (table: string) => planned.tables.find((t) => t.table.name === table)?.table.source ?? null;
  const context = (table: string) => tableSource(table)?.reason;

  for (const policy of expected) {
    const where = `${policy.schema}.${policy.table}`;
    const found = observedByKey.get(key(policy));
    observedByKey.delete(key(policy));
    if (!found) {
      out.add({
        type: 'policy_missing',
        severity: 'high',
        resource: `policy:${where}.${policy.name}`,
        summary: `Policy ${policy.name} (${policy.command} on ${where}) is missing.`,
        rationale:
          `The plan's rule for ${policy.command} on ${where} (${describePolicy(policy)}) is no longer enforced: ` +
          `who may ${policy.command} which rows is no longer what the spec says.`,
        recommendation: policy.sql,
        source: policy.source,
        context: context(policy.table),
        expected: { command: policy.command, roles: policy.roles },
        observed: null,
      });
      continue;
    }
    const differences = policyDifferences(policy, found);
    if (!differences.length) continue;
    const wider = widens(policy, found);
    out.add({
      type: 'policy_changed',
      severity: wider ? 'critical' : 'high',
      resource: `policy:${where}.${policy.name}`,
      summary: `Policy ${policy.name} on ${where} differs from the plan: ${differences.join('; ')}.`,
      rationale: wider
        ? `It lets ${found.roles.join(', ')} ${commandsOf(found.command).join('/')} rows of ${where} that the plan keeps from them (${describePolicy(policy)}).`
        : `Who may ${policy.command} which rows of ${where} is no longer what the plan says (${describePolicy(policy)}).`,
      recommendation: policy.sql,
      source: policy.source,
      context: context(policy.table),
      expected: {
        command: policy.command,
        roles: policy.roles,
        using: canonicalExpression(policy.using),
        withCheck: canonicalExpression(policy.withCheck),
      },
      observed: policyObserved(found),
    });
  }

  for (const extra of observedByKey.values()) {
    const where = `${extra.schema}.${extra.table}`;
    const writes = commandsOf(extra.command).some((command) => command !== 'select');
    const toEveryone = extra.roles.includes('anon') || extra.roles.includes('public');
    const grants = extra.permissive && grantsSomething(extra);
    const critical = grants && (lettingEveryRowThrough(extra) || (writes && toEveryone));
    out.add({
      type: 'policy_added',
      severity: critical ? 'critical' : grants ? 'high' : 'low',
      resource: `policy:${where}.${extra.name}`,
      summary: `Policy ${extra.name} on ${where} is not in the plan (${extra.permissive ? 'permissive' : 'restrictive'} ${describePolicy(extra)}).`,
      rationale: grants
        ? `Permissive policies add up: it lets ${extra.roles.join(', ')} ${commandsOf(extra.command).join('/')} rows of ${where} beyond what the plan's policies allow.`
        : `A restrictive policy only narrows access, but it is not the plan's.`,
      recommendation: `drop policy if exists ${quote(extra.name)} on ${quote(extra.schema)}.${quote(extra.table)};`,
      source: extra.schema === 'public' ? tableSource(extra.table) : null,
      expected: null,
      observed: policyObserved(extra),
    });
  }
}

function viewFindings(planned: PlannedState, views: ObservedView[], out: Findings): void {
  const byName = new Map(views.map((view) => [view.name, view]));
  for (const expected of planned.views) {
    const where = `public.${expected.view.name}`;
    const found = byName.get(expected.view.name);
    byName.delete(expected.view.name);
    if (!found) {
      out.add({
        type: 'view_missing',
        severity: 'medium',
        resource: `view:${where}`,
        summary: `Analytics view ${where} is missing.`,
        rationale: `The analytics the spec asks for read ${where}; they fail without it.`,
        recommendation: expected.sql,
        source: expected.view.source,
        expected: { securityInvoker: true },
        observed: null,
      });
    } else if (!found.securityInvoker) {
      out.add({
        type: 'view_changed',
        severity: found.apiSelect.length ? 'critical' : 'high',
        resource: `view:${where}`,
        summary: `View ${where} runs with its owner's rights: security_invoker is off.`,
        rationale: `It reads public.${expected.view.table} past row level security, so ${found.apiSelect.join(', ') || 'its readers'} see aggregates of every user's rows, not only their own.`,
        recommendation: expected.sql,
        source: expected.view.source,
        expected: { securityInvoker: true },
        observed: { securityInvoker: false },
      });
    }
  }
  for (const extra of byName.values()) {
    const where = `public.${extra.name}`;
    const readsUsers = extra.dependsOn.includes('auth.users');
    const bypasses = !extra.securityInvoker || extra.materialized;
    const exposed = extra.apiSelect.length > 0 && (bypasses || readsUsers);
    const related =
      planned.tables.find((t) => extra.dependsOn.includes(`public.${t.table.name}`)) ??
      (readsUsers
        ? planned.tables.find((t) =>
            t.table.columns.some((c) => c.references?.schema === 'auth' && c.references.table === 'users'),
          )
        : undefined);
    const kind = extra.materialized ? 'Materialized view' : 'View';
    out.add({
      type: 'view_added',
      severity: exposed ? 'critical' : 'medium',
      resource: `view:${where}`,
      summary:
        `${kind} ${where} is not in the plan` +
        (bypasses ? ", runs with its owner's rights (no security_invoker)" : '') +
        (readsUsers ? ' and reads auth.users' : '') +
        '.',
      rationale: exposed
        ? `${extra.apiSelect.join(' and ')} can read it through the API, and it reads ${extra.dependsOn.join(', ')} ` +
          `past row level security${readsUsers ? ': user accounts (emails, metadata) that the spec keeps private' : ''}.`
        : `The plan does not know this view.`,
      recommendation: `-- Not in the plan.\ndrop ${extra.materialized ? 'materialized view' : 'view'} if exists "public".${quote(extra.name)};`,
      source: related?.table.source ?? null,
      expected: null,
      observed: { securityInvoker: extra.securityInvoker, apiSelect: extra.apiSelect, dependsOn: extra.dependsOn },
    });
  }
}

function edgeFunctionFindings(planned: PlannedState, deployed: string[], out: Findings): void {
  for (const fn of planned.edgeFunctions) {
    if (deployed.includes(fn.slug)) continue;
    out.add({
      type: 'edge_function_missing',
      severity: 'low',
      resource: `edge_function:${fn.slug}`,
      summary: `Edge Function ${fn.slug} is not deployed.`,
      rationale: `The plan deploys ${fn.slug} (spec §9.3); clients calling /functions/v1/${fn.slug} get nothing.`,
      recommendation:
        `-- No SQL restores an Edge Function: deploy it again (the provisioner's deploy_edge_function with\n` +
        `-- name "${fn.slug}", verify_jwt ${String(fn.verifyJwt)} and the source the build rendered for it).`,
      source: fn.source,
      expected: { slug: fn.slug },
      observed: null,
    });
  }
}

/** The resource a lint is about, named as the findings name theirs. */
export function lintResource(lint: AdvisorLint): string {
  const meta = lint.metadata;
  const schema = typeof meta.schema === 'string' ? meta.schema : '';
  const name = typeof meta.name === 'string' ? meta.name : '';
  const type = typeof meta.type === 'string' ? meta.type : '';
  if (typeof meta.policy_name === 'string') return `policy:${schema}.${name}.${meta.policy_name}`;
  if (type === 'table') return `table:${schema}.${name}`;
  if (type === 'view' || type === 'materialized view') return `view:${schema}.${name}`;
  if (type === 'function') return `function:${schema}.${name}`;
  if (type === 'extension') return `extension:${name}`;
  return `${type || 'object'}:${schema ? `${schema}.` : ''}${name}`;
}

/** SQL that answers a lint no other finding explains. */
function lintRecommendation(lint: AdvisorLint): string {
  const meta = lint.metadata;
  const schema = typeof meta.schema === 'string' ? meta.schema : 'public';
  const name = typeof meta.name === 'string' ? meta.name : '';
  const args = typeof meta.arguments === 'string' ? `(${meta.arguments})` : '';
  const fn = `${quote(schema)}.${quote(name)}${args}`;
  switch (lint.name) {
    case 'function_search_path_mutable':
      return `alter function ${fn} set search_path = '';`;
    case 'anon_security_definer_function_executable':
      return `revoke execute on function ${fn} from public, anon;`;
    case 'authenticated_security_definer_function_executable':
      return `revoke execute on function ${fn} from public, authenticated;`;
    case 'security_definer_view':
      return `alter view ${quote(schema)}.${quote(name)} set (security_invoker = true);`;
    case 'auth_users_exposed':
      return `revoke select on ${quote(schema)}.${quote(name)} from anon, authenticated;`;
    case 'rls_disabled_in_public':
    case 'policy_exists_rls_disabled':
      return `alter table ${quote(schema)}.${quote(name)} enable row level security;`;
    case 'rls_policy_always_true':
      return typeof meta.policy_name === 'string'
        ? `drop policy if exists ${quote(meta.policy_name)} on ${quote(schema)}.${quote(name)};`
        : `-- See ${lint.remediation}`;
    case 'extension_in_public':
      return `alter extension ${quote(name)} set schema extensions;`;
    default:
      return `-- See ${lint.remediation}`;
  }
}

function lintFindings(planned: PlannedState, lints: AdvisorLint[], out: Findings): void {
  const relevant = lints.filter(
    (lint) =>
      (lint.level === 'ERROR' || lint.level === 'WARN') &&
      !planned.lints.some(
        (p) => p.name === lint.name && p.schema === lint.metadata.schema && p.object === lint.metadata.name,
      ),
  );
  const unexplained = new Map<string, AdvisorLint[]>();
  for (const lint of relevant) {
    const resource = lintResource(lint);
    const finding = out.list.find((f) => f.resource === resource);
    if (finding) {
      if (!finding.lints.includes(lint.name)) finding.lints.push(lint.name);
      finding.severity = maxSeverity(finding.severity, lintSeverity(lint));
      continue;
    }
    unexplained.set(resource, [...(unexplained.get(resource) ?? []), lint]);
  }
  for (const [resource, group] of unexplained) {
    const tableName = resource.startsWith('table:public.') ? resource.slice('table:public.'.length) : null;
    out.add({
      type: 'security_lint',
      severity: group.map(lintSeverity).reduce(maxSeverity),
      resource,
      summary: `Security advisor: ${group.map((lint) => lint.detail).join(' ')}`,
      rationale: group.map((lint) => lint.description).join(' '),
      recommendation: [...new Set(group.map(lintRecommendation))].join('\n'),
      lints: [...new Set(group.map((lint) => lint.name))].sort(),
      source: planned.tables.find((t) => t.table.name === tableName)?.table.source ?? null,
      expected: null,
      observed: group
        .map((lint) => ({ lint: lint.name, detail: lint.detail }))
        .sort((a, b) => a.lint.localeCompare(b.lint)),
    });
  }
}

/** What drifted between the plan and the environment, most severe first. */
export function diff(plan: Plan, observed: Observed, options: PlannedStateOptions = {}): DriftFinding[] {
  const planned = plannedState(plan, options);
  const out = new Findings();
  const tables = new Map(observed.snapshot.tables.map((table) => [table.name, table]));
  const plannedNames = new Set(plan.tables.map((table) => table.name));

  for (const table of planned.tables) {
    const found = tables.get(table.table.name);
    if (found) {
      tableFindings(table, found, out);
      continue;
    }
    const where = `public.${table.table.name}`;
    out.add({
      type: 'table_missing',
      severity: 'medium',
      resource: `table:${where}`,
      summary: `Table ${where} is missing.`,
      rationale: `The spec asks for ${table.table.name}; what it held is gone, and with it its row level security and policies (${table.policies.map((p) => p.name).join(', ') || 'none'}).`,
      recommendation: table.sql,
      source: table.table.source,
      expected: { columns: table.columns.map((c) => c.column.name) },
      observed: null,
    });
  }
  for (const table of observed.snapshot.tables) if (!plannedNames.has(table.name)) tableAdded(table, out);
  policyFindings(planned, observed.snapshot.policies, new Set(tables.keys()), out);
  viewFindings(planned, observed.snapshot.views, out);
  edgeFunctionFindings(planned, observed.edgeFunctions, out);
  lintFindings(planned, observed.lints, out);

  for (const finding of out.list) finding.lints.sort();
  return out.list.sort((a, b) => bySeverity(a.severity, b.severity) || a.resource.localeCompare(b.resource));
}
