/**
 * The local MCP server's `get_advisors`: security and performance lints run as SQL against the catalog,
 * named, levelled and shaped as Supabase's database linter (the advisor behind the official server's
 * `get_advisors`) names them, so a finding reads the same from either server.
 *
 * Each lint is one query returning `detail`, `metadata` (at least schema, name, type) and `cache_key`; the
 * fixed fields come from its definition here. The queries are our own, written from the linter's documented
 * meaning of each lint. Read-only.
 */

export type LintLevel = 'ERROR' | 'WARN' | 'INFO';
export type AdvisorType = 'security' | 'performance';

export interface LintDefinition {
  readonly name: string;
  readonly title: string;
  readonly level: LintLevel;
  readonly type: AdvisorType;
  readonly description: string;
  /** The linter's number, for the remediation link. */
  readonly number: string;
  /** Selects `detail text, metadata jsonb, cache_key text`, one row per finding. */
  readonly sql: string;
}

/** A finding as the Supabase API reports it. */
export interface LintRow {
  name: string;
  title: string;
  level: LintLevel;
  facing: 'EXTERNAL';
  categories: string[];
  description: string;
  detail: string;
  remediation: string;
  metadata: Record<string, unknown>;
  cache_key: string;
}

/**
 * Schemas the platform owns (auth, storage, extensions, the migration ledger, our own bookkeeping); lints
 * about user objects leave them out, as Supabase's do.
 */
export const PLATFORM_SCHEMAS = [
  'auth',
  'cron',
  'extensions',
  'graphql',
  'graphql_public',
  'information_schema',
  'net',
  'pgbouncer',
  'pg_catalog',
  'pg_toast',
  'pgmq',
  'pgsodium',
  'pgsodium_masks',
  'pgtle',
  'realtime',
  'repack',
  'storage',
  'supabase_functions',
  'supabase_migrations',
  'vault',
  'vibe_platform',
];
const NOT_PLATFORM = (column: string) =>
  `${column} <> all (array[${PLATFORM_SCHEMAS.map((s) => `'${s}'`).join(', ')}]) and ${column} not like 'pg\\_temp\\_%'`;

/** The schemas the API exposes: PostgREST's db-schemas setting where set, else `public` (Supabase's default). */
const EXPOSED = (column: string) =>
  `${column} = any (select trim(s) from unnest(string_to_array(coalesce(nullif(current_setting('pgrst.db_schemas', true), ''), 'public'), ',')) s)`;

/** Relations that belong to an extension are the extension's business. */
const NOT_EXTENSION_MEMBER = (oid: string) =>
  `not exists (select 1 from pg_depend e where e.objid = ${oid} and e.deptype = 'e')`;

const API_ROLES_CAN_SELECT = (oid: string) =>
  `(has_table_privilege('anon', ${oid}, 'SELECT') or has_table_privilege('authenticated', ${oid}, 'SELECT'))`;

/** pg_policy joined to its table, with the command, roles and expressions as pg_policies shows them. */
const POLICIES = `
  select n.nspname as schema_name, c.relname as table_name, c.relrowsecurity as rls_enabled,
    p.polname as policy_name, p.polpermissive as permissive, p.polroles as role_oids,
    case when p.polroles = '{0}' then array['public']
      else array(select r.rolname::text from pg_roles r where r.oid = any (p.polroles) order by r.rolname) end as roles,
    case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end as command,
    pg_get_expr(p.polqual, p.polrelid) as qual,
    pg_get_expr(p.polwithcheck, p.polrelid) as with_check
  from pg_policy p
  join pg_class c on c.oid = p.polrelid
  join pg_namespace n on n.oid = c.relnamespace`;

const ALWAYS_TRUE = (expression: string) =>
  `regexp_replace(lower(coalesce(${expression}, '')), '\\s+', '', 'g') in ('true', '(true)', '1=1', '(1=1)')`;

/**
 * Lints 0028/0029. Like Supabase's linter (splinter), only functions in the schemas the API exposes count: a
 * function elsewhere (an RLS helper in a private schema) has no `/rest/v1/rpc` endpoint, and a policy must be
 * able to call it, so `authenticated` keeps its EXECUTE there on purpose.
 */
const SECURITY_DEFINER_EXECUTABLE_BY = (role: 'anon' | 'authenticated') => `
  select
    format('SECURITY DEFINER function \`%s.%s(%s)\` is executable by the \`${role}\` role: it runs with its owner''s privileges and bypasses RLS, and the API lets ${role === 'anon' ? 'anyone with the anon key' : 'any signed-in user'} call it (\`/rest/v1/rpc/%s\`).',
      n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.proname) as detail,
    jsonb_build_object('schema', n.nspname, 'name', p.proname, 'type', 'function',
      'arguments', pg_get_function_identity_arguments(p.oid), 'security_definer', true) as metadata,
    format('${role}_security_definer_function_executable_%s_%s_%s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as cache_key
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  where p.prosecdef and has_function_privilege('${role}', p.oid, 'EXECUTE')
    and ${EXPOSED('n.nspname')}
    and ${NOT_PLATFORM('n.nspname')} and ${NOT_EXTENSION_MEMBER('p.oid')}`;

export const LINTS: readonly LintDefinition[] = [
  {
    name: 'rls_disabled_in_public',
    title: 'RLS Disabled in Public',
    level: 'ERROR',
    type: 'security',
    number: '0013',
    description:
      'Detects cases where row level security (RLS) has not been enabled on tables in schemas exposed to the API.',
    sql: `
      select format('Table \`%s.%s\` is public, but RLS has not been enabled.', n.nspname, c.relname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
        format('rls_disabled_in_public_%s_%s', n.nspname, c.relname) as cache_key
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relrowsecurity and ${EXPOSED('n.nspname')}
        and ${NOT_EXTENSION_MEMBER('c.oid')}`,
  },
  {
    name: 'policy_exists_rls_disabled',
    title: 'Policy Exists RLS Disabled',
    level: 'ERROR',
    type: 'security',
    number: '0007',
    description:
      'Detects cases where row level security (RLS) policies have been created, but RLS has not been enabled for the underlying table.',
    sql: `
      select format('Table \`%s.%s\` has RLS policies but RLS is not enabled on the table. Policies include %s.',
          schema_name, table_name, array_agg(policy_name order by policy_name)) as detail,
        jsonb_build_object('schema', schema_name, 'name', table_name, 'type', 'table') as metadata,
        format('policy_exists_rls_disabled_%s_%s', schema_name, table_name) as cache_key
      from (${POLICIES}) p
      where not rls_enabled and ${EXPOSED('schema_name')}
      group by schema_name, table_name`,
  },
  {
    name: 'rls_enabled_no_policy',
    title: 'RLS Enabled No Policy',
    level: 'INFO',
    type: 'security',
    number: '0008',
    description:
      'Detects cases where row level security (RLS) has been enabled on a table but no RLS policies have been created.',
    sql: `
      select format('Table \`%s.%s\` has RLS enabled, but no policies exist', n.nspname, c.relname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
        format('rls_enabled_no_policy_%s_%s', n.nspname, c.relname) as cache_key
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and c.relrowsecurity and ${EXPOSED('n.nspname')}
        and not exists (select 1 from pg_policy p where p.polrelid = c.oid)`,
  },
  {
    name: 'security_definer_view',
    title: 'Security Definer View',
    level: 'ERROR',
    type: 'security',
    number: '0010',
    description:
      'Detects views defined with the SECURITY DEFINER property (the Postgres default before security_invoker). These views enforce the permissions and row level security policies of the view creator, rather than those of the querying user.',
    sql: `
      select format('View \`%s.%s\` is defined with the SECURITY DEFINER property', n.nspname, c.relname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'view') as metadata,
        format('security_definer_view_%s_%s', n.nspname, c.relname) as cache_key
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'v' and ${EXPOSED('n.nspname')} and ${API_ROLES_CAN_SELECT('c.oid')}
        and ${NOT_EXTENSION_MEMBER('c.oid')}
        and not (lower(coalesce(c.reloptions::text, '{}'))::text[]
          && array['security_invoker=1', 'security_invoker=true', 'security_invoker=yes', 'security_invoker=on'])`,
  },
  {
    name: 'function_search_path_mutable',
    title: 'Function Search Path Mutable',
    level: 'WARN',
    type: 'security',
    number: '0011',
    description: 'Detects functions where the search_path parameter is not set.',
    sql: `
      select format('Function \`%s.%s\` has a role mutable search_path', n.nspname, p.proname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', p.proname, 'type', 'function') as metadata,
        format('function_search_path_mutable_%s_%s_%s', n.nspname, p.proname, md5(p.prosrc)) as cache_key
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where ${NOT_PLATFORM('n.nspname')} and ${NOT_EXTENSION_MEMBER('p.oid')}
        and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) s where s like 'search\\_path=%')`,
  },
  {
    name: 'auth_users_exposed',
    title: 'Exposed Auth Users',
    level: 'ERROR',
    type: 'security',
    number: '0002',
    description:
      'Detects if auth.users is exposed to anon or authenticated roles via a view or materialized view in schemas exposed to the API, potentially compromising user data security.',
    sql: `
      select format('View/Materialized View "%s" in the %s schema may expose \`auth.users\` data to anon or authenticated roles.', c.relname, n.nspname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', case c.relkind when 'm' then 'materialized view' else 'view' end,
          'exposed_to', array_remove(array[
            case when has_table_privilege('anon', c.oid, 'SELECT') then 'anon' end,
            case when has_table_privilege('authenticated', c.oid, 'SELECT') then 'authenticated' end], null)) as metadata,
        format('auth_users_exposed_%s_%s', n.nspname, c.relname) as cache_key
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('v', 'm') and ${EXPOSED('n.nspname')} and ${API_ROLES_CAN_SELECT('c.oid')}
        and exists (
          select 1 from pg_rewrite r join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
          where r.ev_class = c.oid and d.refobjid = to_regclass('auth.users') and d.deptype = 'n'
        )`,
  },
  {
    name: 'rls_policy_always_true',
    title: 'RLS Policy Always True',
    level: 'WARN',
    type: 'security',
    number: '0024',
    description:
      'Detects RLS policies that use always-true expressions like `USING (true)` or `WITH CHECK (true)` for UPDATE, DELETE or INSERT. SELECT policies with `USING (true)` are left out: public read access is often deliberate.',
    sql: `
      select format('Table \`%s.%s\` has an RLS policy \`%s\` for \`%s\` that allows unrestricted access (%s). This effectively bypasses row-level security for %s.',
          schema_name, table_name, policy_name, command,
          case when permissive_using and permissive_check then 'both USING and WITH CHECK are always true'
            when permissive_using then 'USING clause is always true' else 'WITH CHECK clause is always true' end,
          array_to_string(roles, ', ')) as detail,
        jsonb_build_object('schema', schema_name, 'name', table_name, 'type', 'table', 'policy_name', policy_name,
          'command', command, 'roles', roles, 'qual', qual, 'with_check', with_check) as metadata,
        format('rls_policy_always_true_%s_%s_%s', schema_name, table_name, policy_name) as cache_key
      from (
        select p.*,
          command in ('UPDATE', 'DELETE', 'ALL') and (${ALWAYS_TRUE('qual')} or qual is null) as permissive_using,
          (${ALWAYS_TRUE('with_check')}
            or (with_check is null and command = 'INSERT')
            or (with_check is null and command in ('UPDATE', 'ALL') and (${ALWAYS_TRUE('qual')} or qual is null))) as permissive_check
        from (${POLICIES}) p
        where rls_enabled and permissive and ${NOT_PLATFORM('schema_name')}
          and (role_oids = '{0}' or exists (
            select 1 from pg_roles r where r.oid = any (role_oids) and r.rolname in ('anon', 'authenticated')))
      ) p
      where permissive_using or permissive_check`,
  },
  {
    name: 'anon_security_definer_function_executable',
    title: 'Security Definer Function Executable by Anon',
    level: 'WARN',
    type: 'security',
    number: '0028',
    description:
      "Detects SECURITY DEFINER functions that the `anon` role may EXECUTE: they run with their owner's privileges and bypass RLS, so anyone holding the public anon key can invoke them through the API.",
    sql: SECURITY_DEFINER_EXECUTABLE_BY('anon'),
  },
  {
    name: 'authenticated_security_definer_function_executable',
    title: 'Security Definer Function Executable by Authenticated',
    level: 'WARN',
    type: 'security',
    number: '0029',
    description:
      "Detects SECURITY DEFINER functions that the `authenticated` role may EXECUTE: they run with their owner's privileges and bypass RLS, so any signed-in user can invoke them through the API.",
    sql: SECURITY_DEFINER_EXECUTABLE_BY('authenticated'),
  },
  {
    name: 'extension_in_public',
    title: 'Extension in Public',
    level: 'WARN',
    type: 'security',
    number: '0014',
    description: 'Detects extensions installed in the `public` schema.',
    sql: `
      select format('Extension \`%s\` is installed in the public schema. Move it to another schema.', e.extname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', e.extname, 'type', 'extension') as metadata,
        format('extension_in_public_%s', e.extname) as cache_key
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
      where n.nspname = 'public' and e.extname <> 'plpgsql'`,
  },
  {
    name: 'auth_rls_initplan',
    title: 'Auth RLS Initialization Plan',
    level: 'WARN',
    type: 'performance',
    number: '0003',
    description:
      'Detects if calls to `auth.<function>()` in RLS policies are being unnecessarily re-evaluated for each row.',
    sql: `
      select format('Table \`%s.%s\` has a row level security policy \`%s\` that re-evaluates an auth.<function>() for each row. Replace \`auth.<function>()\` with \`(select auth.<function>())\`.',
          schema_name, table_name, policy_name) as detail,
        jsonb_build_object('schema', schema_name, 'name', table_name, 'type', 'table', 'policy_name', policy_name) as metadata,
        format('auth_rls_init_plan_%s_%s_%s', schema_name, table_name, policy_name) as cache_key
      from (${POLICIES}) p
      where rls_enabled and ${NOT_PLATFORM('schema_name')} and (
        regexp_count(coalesce(qual, ''), 'auth\\.(uid|jwt|role|email)\\(\\)')
          > regexp_count(lower(coalesce(qual, '')), 'select\\s+auth\\.(uid|jwt|role|email)\\(\\)')
        or regexp_count(coalesce(with_check, ''), 'auth\\.(uid|jwt|role|email)\\(\\)')
          > regexp_count(lower(coalesce(with_check, '')), 'select\\s+auth\\.(uid|jwt|role|email)\\(\\)'))`,
  },
  {
    name: 'unindexed_foreign_keys',
    title: 'Unindexed foreign keys',
    level: 'INFO',
    type: 'performance',
    number: '0001',
    description: 'Identifies foreign key constraints without a covering index, which can impact database performance.',
    sql: `
      select format('Table \`%s.%s\` has a foreign key \`%s\` without a covering index. This can lead to suboptimal query performance.',
          n.nspname, c.relname, f.conname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table',
          'fkey_name', f.conname, 'fkey_columns', f.conkey) as metadata,
        format('unindexed_foreign_keys_%s_%s_%s', n.nspname, c.relname, f.conname) as cache_key
      from pg_constraint f
      join pg_class c on c.oid = f.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      where f.contype = 'f' and ${NOT_PLATFORM('n.nspname')}
        and not exists (
          select 1 from pg_index i
          where i.indrelid = f.conrelid
            and (i.indkey::int2[])[0:cardinality(f.conkey) - 1] @> f.conkey
            and (i.indkey::int2[])[0:cardinality(f.conkey) - 1] <@ f.conkey
        )`,
  },
  {
    name: 'multiple_permissive_policies',
    title: 'Multiple Permissive Policies',
    level: 'WARN',
    type: 'performance',
    number: '0006',
    description:
      'Detects if multiple permissive row level security policies are present on a table for the same `role` and `action` (e.g. insert). Each of them has to be run for every relevant query.',
    sql: `
      select format('Table \`%s.%s\` has multiple permissive policies for role \`%s\` for action \`%s\`. Policies include \`%s\`',
          schema_name, table_name, role_name, action, array_agg(policy_name order by policy_name)) as detail,
        jsonb_build_object('schema', schema_name, 'name', table_name, 'type', 'table') as metadata,
        format('multiple_permissive_policies_%s_%s_%s_%s', schema_name, table_name, role_name, action) as cache_key
      from (
        select p.schema_name, p.table_name, p.policy_name, role_name, action
        from (${POLICIES}) p
        cross join lateral unnest(case when p.roles = array['public'] then array['anon', 'authenticated'] else p.roles end) role_name
        cross join lateral unnest(case when p.command = 'ALL' then array['SELECT', 'INSERT', 'UPDATE', 'DELETE'] else array[p.command] end) action
        where p.permissive and p.rls_enabled and ${NOT_PLATFORM('p.schema_name')}
      ) x
      group by schema_name, table_name, role_name, action
      having count(*) > 1`,
  },
  {
    name: 'no_primary_key',
    title: 'No Primary Key',
    level: 'INFO',
    type: 'performance',
    number: '0004',
    description:
      'Detects if a table does not have a primary key. Tables without a primary key can be inefficient to interact with at scale.',
    sql: `
      select format('Table \`%s.%s\` does not have a primary key', n.nspname, c.relname) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table') as metadata,
        format('no_primary_key_%s_%s', n.nspname, c.relname) as cache_key
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and ${NOT_PLATFORM('n.nspname')} and ${NOT_EXTENSION_MEMBER('c.oid')}
        and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary)`,
  },
  {
    name: 'duplicate_index',
    title: 'Duplicate Index',
    level: 'WARN',
    type: 'performance',
    number: '0009',
    description: 'Detects cases where two or more identical indexes exist.',
    sql: `
      select format('Table \`%s.%s\` has identical indexes %s. Drop all except one of them',
          n.nspname, c.relname, array_agg(ic.relname order by ic.relname)) as detail,
        jsonb_build_object('schema', n.nspname, 'name', c.relname, 'type', 'table',
          'indexes', array_agg(ic.relname order by ic.relname)) as metadata,
        format('duplicate_index_%s_%s_%s', n.nspname, c.relname, array_agg(ic.relname order by ic.relname)) as cache_key
      from pg_index i
      join pg_class c on c.oid = i.indrelid
      join pg_class ic on ic.oid = i.indexrelid
      join pg_namespace n on n.oid = c.relnamespace
      where ${NOT_PLATFORM('n.nspname')}
      group by n.nspname, c.relname, i.indrelid, i.indkey::text, i.indclass::text, i.indcollation::text,
        coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), '')
      having count(*) > 1`,
  },
];

/** One query for every lint of a type: `lint` names the definition of each row. */
export function advisorsQuery(type: AdvisorType): string {
  const lints = LINTS.filter((lint) => lint.type === type);
  return lints
    .map((lint) => `select '${lint.name}' as lint, detail, metadata, cache_key from (${lint.sql}) as "${lint.name}"`)
    .join('\nunion all\n');
}

/** The API's lint rows from the query's rows. Pure. */
export function toLintRows(
  rows: ReadonlyArray<{ lint: string; detail: string; metadata: Record<string, unknown>; cache_key: string }>,
): LintRow[] {
  return rows.map((row) => {
    const lint = LINTS.find((definition) => definition.name === row.lint);
    if (!lint) throw new Error(`unknown lint ${row.lint}`);
    return {
      name: lint.name,
      title: lint.title,
      level: lint.level,
      facing: 'EXTERNAL',
      categories: [lint.type === 'security' ? 'SECURITY' : 'PERFORMANCE'],
      description: lint.description,
      detail: row.detail,
      remediation: `https://supabase.com/docs/guides/database/database-linter?lint=${lint.number}_${lint.name}`,
      metadata: row.metadata,
      cache_key: row.cache_key,
    };
  });
}

/** Fields that repeat on every finding of one lint (the official server groups findings by them). */
const SHARED_FIELDS = ['name', 'title', 'level', 'facing', 'categories', 'description', 'remediation'] as const;

export interface LintGroup {
  name: string;
  title: string;
  level: LintLevel;
  facing: string;
  categories: string[];
  description: string;
  remediation: string;
  count: number;
  findings: Array<{ detail: string; metadata: Record<string, unknown> }>;
}

/**
 * One entry per lint with its findings underneath, `cache_key` dropped: the shape the official server's
 * `get_advisors` returns (it groups the Management API's flat list the same way). Pure.
 */
export function groupLints(lints: readonly LintRow[]): LintGroup[] {
  const groups = new Map<string, LintGroup>();
  for (const lint of lints) {
    const key = JSON.stringify(SHARED_FIELDS.map((field) => lint[field]));
    const finding = { detail: lint.detail, metadata: lint.metadata };
    const group = groups.get(key);
    if (group) {
      group.count += 1;
      group.findings.push(finding);
    } else {
      const { name, title, level, facing, categories, description, remediation } = lint;
      groups.set(key, {
        name,
        title,
        level,
        facing,
        categories,
        description,
        remediation,
        count: 1,
        findings: [finding],
      });
    }
  }
  return [...groups.values()];
}
