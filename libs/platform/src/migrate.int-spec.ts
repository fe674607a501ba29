import pg from 'pg';
import {
  createControlPlaneDatabase,
  dropDatabase,
  PG_ADMIN_URL,
  uniqueName,
  type TestDatabase,
} from '../../../test/support/index.js';
import { migrate } from './migrate.js';
import { withDatabase } from './db.js';

describe('control-plane migrations', () => {
  it('create the four tables with RLS on, and apply nothing the second time', async () => {
    const db = await createControlPlaneDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ relname: string; relrowsecurity: boolean }>(
        `select relname, relrowsecurity from pg_class
         where relname in ('build_sessions','build_events','spec_chunks','drift_alerts') and relkind = 'r'
         order by relname`,
      );
      expect(rows).toEqual([
        { relname: 'build_events', relrowsecurity: true },
        { relname: 'build_sessions', relrowsecurity: true },
        { relname: 'drift_alerts', relrowsecurity: true },
        { relname: 'spec_chunks', relrowsecurity: true },
      ]);
      const again = await migrate(db.url);
      expect(again.applied).toEqual([]);
      expect(again.alreadyApplied).toContain('0001_control_plane');
    } finally {
      await client.end();
      await db.drop();
    }
  });

  it('are safe from two processes at once', async () => {
    const name = uniqueName('vibe_test_race');
    const url = withDatabase(PG_ADMIN_URL, name);
    try {
      const [a, b] = await Promise.all([migrate(url), migrate(url)]);
      expect([...a.applied, ...b.applied].filter((m) => m === '0001_control_plane')).toHaveLength(1);
    } finally {
      await dropDatabase(name);
    }
  });

  describe('as the API roles (spec §3.3, §8.1)', () => {
    let db: TestDatabase;
    let client: pg.Client;
    let sessions: Array<{ id: string; share_token: string }>;
    /** Every table the migrations made in public: the four of spec §2, and those of migrations 0002+. */
    let tables: string[];
    let firstColumn: Record<string, string>;

    beforeAll(async () => {
      db = await createControlPlaneDatabase();
      client = new pg.Client({ connectionString: db.url });
      await client.connect();
      ({ rows: sessions } = await client.query<{ id: string; share_token: string }>(
        `insert into build_sessions (status, template, vibe_text, created_by)
         values ('queued', 'marketplace', 'a', gen_random_uuid()), ('running', 'saas', 'b', null)
         returning id, share_token`,
      ));
      await client.query(
        `insert into build_events (session_id, type, message) values ($1, 'plan_created', 'p');
         insert into spec_chunks (session_id, chunk_index, content) values ($1, 0, 'c');
         insert into drift_alerts (session_id, severity, type, resource) values ($1, 'high', 'rls_disabled', 'x');
         insert into provisioner_commands (command_id, session_id, result) values (gen_random_uuid(), $1, '{}');
         insert into drift_checks (id, session_id, trigger, worker) values (gen_random_uuid(), $1, 'request', 'w')`.replaceAll(
          '$1',
          `'${sessions[0]!.id}'`,
        ),
      );
      ({ rows: tables } = await client
        .query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public' order by tablename")
        .then((r) => ({ rows: r.rows.map((row) => row.tablename) })));
      const { rows: columns } = await client.query<{ table_name: string; column_name: string }>(
        `select table_name, column_name from information_schema.columns
         where table_schema = 'public' and ordinal_position = 1`,
      );
      firstColumn = Object.fromEntries(columns.map((c) => [c.table_name, c.column_name]));
    });

    afterAll(async () => {
      await client?.end();
      await db?.drop();
    });

    /** Runs `work` as `role` in a transaction that is rolled back, whatever `work` did. */
    async function as<T>(role: string, work: () => Promise<T>, setup?: string): Promise<T> {
      await client.query('begin');
      try {
        if (setup) await client.query(setup);
        await client.query(`set local role ${role}`);
        return await work();
      } finally {
        await client.query('rollback');
      }
    }

    const rowCounts = async () => {
      const counts: Record<string, number> = {};
      for (const table of tables) {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from public.${table}`);
        counts[table] = rows[0]!.n;
      }
      return counts;
    };

    /** What each operation does on each table: `denied` (an error) or the number of rows it saw or touched. */
    async function attempts(role: string, setup?: string): Promise<Record<string, Record<string, string | number>>> {
      const outcome: Record<string, Record<string, string | number>> = {};
      const statements = (table: string) => ({
        select: `select * from public.${table}`,
        insert: `insert into public.${table} default values`,
        update: `update public.${table} set ${firstColumn[table]} = ${firstColumn[table]}`,
        delete: `delete from public.${table}`,
      });
      for (const table of tables) {
        outcome[table] = {};
        for (const [operation, sql] of Object.entries(statements(table))) {
          outcome[table][operation] = await as(
            role,
            async () => {
              const result = await client.query(sql).catch((error: Error) => error);
              if (result instanceof Error) {
                return /permission denied|row-level security/.test(result.message) ? 'denied' : result.message;
              }
              return result.rowCount ?? 0;
            },
            setup,
          );
        }
      }
      return outcome;
    }

    it('every table in public has RLS on, the four of spec §2 and the newer ones among them', () => {
      expect(tables).toEqual(
        expect.arrayContaining([
          'build_events',
          'build_sessions',
          'control_plane_migrations',
          'drift_alerts',
          'drift_checks',
          'provisioner_commands',
          'spec_chunks',
        ]),
      );
      return expect(
        client
          .query<{ relname: string }>(
            `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity`,
          )
          .then((r) => r.rows),
      ).resolves.toEqual([]);
    });

    it.each(['anon', 'authenticated'])('%s can neither read nor write any table directly', async (role) => {
      const before = await rowCounts();
      const denied = Object.fromEntries(
        tables.map((table) => [table, { select: 'denied', insert: 'denied', update: 'denied', delete: 'denied' }]),
      );
      expect(await attempts(role)).toEqual(denied);
      expect(await rowCounts()).toEqual(before);
    });

    it.each(['anon', 'authenticated'])(
      "%s sees nothing and changes nothing even with Supabase's default table grants: RLS denies",
      async (role) => {
        // Supabase grants every API role all privileges on new public tables; then only RLS stands in the way.
        const grants = 'grant all on all tables in schema public to anon, authenticated';
        const before = await rowCounts();
        // Every table holds rows, so "0 rows seen" means RLS hid them.
        expect(Object.entries(before).filter(([, n]) => n === 0)).toEqual([]);
        const expected = Object.fromEntries(
          tables.map((table) => [table, { select: 0, insert: 'denied', update: 0, delete: 0 }]),
        );
        expect(await attempts(role, grants)).toEqual(expected);
        expect(await rowCounts()).toEqual(before);
      },
    );

    it.each(['anon', 'authenticated'])(
      '%s reaches exactly the session of a share token through get_session_by_share_token, and nothing else',
      async (role) => {
        for (const session of sessions) {
          const { rows } = await as(role, () =>
            client.query('select id, share_token from get_session_by_share_token($1)', [session.share_token]),
          );
          expect(rows).toEqual([{ id: session.id, share_token: session.share_token }]);
        }
        for (const guess of ['', 'nope', '%', `${sessions[0]!.share_token} `, sessions[0]!.share_token.toUpperCase()]) {
          const { rows } = await as(role, () => client.query('select id from get_session_by_share_token($1)', [guess]));
          expect([guess, rows]).toEqual([guess, [{ id: null }]]);
        }
        const nothing = await as(role, () => client.query('select id from get_session_by_share_token(null)'));
        expect(nothing.rows).toEqual([{ id: null }]);
      },
    );

    it.each(['anon', 'authenticated'])(
      '%s may call no other control-plane function, nor use the checkpoint schema',
      async (role) => {
        for (const sql of [
          "select public.cosine_similarity('{1}'::real[], '{1}'::real[])",
          'select public.set_updated_at()',
          'create table langgraph.intruder (id int)',
          'select * from langgraph.checkpoints',
        ]) {
          const error = await as(role, () =>
            client.query(sql).then(
              () => null,
              (e: Error) => e.message,
            ),
          );
          expect([sql, error]).toEqual([sql, expect.stringMatching(/permission denied|does not exist/)]);
        }
      },
    );
  });

  it('default-deny the control plane to anon and authenticated, but share tokens read one session', async () => {
    const db = await createControlPlaneDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; share_token: string }>(
        `insert into build_sessions (status, template, vibe_text) values ('queued','marketplace','a'), ('queued','saas','b')
         returning id, share_token`,
      );
      for (const role of ['anon', 'authenticated']) {
        await client.query('begin');
        await client.query(`set local role ${role}`);
        await expect(client.query('select * from build_sessions')).rejects.toThrow(/permission denied/);
        await client.query('rollback');
        await client.query('begin');
        await client.query(`set local role ${role}`);
        const shared = await client.query('select id from get_session_by_share_token($1)', [rows[1]!.share_token]);
        expect(shared.rows).toEqual([{ id: rows[1]!.id }]);
        const none = await client.query('select id from get_session_by_share_token($1)', ['nope']);
        expect(none.rows).toEqual([{ id: null }]);
        await client.query('rollback');
      }
    } finally {
      await client.end();
      await db.drop();
    }
  });
});
