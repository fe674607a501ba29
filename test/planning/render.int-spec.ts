/**
 * The renderer against real environments: every rendered plan applies to a fresh local environment twice
 * without error; the security invariants hold in the database's catalog; and the marketplace behaves like
 * spec §9.2's own SQL under the same access matrix.
 */
import pg from 'pg';
import type { Template } from '@vibe/contracts';
import { callProvisioner, connectJetStream, withDatabase, type JetStreamContext } from '@vibe/platform';
import { randomUUID } from 'node:crypto';
import { chunkVibe } from '@vibe/planning';
import { allMigrations, renderPlan } from '@vibe/planning';
import { planWithRules } from '@vibe/planning';
import { freePorts, SERVICES, startStack, type RunningStack } from '../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  PG_ADMIN_URL,
  uniqueName,
  type TestDatabase,
} from '../support/index.js';
import { SPEC_9_1_AND_9_2 } from './spec-9-2.sql.js';

const VIBES: Array<[Template, string, boolean]> = [
  ['marketplace', 'Sellers list furniture; buyers bid and order.', false],
  [
    'marketplace',
    'Sellers upload photos. Buyers review items, save favorites, message sellers and comment. Items have categories. Notify sellers. Show sales analytics.',
    true,
  ],
  ['saas', 'Teams share projects.', false],
  [
    'saas',
    'Teams share projects, attach files, rate and tag projects, comment, message each other and get notifications. Admins see a dashboard.',
    true,
  ],
];

describe('rendered plans in real environments', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let envPrefix: string;
  let stack: RunningStack;
  let jetstream: JetStreamContext;

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_render');
    namespace = createNamespace('render');
    envPrefix = `${uniqueName('vr')}_`;
    const ports = await freePorts(SERVICES.length);
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
    });
    jetstream = await connectJetStream('nats://127.0.0.1:4222', namespace.namespace, 'render-test');
  });

  afterAll(async () => {
    await jetstream?.nc.close();
    await stack?.stop();
    await dropDatabasesLike(envPrefix);
    await db?.drop();
    await namespace?.cleanup();
  });

  /** A fresh environment through the provisioner, and a superuser connection to it. */
  async function freshEnvironment(mode: 'branch' | 'project' = 'branch'): Promise<pg.Client> {
    const sessionId = randomUUID();
    const { environment } = await callProvisioner(jetstream, {
      version: 1,
      tool: 'create_environment',
      commandId: randomUUID(),
      sessionId,
      mode,
    });
    const client = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, environment.database!) });
    await client.connect();
    return client;
  }

  it.each(VIBES)(
    'applies the %s plan for "%s" twice, and the catalog keeps the invariants',
    async (template, vibe, analytics) => {
      const plan = planWithRules({
        vibeText: vibe,
        chunks: chunkVibe(vibe),
        template,
        options: { enableAnalytics: analytics, enableDriftSentinel: false },
      });
      const migrations = allMigrations(renderPlan(plan));
      const env = await freshEnvironment();
      try {
        const snapshot = async () =>
          (
            await env.query(
              `select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('public','private','storage')) as relations,
                    (select count(*) from pg_policies) as policies,
                    (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('public','private')) as functions,
                    (select count(*) from auth.users) as users`,
            )
          ).rows[0];
        for (const m of migrations) await env.query(m.query);
        const first = await snapshot();
        for (const m of migrations) await env.query(m.query);
        expect(await snapshot()).toEqual(first);

        const noRls = await env.query(
          `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity`,
        );
        expect(noRls.rows).toEqual([]);
        const anonWrites = await env.query(
          `select schemaname, tablename, policyname from pg_policies
         where 'anon' = any(roles) and cmd in ('INSERT', 'UPDATE', 'DELETE', 'ALL')`,
        );
        expect(anonWrites.rows).toEqual([]);
        const alwaysTrueWrites = await env.query(
          `select tablename, policyname from pg_policies
         where cmd in ('INSERT', 'UPDATE', 'DELETE', 'ALL') and (qual = 'true' or with_check = 'true')`,
        );
        expect(alwaysTrueWrites.rows).toEqual([]);
        const planned = plan.tables.map((t) => t.name).sort();
        const tables = await env.query(
          `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r' order by c.relname`,
        );
        expect(tables.rows.map((r) => r.relname)).toEqual(planned);
        for (const bucket of plan.buckets) {
          const found = await env.query('select public from storage.buckets where id = $1', [bucket.id]);
          expect(found.rows).toEqual([{ public: false }]);
        }
      } finally {
        await env.end();
      }
    },
  );

  it('gives the marketplace the tables of spec §9.2 and the same access as its policies', async () => {
    const vibe = 'Sellers list furniture; buyers bid and order.';
    const plan = planWithRules({
      vibeText: vibe,
      chunks: chunkVibe(vibe),
      template: 'marketplace',
      options: { enableAnalytics: false, enableDriftSentinel: false },
    });
    const ours = await freshEnvironment();
    const spec = await freshEnvironment('project');
    try {
      for (const m of allMigrations(renderPlan(plan))) await ours.query(m.query);
      await spec.query(SPEC_9_1_AND_9_2);
      const columns = async (client: pg.Client) =>
        (
          await client.query(
            `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
             where table_schema = 'public' and table_name in ('profiles','listings','bids','orders')
             order by table_name, ordinal_position`,
          )
        ).rows;
      expect(await columns(ours)).toEqual(await columns(spec));
      expect(await accessMatrix(ours)).toEqual(await accessMatrix(spec));
    } finally {
      await ours.end();
      await spec.end();
    }
  });
});

/**
 * Who may do what: anon, a seller and a buyer, for reads and writes on every marketplace table. Each cell
 * runs in a transaction that is rolled back; it records the rows seen or touched, or "denied".
 */
async function accessMatrix(client: pg.Client): Promise<Record<string, string>> {
  const seller = '11111111-1111-4111-8111-111111111111';
  const buyer = '22222222-2222-4222-8222-222222222222';
  const active = '33333333-3333-4333-8333-333333333333';
  const sold = '44444444-4444-4444-8444-444444444444';
  await client.query(
    `insert into auth.users (id, email) values ($1, 'seller@example.com'), ($2, 'buyer@example.com')`,
    [seller, buyer],
  );
  await client.query(
    `insert into public.listings (id, owner_id, title, price_cents, status) values ($1, $3, 'Chair', 100, 'active'), ($2, $3, 'Desk', 200, 'sold')`,
    [active, sold, seller],
  );
  await client.query(`insert into public.bids (listing_id, bidder_id, amount_cents) values ($1, $2, 90)`, [
    active,
    buyer,
  ]);
  await client.query(`insert into public.orders (listing_id, buyer_id, total_cents) values ($1, $2, 100)`, [
    active,
    buyer,
  ]);

  const actors: Record<string, string | null> = { anon: null, seller, buyer };
  const cells: Record<string, string> = {};
  const statements: Record<string, (self: string, other: string) => [string, unknown[]]> = {
    'select profiles': () => ['select id from public.profiles', []],
    'select listings': () => ['select id from public.listings', []],
    'select bids': () => ['select id from public.bids', []],
    'select orders': () => ['select id from public.orders', []],
    'insert own listing': (self) => [
      `insert into public.listings (owner_id, title, price_cents) values ($1, 'x', 1)`,
      [self],
    ],
    'insert listing for another': (_self, other) => [
      `insert into public.listings (owner_id, title, price_cents) values ($1, 'x', 1)`,
      [other],
    ],
    'update sold listing': () => [`update public.listings set title = 'y' where id = $1`, [sold]],
    'delete active listing': () => [`delete from public.listings where id = $1`, [active]],
    'insert own bid': (self) => [
      `insert into public.bids (listing_id, bidder_id, amount_cents) values ($1, $2, 5)`,
      [active, self],
    ],
    'insert bid for another': (_self, other) => [
      `insert into public.bids (listing_id, bidder_id, amount_cents) values ($1, $2, 5)`,
      [active, other],
    ],
    'update bids': () => ['update public.bids set amount_cents = 1', []],
    'insert own order': (self) => [
      `insert into public.orders (listing_id, buyer_id, total_cents) values ($1, $2, 5)`,
      [active, self],
    ],
    'insert order for another': (_self, other) => [
      `insert into public.orders (listing_id, buyer_id, total_cents) values ($1, $2, 5)`,
      [active, other],
    ],
    'delete orders': () => ['delete from public.orders', []],
    'update own profile': (self) => [`update public.profiles set display_name = 'me' where id = $1`, [self]],
  };
  for (const [actor, id] of Object.entries(actors)) {
    const self = id ?? seller;
    const other = id === seller ? buyer : seller;
    for (const [cell, statement] of Object.entries(statements)) {
      const [sql, params] = statement(self, other);
      await client.query('begin');
      try {
        await client.query(`select set_config('role', $1, true)`, [id ? 'authenticated' : 'anon']);
        await client.query(`select set_config('request.jwt.claims', $1, true)`, [
          JSON.stringify(id ? { sub: id, role: 'authenticated' } : { role: 'anon' }),
        ]);
        const result = await client.query(sql, params);
        cells[`${actor}: ${cell}`] = String(result.rowCount);
      } catch (error) {
        cells[`${actor}: ${cell}`] = /row-level security|permission denied/.test(String(error))
          ? 'denied'
          : `error ${String(error)}`;
      } finally {
        await client.query('rollback');
      }
    }
  }
  return cells;
}
