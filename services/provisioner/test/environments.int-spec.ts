import { newId, ProvisionOutputs, type EnvironmentInfo } from '@vibe/contracts';
import { callProvisioner } from '@vibe/platform';
import type pg from 'pg';
import { commands, outputOf, startProvisioner, type Provisioner } from './harness.js';
import { waitFor } from '../../../test/support/index.js';

/** What makes a database look like Supabase, read from its catalogs: equal for "branch" and "project". */
async function supabaseSurface(db: pg.Client): Promise<unknown> {
  const relations = await db.query(`
    select n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relacl::text
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname in ('auth', 'supabase_migrations', 'public') order by 1, 2`);
  const functions = await db.query(`
    select p.proname, p.provolatile, p.prosrc, p.proacl::text
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'auth' order by 1`);
  const schemas = await db.query(`
    select nspname, nspacl::text from pg_namespace
    where nspname in ('auth', 'extensions', 'public', 'supabase_migrations') order by 1`);
  const defaults = await db.query(`select defaclobjtype, defaclacl::text from pg_default_acl order by 1`);
  const extensions = await db.query(`
    select e.extname, n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace order by 1`);
  const settings = await db.query(`
    select setconfig from pg_db_role_setting
    where setdatabase = (select oid from pg_database where datname = current_database())`);
  return {
    relations: relations.rows,
    functions: functions.rows,
    schemas: schemas.rows,
    defaults: defaults.rows,
    extensions: extensions.rows,
    settings: settings.rows,
  };
}

async function asUser<T>(db: pg.Client, role: string, claims: object | null, work: () => Promise<T>): Promise<T> {
  await db.query('begin');
  try {
    await db.query(`set local role ${role}`);
    if (claims) await db.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
    return await work();
  } finally {
    await db.query('rollback');
  }
}

describe('provisioner: environments on the local driver', () => {
  let provisioner: Provisioner;
  const created = new Map<string, EnvironmentInfo>();

  beforeAll(async () => {
    provisioner = await startProvisioner();
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  async function createEnvironment(mode: 'branch' | 'project', sessionId = newId()): Promise<EnvironmentInfo> {
    const result = await provisioner.send(commands.createEnvironment(sessionId, mode));
    return ProvisionOutputs.create_environment.parse(outputOf(result)).environment;
  }

  it.each(['branch', 'project'] as const)(
    'create_environment (%s) makes a database with the Supabase roles, auth schema and migration ledger',
    async (mode) => {
      const sessionId = newId();
      const environment = await createEnvironment(mode, sessionId);
      created.set(mode, environment);
      const ref = `${provisioner.prefix}${sessionId.replace(/-/g, '')}`;
      expect(environment).toEqual({
        driver: 'local',
        mode,
        ref,
        database: ref,
        host: '127.0.0.1',
        port: 5432,
        // Where the provisioner's local API serves it (its real port), as get_project_url says (issue 12).
        apiUrl: expect.stringMatching(new RegExp(`^http://127\\.0\\.0\\.1:[1-9]\\d*/env/${ref}$`)),
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      const projectUrl = await provisioner.send({
        version: 1,
        tool: 'get_project_url',
        commandId: newId(),
        sessionId,
        environmentRef: ref,
      });
      expect(ProvisionOutputs.get_project_url.parse(outputOf(projectUrl)).url).toBe(environment.apiUrl);

      await provisioner.inEnvironment(ref, async (db) => {
        const roles = await db.query(`
          select rolname, rolbypassrls from pg_roles
          where rolname in ('anon', 'authenticated', 'service_role') order by rolname`);
        expect(roles.rows).toEqual([
          { rolname: 'anon', rolbypassrls: false },
          { rolname: 'authenticated', rolbypassrls: false },
          { rolname: 'service_role', rolbypassrls: true },
        ]);

        const userId = newId();
        const claims = { sub: userId, role: 'authenticated', email: 'ada@example.com' };
        const whoAmI = await asUser(db, 'authenticated', claims, async () => {
          const { rows } = await db.query<Record<string, unknown>>(
            `select auth.uid() as uid, auth.role() as role, auth.email() as email, auth.jwt() ->> 'sub' as sub`,
          );
          return rows[0];
        });
        expect(whoAmI).toEqual({ uid: userId, role: 'authenticated', email: 'ada@example.com', sub: userId });

        // The older per-claim setting is read too, as on Supabase.
        const legacy = await asUser(db, 'authenticated', null, async () => {
          await db.query(`select set_config('request.jwt.claim.sub', $1, true)`, [userId]);
          return (await db.query<Record<string, unknown>>('select auth.uid() as uid')).rows[0];
        });
        expect(legacy).toEqual({ uid: userId });

        const anonymous = await asUser(db, 'anon', { role: 'anon' }, async () => {
          return (await db.query<Record<string, unknown>>('select auth.uid() as uid, auth.role() as role')).rows[0];
        });
        expect(anonymous).toEqual({ uid: null, role: 'anon' });

        for (const role of ['anon', 'authenticated']) {
          await expect(asUser(db, role, claims, () => db.query('select * from auth.users'))).rejects.toThrow(
            /permission denied for table users/,
          );
        }

        // pgcrypto lives in `extensions`, which the database's search_path reaches.
        const bytes = await db.query(
          'select length(gen_random_bytes(8)) as n, pg_typeof(uuid_generate_v4())::text as t',
        );
        expect(bytes.rows[0]).toEqual({ n: 8, t: 'uuid' });

        const ledger = await db.query('select count(*)::int as n from supabase_migrations.schema_migrations');
        expect(ledger.rows[0]).toEqual({ n: 0 });
      });
    },
  );

  it('gives "branch" and "project" the same Supabase surface', async () => {
    const branch = created.get('branch') ?? (await createEnvironment('branch'));
    const project = created.get('project') ?? (await createEnvironment('project'));
    const [fromTemplate, fromScratch] = await Promise.all([
      provisioner.inEnvironment(branch.ref, supabaseSurface),
      provisioner.inEnvironment(project.ref, supabaseSurface),
    ]);
    expect(fromTemplate).toEqual(fromScratch);
    expect(fromTemplate).toMatchObject({ settings: [{ setconfig: ['search_path="$user", public, extensions'] }] });
  });

  it('answers create_environment again for the same session with the environment it made', async () => {
    const sessionId = newId();
    const first = await createEnvironment('branch', sessionId);
    const again = await createEnvironment('project', sessionId);
    expect(again).toEqual(first);
  });

  it('clones concurrent branches from one template', async () => {
    const environments = await Promise.all([1, 2, 3, 4].map(() => createEnvironment('branch')));
    expect(new Set(environments.map((environment) => environment.ref)).size).toBe(4);
    const templates = await provisioner.controlPlaneQuery<{ datname: string }>(
      `select datname from pg_database where datname ~ $1`,
      [`^${provisioner.prefix}template_[0-9a-f]{8}$`],
    );
    expect(templates).toHaveLength(1);
  });

  const spares = async () =>
    (
      await provisioner.controlPlaneQuery<{ datname: string; datallowconn: boolean }>(
        `select datname, datallowconn from pg_database where datname ~ $1 order by oid`,
        [`^${provisioner.prefix}template_[0-9a-f]{8}_s[0-9a-f]{12}$`],
      )
    ).map((row) => ({ name: row.datname, connectable: row.datallowconn }));

  it('keeps spare clones of the template that take no connection, and makes a branch of one by renaming it', async () => {
    await createEnvironment('branch');
    const ready = await waitFor(
      async () => {
        const now = await spares();
        return now.length === provisioner.config.ENV_SPARE_DATABASES ? now : null;
      },
      { what: 'the spare databases' },
    );
    expect(ready.every((spare) => !spare.connectable)).toBe(true);

    const sessionId = newId();
    const environment = await createEnvironment('branch', sessionId);
    const left = await spares();
    // The oldest spare became the environment (and its data is the template's: the Supabase surface).
    expect(left.map((spare) => spare.name)).not.toContain(ready[0]!.name);
    const [made] = await provisioner.controlPlaneQuery<{ datallowconn: boolean; search_path: string | null }>(
      `select d.datallowconn, (select array_to_string(s.setconfig, ',') from pg_db_role_setting s
         where s.setdatabase = d.oid and s.setrole = 0) as search_path
       from pg_database d where d.datname = $1`,
      [environment.ref],
    );
    expect(made).toEqual({ datallowconn: true, search_path: 'search_path="$user", public, extensions' });
    const tables = await provisioner.send(commands.listTables(sessionId, environment.ref, ['auth']));
    expect(outputOf(tables)).toMatchObject({
      tables: expect.arrayContaining([expect.objectContaining({ name: 'users' })]),
    });
    // And it is refilled in the background.
    await waitFor(async () => ((await spares()).length === provisioner.config.ENV_SPARE_DATABASES ? true : null), {
      what: 'the spares refilled',
    });
  });

  it('gives tables made later the API grants, leaving RLS to decide the rows, and lists them', async () => {
    const sessionId = newId();
    const { ref } = await createEnvironment('branch', sessionId);
    const migration = commands.applyMigration(
      sessionId,
      ref,
      'create_notes',
      `create table public.notes (
         id uuid primary key default gen_random_uuid(),
         owner_id uuid not null default auth.uid(),
         body text
       );
       alter table public.notes enable row level security;
       create policy notes_owner_all on public.notes for all to authenticated
         using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));`,
    );
    expect(outputOf(await provisioner.send(migration))).toEqual({ name: 'create_notes', applied: true });

    const ada = newId();
    const bob = newId();
    await provisioner.inEnvironment(ref, async (db) => {
      await db.query('begin');
      await db.query('set local role authenticated');
      await db.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify({ sub: ada })]);
      await db.query(`insert into public.notes (body) values ('ada''s note')`);
      await db.query('commit');

      const seen = async (role: string, sub: string | null) =>
        asUser(db, role, sub ? { sub, role } : { role }, async () => {
          return (await db.query<Record<string, unknown>>('select body from public.notes')).rows;
        });
      expect(await seen('authenticated', ada)).toEqual([{ body: "ada's note" }]);
      expect(await seen('authenticated', bob)).toEqual([]);
      expect(await seen('anon', null)).toEqual([]);
      expect(await seen('service_role', null)).toEqual([{ body: "ada's note" }]);
      await expect(
        asUser(db, 'authenticated', { sub: bob }, () =>
          db.query(`insert into public.notes (owner_id, body) values ($1, 'forged')`, [ada]),
        ),
      ).rejects.toThrow(/row-level security/);
    });

    const listed = ProvisionOutputs.list_tables.parse(
      outputOf(await provisioner.send(commands.listTables(sessionId, ref))),
    );
    expect(listed.tables).toEqual([
      {
        schema: 'public',
        name: 'notes',
        rlsEnabled: true,
        columns: [
          { name: 'id', dataType: 'uuid', nullable: false },
          { name: 'owner_id', dataType: 'uuid', nullable: false },
          { name: 'body', dataType: 'text', nullable: true },
        ],
      },
    ]);

    // The same call through the client the orchestrator uses. Types are as Supabase's list_tables gives
    // them (information_schema's names, without length or precision).
    const auth = await callProvisioner(provisioner.client, commands.listTables(sessionId, ref, ['auth']));
    expect(auth.tables.map((table) => [table.name, table.rlsEnabled])).toEqual([['users', true]]);
    expect(auth.tables[0]!.columns).toEqual(
      expect.arrayContaining([
        { name: 'id', dataType: 'uuid', nullable: false },
        { name: 'email', dataType: 'character varying', nullable: true },
        { name: 'raw_user_meta_data', dataType: 'jsonb', nullable: true },
        { name: 'created_at', dataType: 'timestamp with time zone', nullable: true },
      ]),
    );
  });

  it.each([
    ['postgres', 'invalid_environment_ref', /"postgres" is not an environment of this provisioner/],
    ['not-a-ref', 'invalid_environment_ref', /"not-a-ref" is invalid/],
  ])('refuses the environment ref %p, naming it', async (ref, code, message) => {
    const result = await provisioner.send(commands.listTables(newId(), ref));
    expect(result).toMatchObject({
      ok: false,
      error: { code, transient: false, message: expect.stringMatching(message) },
    });
  });

  it('refuses an environment that does not exist, and the template', async () => {
    const missing = `${provisioner.prefix}${'0'.repeat(32)}`;
    const result = await provisioner.send(commands.executeSql(newId(), missing, 'select 1'));
    expect(result).toMatchObject({
      ok: false,
      error: {
        code: 'environment_not_found',
        transient: false,
        message: expect.stringContaining(`"${missing}" does not exist`),
      },
    });
    const [template] = await provisioner.controlPlaneQuery<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, $1) limit 1`,
      [`${provisioner.prefix}template_`],
    );
    const refused = await provisioner.send(commands.executeSql(newId(), template!.datname, 'select 1'));
    expect(refused).toMatchObject({ ok: false, error: { code: 'invalid_environment_ref' } });
    const [spare] = await spares();
    const spareRefused = await provisioner.send(commands.executeSql(newId(), spare!.name, 'select 1'));
    expect(spareRefused).toMatchObject({ ok: false, error: { code: 'invalid_environment_ref' } });
  });
});
