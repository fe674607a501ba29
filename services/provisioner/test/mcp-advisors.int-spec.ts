import type { McpSession } from '../src/mcp/mcp-session.js';
import { startLocalMcp, valueOf, type LocalMcp } from './local-mcp.js';

interface LintGroup {
  name: string;
  title: string;
  level: string;
  facing: string;
  categories: string[];
  description: string;
  remediation: string;
  count: number;
  findings: Array<{ detail: string; metadata: Record<string, unknown> }>;
}

/** Given an environment with `sql` applied, the advisor's findings of one type, as `name level schema.object`. */
async function findings(mcp: LocalMcp, sql: string, type: 'security' | 'performance'): Promise<string[]> {
  const ref = await mcp.createEnvironment();
  const rw = await mcp.open(ref, 'read-write');
  if (sql) await valueOf(rw, 'apply_migration', { name: 'setup', query: sql });
  return flatten(await lints(await mcp.open(ref, 'read-only'), type));
}

async function lints(session: McpSession, type: 'security' | 'performance'): Promise<LintGroup[]> {
  return (await valueOf<{ result: { lints: LintGroup[] } }>(session, 'get_advisors', { type })).result.lints;
}

function flatten(groups: LintGroup[]): string[] {
  return groups
    .flatMap((group) =>
      group.findings.map((f) => `${group.name} ${group.level} ${String(f.metadata.schema)}.${String(f.metadata.name)}`),
    )
    .sort();
}

/** The mistakes the security lints exist for, one object each. */
const INSECURE = `
  create table public.open_table (id int primary key);

  create table public.policy_without_rls (id int primary key);
  create policy anyone_reads on public.policy_without_rls for select to anon using (true);

  create table public.locked (id int primary key);
  alter table public.locked enable row level security;

  -- A view runs with its owner's rights unless security_invoker is set; the API roles may select it.
  create view public.locked_view as select id from public.locked;

  create function public.mutable_path() returns int language sql as $$ select 1 $$;

  create view public.user_emails with (security_invoker = true) as select id, email from auth.users;
  grant select on public.user_emails to anon;

  create table public.notes (id int primary key, owner uuid);
  alter table public.notes enable row level security;
  create policy notes_read on public.notes for select to anon using (true);
  create policy notes_update_any on public.notes for update to authenticated using (true) with check (true);

  -- Supabase's default privileges give new functions to anon and authenticated.
  create function public.bypass_rls() returns int language sql security definer set search_path = ''
    as $$ select 1 $$;

  create extension citext with schema public;`;

/** The same kinds of objects, done the way DESIGN.md §6 asks. */
const SECURE = `
  create table public.notes (id int primary key, owner uuid not null default auth.uid(), body text);
  alter table public.notes enable row level security;
  create policy notes_read on public.notes for select to anon, authenticated using (true);
  create policy notes_insert on public.notes for insert to authenticated with check (owner = (select auth.uid()));
  create policy notes_update on public.notes for update to authenticated
    using (owner = (select auth.uid())) with check (owner = (select auth.uid()));
  create view public.note_bodies with (security_invoker = true) as select id, body from public.notes;
  create function public.touch() returns int language sql set search_path = '' as $$ select 1 $$;
  create function public.admin_only() returns int language sql security definer set search_path = ''
    as $$ select 1 $$;
  revoke execute on function public.admin_only() from public, anon, authenticated;
  grant execute on function public.admin_only() to service_role;`;

describe('the local MCP server: get_advisors', () => {
  let mcp: LocalMcp;

  beforeAll(async () => {
    mcp = await startLocalMcp();
  });

  afterAll(async () => {
    await mcp?.close();
  });

  it('finds nothing in a fresh environment', async () => {
    expect(await findings(mcp, '', 'security')).toEqual([]);
    expect(await findings(mcp, '', 'performance')).toEqual([]);
  });

  it('names and levels each security mistake as Supabase does, naming the object', async () => {
    expect(await findings(mcp, INSECURE, 'security')).toEqual([
      'anon_security_definer_function_executable WARN public.bypass_rls',
      'auth_users_exposed ERROR public.user_emails',
      'authenticated_security_definer_function_executable WARN public.bypass_rls',
      'extension_in_public WARN public.citext',
      'function_search_path_mutable WARN public.mutable_path',
      'policy_exists_rls_disabled ERROR public.policy_without_rls',
      'rls_disabled_in_public ERROR public.open_table',
      'rls_disabled_in_public ERROR public.policy_without_rls',
      'rls_enabled_no_policy INFO public.locked',
      'rls_policy_always_true WARN public.notes',
      'security_definer_view ERROR public.locked_view',
    ]);
  });

  it('gives each lint its title, description, remediation link and detail, grouped as the official server groups them', async () => {
    const ref = await mcp.createEnvironment();
    await valueOf(await mcp.open(ref, 'read-write'), 'apply_migration', {
      name: 'two_open_tables',
      query: 'create table public.a (id int primary key); create table public.b (id int primary key);',
    });
    const groups = await lints(await mcp.open(ref, 'read-only'), 'security');
    expect(groups).toEqual([
      {
        name: 'rls_disabled_in_public',
        title: 'RLS Disabled in Public',
        level: 'ERROR',
        facing: 'EXTERNAL',
        categories: ['SECURITY'],
        description: expect.stringContaining('row level security (RLS) has not been enabled'),
        remediation: 'https://supabase.com/docs/guides/database/database-linter?lint=0013_rls_disabled_in_public',
        count: 2,
        findings: [
          {
            detail: 'Table `public.a` is public, but RLS has not been enabled.',
            metadata: { schema: 'public', name: 'a', type: 'table' },
          },
          {
            detail: 'Table `public.b` is public, but RLS has not been enabled.',
            metadata: { schema: 'public', name: 'b', type: 'table' },
          },
        ],
      },
    ]);
  });

  it('finds no ERROR or WARN security lint where the objects are made as DESIGN.md §6 asks', async () => {
    expect(await findings(mcp, SECURE, 'security')).toEqual([]);
    // The performance advisor is content too: (select auth.uid()), one permissive policy per role and action.
    expect(await findings(mcp, SECURE, 'performance')).toEqual([]);
  });

  it('leaves a security definer helper in a schema the API does not expose alone, as Supabase’s linter does', async () => {
    // An RLS helper must be executable by the role whose policies call it; out of the exposed schemas it has
    // no RPC endpoint (splinter's lints 0028/0029 look at the exposed schemas only). The same function in
    // public is an endpoint, and is flagged.
    const helper = (schema: string) => `
      create function ${schema}.is_member() returns boolean language sql stable security definer set search_path = ''
        as $$ select true $$;
      revoke all on function ${schema}.is_member() from public, anon;
      grant execute on function ${schema}.is_member() to authenticated;`;
    expect(
      await findings(
        mcp,
        `create schema private;
         grant usage on schema private to authenticated;
         ${helper('private')}
         ${helper('public')}`,
        'security',
      ),
    ).toEqual(['authenticated_security_definer_function_executable WARN public.is_member']);
  });

  it('finds the performance mistakes: per-row auth calls, unindexed foreign keys, overlapping policies', async () => {
    expect(
      await findings(
        mcp,
        `create table public.parents (id int primary key);
         create index parents_id_again on public.parents (id);
         create table public.children (id int primary key, parent_id int references public.parents (id), owner uuid);
         alter table public.children enable row level security;
         create policy own_rows on public.children for select to authenticated using (owner = auth.uid());
         create policy all_rows on public.children for select to authenticated using (true);
         create table public.heap (x int);`,
        'performance',
      ),
    ).toEqual([
      'auth_rls_initplan WARN public.children',
      'duplicate_index WARN public.parents',
      'multiple_permissive_policies WARN public.children',
      'no_primary_key INFO public.heap',
      'unindexed_foreign_keys INFO public.children',
    ]);
  });

  it('sees a foreign key covered by an index, and an auth call wrapped in a select', async () => {
    expect(
      await findings(
        mcp,
        `create table public.parents (id int primary key);
         create table public.children (id int primary key, parent_id int references public.parents (id), owner uuid);
         create index children_parent_idx on public.children (parent_id, id);
         alter table public.children enable row level security;
         create policy own_rows on public.children for select to authenticated using (owner = (select auth.uid()));`,
        'performance',
      ),
    ).toEqual([]);
  });
});
