import type {
  ColumnCheck,
  ColumnDefault,
  Plan,
  PlanBucket,
  PlanColumn,
  PlanSeed,
  PlanTable,
  SeedValue,
} from '@vibe/contracts';
import { expandPolicy, literal, renderPolicy, type ExpandedPolicy } from './policies.js';
import { ident, qualified } from './sql.js';
import { tableOrder, validatePlan } from './validate-plan.js';

/** One migration for the provisioned environment: a snake_case name (its ledger key) and its SQL. */
export interface Migration {
  name: string;
  query: string;
}

/**
 * A plan rendered into migrations, grouped by the build step that applies them. Every migration can be
 * applied again without error and without changing anything (`if not exists`, `create or replace`,
 * drop-and-create of policies and triggers, `on conflict do nothing`).
 */
export interface RenderedPlan {
  /** Spec §9.1 shared primitives, the tables (each with RLS enabled as it is created), org helpers. */
  schema: Migration[];
  /** RLS on every table, the policies, storage buckets and their folder policies. */
  security: Migration[];
  /** The SQL functions the Edge Functions call (spec §9.3.0). */
  functions: Migration;
  /** Analytics views and demo rows, when analytics is enabled. */
  analytics: Migration[];
  /** Every policy the plan expands to, as the catalog should show it. */
  policies: ExpandedPolicy[];
}

export class InvalidPlanError extends Error {
  override readonly name = 'InvalidPlanError';
  constructor(readonly problems: string[]) {
    super(`the plan is not valid: ${problems.join('; ')}`);
  }
}

const DEFAULTS: Record<Exclude<ColumnDefault, { text: string }>, string> = {
  now: 'now()',
  gen_random_uuid: 'gen_random_uuid()',
  auth_uid: 'auth.uid()',
  true: 'true',
  false: 'false',
  zero: '0',
  empty_object: "'{}'::jsonb",
};

export function renderDefault(value: ColumnDefault): string {
  return typeof value === 'string' ? DEFAULTS[value] : literal(value.text);
}

export function renderCheck(column: string, check: ColumnCheck): string {
  const c = ident(column);
  switch (check.kind) {
    case 'non_negative':
      return `${c} >= 0`;
    case 'positive':
      return `${c} > 0`;
    case 'between':
      return `${c} between ${Math.trunc(check.min)} and ${Math.trunc(check.max)}`;
    case 'one_of':
      return `${c} in (${check.values.map(literal).join(', ')})`;
    case 'max_length':
      return `char_length(${c}) <= ${Math.trunc(check.max)}`;
    default: {
      const unknown: never = check;
      throw new Error(`unknown check ${JSON.stringify(unknown)}`);
    }
  }
}

export function renderColumn(column: PlanColumn): string {
  const parts = [ident(column.name), column.type];
  if (column.primaryKey) parts.push('primary key');
  else {
    if (!column.nullable) parts.push('not null');
    if (column.unique) parts.push('unique');
  }
  if (column.default !== null) parts.push(`default ${renderDefault(column.default)}`);
  if (column.references) {
    const { schema, table, column: target, onDelete } = column.references;
    parts.push(`references ${qualified(table, schema)}(${ident(target)}) on delete ${onDelete}`);
  }
  if (column.check) parts.push(`check (${renderCheck(column.name, column.check)})`);
  return parts.join(' ');
}

/** Index names: `<table>_<columns>_idx`, cut to fit Postgres' 63 characters. */
function indexName(table: string, columns: readonly string[], unique: boolean): string {
  return `${table}_${columns.join('_')}`.slice(0, 57) + (unique ? '_uidx' : '_idx');
}

/** The indexes a table gets: each declared one, and one per foreign key that no index leads with. */
export function tableIndexes(table: PlanTable): Array<{ name: string; columns: string[]; unique: boolean }> {
  const indexes: Array<{ columns: string[]; unique: boolean }> = [];
  for (const index of table.indexes) indexes.push({ columns: index.columns, unique: index.unique });
  for (const c of table.columns) {
    if (c.references && !c.primaryKey && !indexes.some((i) => i.columns[0] === c.name)) {
      indexes.push({ columns: [c.name], unique: false });
    }
  }
  return indexes.map((index) => ({ ...index, name: indexName(table.name, index.columns, index.unique) }));
}

/** The table, RLS enabled in the same statement batch, an index per foreign key and per declared index. */
export function renderTable(table: PlanTable): string {
  const name = qualified(table.name);
  const statements = [
    `create table if not exists ${name} (\n  ${table.columns.map(renderColumn).join(',\n  ')}\n);`,
    // Secure by default: the table is never visible without RLS, not even between two migrations.
    `alter table ${name} enable row level security;`,
  ];
  for (const index of tableIndexes(table)) {
    statements.push(
      `create ${index.unique ? 'unique ' : ''}index if not exists ${ident(index.name)} ` +
        `on ${name} (${index.columns.map(ident).join(', ')});`,
    );
  }
  if (table.touchUpdatedAt) {
    const trigger = ident(`${table.name}_set_updated_at`);
    statements.push(
      `drop trigger if exists ${trigger} on ${name};`,
      `create trigger ${trigger} before update on ${name} for each row execute function public.set_updated_at();`,
    );
  }
  return statements.join('\n');
}

const COMMON_SQL = `-- Spec §9.1, with a fixed search_path on every function (lint function_search_path_mutable).
create or replace function public.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at = now();
  return new;
end;
$$;

-- Trigger functions are not API: nobody calls them directly.
revoke all on function public.set_updated_at() from public, anon, authenticated;`;

const NEW_USER_SQL = `create or replace function public.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.profiles (id, display_name, avatar_url)
  values (new.id, new.raw_user_meta_data ->> 'name', new.raw_user_meta_data ->> 'avatar_url')
  on conflict (id) do nothing;
  return new;
end;
$$;

revoke all on function public.handle_new_user() from public, anon, authenticated;

drop trigger if exists on_auth_user_created on auth.users;
create trigger on_auth_user_created
after insert on auth.users
for each row execute function public.handle_new_user();`;

/**
 * Organization membership checks for org policies: security definer, so a policy on memberships does not
 * query memberships under RLS again; in schema private, which the API does not expose; fixed search_path.
 * The creator of an organization becomes its owner.
 */
const ORG_HELPERS_SQL = `create schema if not exists private;
revoke all on schema private from public, anon;
grant usage on schema private to authenticated;

create or replace function private.is_org_member(p_org_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.memberships m
    where m.org_id = p_org_id and m.user_id = (select auth.uid())
  )
$$;

create or replace function private.is_org_admin(p_org_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.memberships m
    where m.org_id = p_org_id and m.user_id = (select auth.uid()) and m.role in ('owner', 'admin')
  )
$$;

create or replace function private.add_org_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.created_by is not null then
    insert into public.memberships (org_id, user_id, role)
    values (new.id, new.created_by, 'owner')
    on conflict (org_id, user_id) do nothing;
  end if;
  return new;
end;
$$;

revoke all on function private.is_org_member(uuid) from public, anon;
revoke all on function private.is_org_admin(uuid) from public, anon;
revoke all on function private.add_org_owner() from public, anon, authenticated;
grant execute on function private.is_org_member(uuid) to authenticated;
grant execute on function private.is_org_admin(uuid) to authenticated;

drop trigger if exists organizations_add_owner on public.organizations;
create trigger organizations_add_owner
after insert on public.organizations
for each row execute function private.add_org_owner();`;

/**
 * Spec §9.4's folder policies of a private bucket, on `storage.objects` (their `table` is `objects`): a
 * signed-in user reads and writes only objects under `<their id>/`.
 */
export function bucketPolicies(bucket: PlanBucket): ExpandedPolicy[] {
  const id = literal(bucket.id);
  const folder = `bucket_id = ${id} and (storage.foldername(name))[1] = (select auth.uid())::text`;
  const base = bucket.id.replace(/-/g, '_');
  return [
    {
      table: 'objects',
      name: `${base}_read_own`,
      command: 'select',
      roles: ['authenticated'],
      using: folder,
      withCheck: null,
    },
    {
      table: 'objects',
      name: `${base}_insert_own`,
      command: 'insert',
      roles: ['authenticated'],
      using: null,
      withCheck: folder,
    },
    {
      table: 'objects',
      name: `${base}_update_own`,
      command: 'update',
      roles: ['authenticated'],
      using: folder,
      withCheck: folder,
    },
    {
      table: 'objects',
      name: `${base}_delete_own`,
      command: 'delete',
      roles: ['authenticated'],
      using: folder,
      withCheck: null,
    },
  ];
}

function renderBuckets(plan: Plan): string {
  return plan.buckets
    .map((bucket) => {
      const id = literal(bucket.id);
      return [
        // Spec §9.4: private bucket, objects under "<user id>/…" are their owner's alone.
        `insert into storage.buckets (id, name, public) values (${id}, ${id}, false) on conflict (id) do nothing;`,
        ...bucketPolicies(bucket).map((p) => renderPolicy(p).replaceAll(qualified('objects'), 'storage.objects')),
      ].join('\n');
    })
    .join('\n\n');
}

function renderFunctions(plan: Plan): string {
  const tableList = plan.tables.map((table) => literal(table.name)).join(', ');
  const view = plan.analyticsViews[0];
  const parts = [
    `-- Spec §9.3.0. Security definer with a fixed search_path; only the service role, which the Edge Functions
-- use, may call them. Supabase grants execute on new functions to anon and authenticated by default, so
-- those grants are revoked explicitly.
create or replace function public.inspect_security_state()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  tables_json jsonb;
  policies_json jsonb;
begin
  select jsonb_agg(jsonb_build_object('table', c.relname, 'rls_enabled', c.relrowsecurity) order by c.relname)
  into tables_json
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public'
    and c.relkind = 'r'
    and c.relname in (${tableList});

  select jsonb_agg(
    jsonb_build_object('table', tablename, 'policy', policyname, 'cmd', cmd, 'roles', roles)
    order by tablename, policyname
  )
  into policies_json
  from pg_catalog.pg_policies
  where schemaname = 'public'
    and tablename in (${tableList});

  return jsonb_build_object('tables', coalesce(tables_json, '[]'::jsonb), 'policies', coalesce(policies_json, '[]'::jsonb));
end;
$$;

revoke all on function public.inspect_security_state() from public, anon, authenticated;
grant execute on function public.inspect_security_state() to service_role;`,
  ];
  if (view) {
    const sum = view.sumColumn ? `, sum(${ident(view.sumColumn)}) as total` : '';
    parts.push(`create or replace function public.run_analytics_query()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(t), '[]'::jsonb)
  from (
    select date_trunc('day', created_at) as day, count(*) as rows${sum}
    from ${qualified(view.table)}
    group by 1
    order by 1 desc
    limit 30
  ) t
$$;

revoke all on function public.run_analytics_query() from public, anon, authenticated;
grant execute on function public.run_analytics_query() to service_role;`);
  }
  return parts.join('\n\n');
}

function renderAnalyticsViews(plan: Plan): string {
  return plan.analyticsViews
    .map((view) => {
      const sum = view.sumColumn ? `, sum(${ident(view.sumColumn)}) as total` : '';
      return [
        // security_invoker: the view applies the caller's RLS, so a user sees aggregates of their own rows.
        `create or replace view ${qualified(view.name)} with (security_invoker = true) as\n` +
          `  select date_trunc('day', created_at) as day, count(*) as rows${sum}\n  from ${qualified(view.table)}\n  group by 1;`,
        `revoke all on ${qualified(view.name)} from anon;`,
        `grant select on ${qualified(view.name)} to authenticated, service_role;`,
      ].join('\n');
    })
    .join('\n\n');
}

/** Seed ids are derived from names, so applying the seed again inserts nothing. */
const seedUserId = (email: string) => `md5(${literal(`vibe-seed-user:${email}`)})::uuid`;
const seedRowId = (table: string, index: number) => `md5(${literal(`vibe-seed-row:${table}:${index}`)})::uuid`;

function renderSeedValue(seed: PlanSeed, value: SeedValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return literal(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  if ('user' in value) return seedUserId(seed.users[value.user]!.email);
  if ('row' in value) return seedRowId(value.table, value.row);
  return `now() - interval '${Math.trunc(value.daysAgo)} days'`;
}

function renderSeed(seed: PlanSeed): string {
  const statements = seed.users.map(
    (user) =>
      `insert into auth.users (id, email, raw_user_meta_data) values (${seedUserId(user.email)}, ${literal(user.email)}, ` +
      `jsonb_build_object('name', ${literal(user.name)})) on conflict (id) do nothing;`,
  );
  const counts = new Map<string, number>();
  for (const row of seed.rows) {
    const index = counts.get(row.table) ?? 0;
    counts.set(row.table, index + 1);
    const columns = ['id', ...Object.keys(row.values)];
    const values = [seedRowId(row.table, index), ...Object.values(row.values).map((v) => renderSeedValue(seed, v))];
    statements.push(
      `insert into ${qualified(row.table)} (${columns.map(ident).join(', ')}) values (${values.join(', ')}) on conflict (id) do nothing;`,
    );
  }
  return `-- Demo rows for the preview (the analytics query returns rows); fixed ids, so a re-run inserts nothing.\n${statements.join('\n')}`;
}

function usesOrgHelpers(plan: Plan): boolean {
  return plan.policies.some((p) => p.kind.startsWith('org_'));
}

/** Renders a valid plan into its migrations. Pure: the same plan, the same SQL. */
export function renderPlan(plan: Plan): RenderedPlan {
  const problems = validatePlan(plan);
  if (problems.length) throw new InvalidPlanError(problems);
  const ordered = tableOrder(plan.tables)!;
  const policies = plan.policies.flatMap(expandPolicy);
  const names = new Set<string>();
  for (const policy of policies) {
    const key = `${policy.table}.${policy.name}`;
    if (names.has(key)) throw new InvalidPlanError([`policy ${key} would be created twice`]);
    names.add(key);
  }

  const hasProfiles = plan.tables.some((t) => t.name === 'profiles');
  const schema: Migration[] = [
    { name: 'common_primitives', query: COMMON_SQL },
    { name: 'schema_tables', query: ordered.map(renderTable).join('\n\n') },
  ];
  if (hasProfiles) schema.push({ name: 'new_user_profiles', query: NEW_USER_SQL });
  if (usesOrgHelpers(plan)) schema.push({ name: 'organization_helpers', query: ORG_HELPERS_SQL });

  const security: Migration[] = [
    {
      name: 'row_level_security',
      query: [
        ...ordered.map((table) => `alter table ${qualified(table.name)} enable row level security;`),
        ...policies.map(renderPolicy),
      ].join('\n\n'),
    },
  ];
  if (plan.buckets.length) security.push({ name: 'storage_buckets', query: renderBuckets(plan) });

  const analytics: Migration[] = [];
  if (plan.options.enableAnalytics && plan.analyticsViews.length) {
    analytics.push({ name: 'analytics_views', query: renderAnalyticsViews(plan) });
    if (plan.seed) analytics.push({ name: 'demo_seed', query: renderSeed(plan.seed) });
  }

  return {
    schema,
    security,
    functions: { name: 'edge_function_sql', query: renderFunctions(plan) },
    analytics,
    policies,
  };
}

/** All migrations in the order a build applies them. */
export function allMigrations(rendered: RenderedPlan): Migration[] {
  return [...rendered.schema, ...rendered.security, rendered.functions, ...rendered.analytics];
}
