/**
 * `run_access_matrix` and the catalog checks against real environments: a rendered plan applied through the
 * provisioner, then the plan's access matrix executed there. Every cell comes out as the plan's policies say,
 * nothing the matrix did persists, Postgres prints the planned policies exactly as the live ones, and the
 * environment's catalog equals `expectedSchema(plan)`. A planted mistake changes the named cells.
 */
import { accessCellName, newId, Plan, ProvisionOutputs, type AccessCellResult, type Template } from '@vibe/contracts';
import {
  accessMatrix,
  allMigrations,
  chunkVibe,
  comparePolicies,
  diffSchema,
  expectedSchema,
  plannedPolicies,
  planWithRules,
  renderPlan,
  SCHEMA_CATALOG_SQL,
  schemaFromCatalog,
} from '@vibe/planning';
import { waitFor } from '../../../test/support/index.js';
import { commands, inEnvironment, outputOf, startProvisioner, type Provisioner } from './harness.js';

const FEATURES = {
  marketplace:
    'Sellers upload photos. Buyers review items, save favorites, message sellers and comment. Items have categories. Notify sellers. Show sales analytics.',
  saas: 'Teams share projects, attach files, rate and tag projects, comment, message each other and get notifications. Admins see a dashboard.',
};

function rulesPlan(template: Template, vibeText: string, enableAnalytics = true): Plan {
  return planWithRules({
    vibeText,
    chunks: chunkVibe(vibeText),
    template,
    options: { enableAnalytics, enableDriftSentinel: false },
  });
}

const source = { chunk: null, reason: 'access matrix test' };

/** Every column type, default and check of the plan's vocabulary, a keyword as a column name, both index kinds. */
const VOCABULARY = Plan.parse({
  version: 2,
  template: 'marketplace',
  planner: 'rules',
  tables: [
    {
      name: 'profiles',
      columns: [
        { name: 'id', type: 'uuid', primaryKey: true, references: { schema: 'auth', table: 'users' } },
        // The new-user trigger (spec §9.1.1) fills these two.
        { name: 'display_name', type: 'text' },
        { name: 'avatar_url', type: 'text' },
      ],
      source,
    },
    {
      name: 'things',
      columns: [
        { name: 'id', type: 'uuid', primaryKey: true, default: 'gen_random_uuid' },
        { name: 'created_at', type: 'timestamptz', default: 'now' },
        { name: 'owner_id', type: 'uuid', nullable: false, default: 'auth_uid', references: { table: 'profiles' } },
        { name: 'order', type: 'int', default: 'zero', check: { kind: 'non_negative' } },
        { name: 'big', type: 'bigint', nullable: false, check: { kind: 'positive' } },
        { name: 'amount', type: 'numeric', check: { kind: 'between', min: -5, max: 5_000_000_000 } },
        { name: 'score', type: 'int', check: { kind: 'between', min: -3, max: 7 } },
        {
          name: 'status',
          type: 'text',
          default: { text: 'draft' },
          check: { kind: 'one_of', values: ['draft', 'done'] },
        },
        { name: 'only', type: 'text', check: { kind: 'one_of', values: ['x'] } },
        { name: 'title', type: 'text', unique: true, check: { kind: 'max_length', max: 80 } },
        { name: 'flag', type: 'boolean', default: 'true' },
        { name: 'off', type: 'boolean', default: 'false' },
        { name: 'day', type: 'date' },
        { name: 'data', type: 'jsonb', default: 'empty_object' },
        { name: 'user', type: 'text' },
      ],
      indexes: [{ columns: ['status', 'day'] }, { columns: ['big'], unique: true }],
      source,
    },
  ],
  policies: [
    { kind: 'owner_read', table: 'profiles', ownerColumn: 'id', source },
    {
      kind: 'public_read',
      table: 'things',
      where: { column: 'status', equals: 'done' },
      ownerColumn: 'owner_id',
      source,
    },
    { kind: 'owner_write', table: 'things', ownerColumn: 'owner_id', commands: ['insert', 'update', 'delete'], source },
  ],
  options: { enableAnalytics: false, enableDriftSentinel: false },
});

const MARKETPLACE_FEATURES = rulesPlan('marketplace', FEATURES.marketplace);

/**
 * The marketplace with every feature, changed where the matrix must think harder: listings nobody may read
 * (a parent-owner policy's sub-select then finds no parent), and favorites and messages left with no column
 * an update can change freely (the update then filters by key, and the select policies apply too).
 */
const HARDER = Plan.parse({
  ...MARKETPLACE_FEATURES,
  tables: MARKETPLACE_FEATURES.tables.map((t) =>
    t.name === 'favorites' || t.name === 'messages'
      ? { ...t, columns: t.columns.filter((c) => !['created_at', 'body', 'read_at'].includes(c.name)) }
      : t,
  ),
  policies: MARKETPLACE_FEATURES.policies.filter((p) => !(p.table === 'listings' && p.kind === 'public_read')),
  analyticsViews: [],
  seed: null,
  options: { enableAnalytics: false, enableDriftSentinel: false },
});

const PLANS: Array<[string, Plan]> = [
  ['the marketplace', rulesPlan('marketplace', 'Sellers list furniture; buyers bid and order.', false)],
  ['the marketplace with every feature', MARKETPLACE_FEATURES],
  ['the marketplace with unreadable listings and key-filtered updates', HARDER],
  ['the saas', rulesPlan('saas', 'Teams share projects.', false)],
  ['the saas with every feature', rulesPlan('saas', FEATURES.saas)],
  ['the whole vocabulary', VOCABULARY],
];

describe('provisioner: run_access_matrix and the catalog against the plan', () => {
  let provisioner: Provisioner;

  beforeAll(async () => {
    provisioner = await startProvisioner();
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  /** A fresh environment with the plan applied through the provisioner, as a build applies it. */
  async function environmentWith(plan: Plan, tamper?: string): Promise<{ sessionId: string; ref: string }> {
    const sessionId = newId();
    const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    const { ref } = ProvisionOutputs.create_environment.parse(outputOf(created)).environment;
    for (const migration of allMigrations(renderPlan(plan))) {
      outputOf(await provisioner.send(commands.applyMigration(sessionId, ref, migration.name, migration.query)));
    }
    if (tamper) outputOf(await provisioner.send(commands.applyMigration(sessionId, ref, 'tamper', tamper)));
    return { sessionId, ref };
  }

  async function runMatrix(sessionId: string, ref: string, plan: Plan) {
    const command = inEnvironment(sessionId, ref, {
      tool: 'run_access_matrix',
      matrix: accessMatrix(plan),
      policies: plannedPolicies(plan),
    });
    return { command, output: ProvisionOutputs.run_access_matrix.parse(outputOf(await provisioner.send(command))) };
  }

  /** What the matrix could leave behind: rows of every table, users, objects, policies, migrations. */
  async function footprint(ref: string): Promise<Record<string, number>> {
    return provisioner.inEnvironment(ref, async (db) => {
      const { rows } = await db.query<{ relname: string }>(
        `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r' order by 1`,
      );
      const counts: Record<string, number> = {};
      for (const { relname } of rows) {
        counts[relname] = (
          await db.query<{ n: number }>(`select count(*)::int as n from public."${relname}"`)
        ).rows[0]!.n;
      }
      for (const [name, sql] of Object.entries({
        users: 'select count(*)::int as n from auth.users',
        objects: 'select count(*)::int as n from storage.objects',
        buckets: 'select count(*)::int as n from storage.buckets',
        policies: 'select count(*)::int as n from pg_policy',
        migrations: 'select count(*)::int as n from supabase_migrations.schema_migrations',
      })) {
        counts[name] = (await db.query<{ n: number }>(sql)).rows[0]!.n;
      }
      return counts;
    });
  }

  const surprises = (cells: AccessCellResult[]) =>
    cells
      .filter((cell) => cell.actual !== cell.expected)
      .map((cell) => `${accessCellName(cell)}: ${cell.actual} (${cell.detail})`);

  it.each(PLANS)('runs every cell of %s as its policies say, and leaves nothing behind', async (_name, plan) => {
    const { sessionId, ref } = await environmentWith(plan);
    const before = await footprint(ref);
    const { output } = await runMatrix(sessionId, ref, plan);

    expect(surprises(output.cells)).toEqual([]);
    if (plan === HARDER) {
      const matrix = accessMatrix(plan);
      expect(matrix.subjects.filter((subject) => subject.update === null).map((subject) => subject.name)).toEqual([
        'public.favorites',
        'public.messages',
      ]);
      const cell = (actor: string, operation: string, name: string) =>
        output.cells.find((c) => accessCellName(c) === `${actor} ${operation} public.${name}`)?.actual;
      // Postgres agrees: the owner updates their listing without reading it, but cannot link it to a category.
      expect([cell('owner', 'update', 'listings'), cell('owner', 'insert', 'listing_categories')]).toEqual([
        'allow',
        'deny',
      ]);
      expect(cell('owner', 'update', 'messages')).toBe('allow');
    }
    expect(output.cells).toHaveLength(accessMatrix(plan).cells.length);
    // Each kind of outcome happens: the matrix can tell allowed from denied.
    expect(output.cells.some((cell) => cell.actual === 'allow' && cell.actor === 'owner')).toBe(true);
    expect(output.cells.some((cell) => cell.actual === 'deny' && cell.actor === 'other')).toBe(true);
    expect(await footprint(ref)).toEqual(before);

    const checks = comparePolicies(plannedPolicies(plan), output.policies.planned, output.policies.live);
    expect(checks.filter((check) => check.status !== 'as_planned')).toEqual([]);
    expect(checks).toHaveLength(plannedPolicies(plan).length);
    // Printed by Postgres, not as the renderer wrote them.
    expect(output.policies.planned.map((p) => p.using).join(' ')).toContain('SELECT auth.uid() AS uid');

    const catalog = ProvisionOutputs.execute_sql.parse(
      outputOf(await provisioner.send(commands.executeSql(sessionId, ref, SCHEMA_CATALOG_SQL))),
    );
    expect(diffSchema(expectedSchema(plan), schemaFromCatalog(catalog.rows))).toEqual([]);
  });

  it.each<[string, string, string[]]>([
    ['a policy removed', 'drop policy "orders_insert_own" on public.orders;', ['owner insert public.orders: deny']],
    [
      'a `using (true)` write policy',
      'create policy "orders_update_any" on public.orders for update to authenticated using (true) with check (true);',
      // Orders have no update policy: with this one, the buyer and everyone else may update every order.
      ['owner update public.orders: allow', 'other update public.orders: allow'],
    ],
    [
      'RLS disabled',
      'alter table public.bids disable row level security;',
      [
        'anon select public.bids: allow',
        'anon insert public.bids: allow',
        'anon update public.bids: allow',
        'anon delete public.bids: allow',
        'owner update public.bids: allow',
        'owner delete public.bids: allow',
        'other select public.bids: allow',
        'other insert public.bids: allow',
        'other update public.bids: allow',
        'other delete public.bids: allow',
      ],
    ],
  ])('names the cells that %s changes', async (_name, tamper, changed) => {
    const plan = PLANS[0]![1];
    const { sessionId, ref } = await environmentWith(plan, tamper);
    const { command, output } = await runMatrix(sessionId, ref, plan);
    expect(
      output.cells
        .filter((cell) => cell.actual !== cell.expected)
        .map((cell) => `${accessCellName(cell)}: ${cell.actual}`),
    ).toEqual(changed);

    // The audit record of the command names them too.
    const event = await waitFor(
      async () =>
        (await provisioner.sessionEvents(sessionId)).find(
          (e) => e.type === 'provisioner_call' && e.payload.commandId === command.commandId,
        ),
      { what: 'the provisioner_call event of run_access_matrix' },
    );
    expect(event.payload).toMatchObject({
      tool: 'run_access_matrix',
      ok: true,
      output: { cells: output.cells.length, unexpected: changed, unexpectedCount: changed.length },
    });
  });

  it('reports a setup that fails as an error of each cell that needs it, and runs the other cells as usual', async () => {
    const plan = PLANS[0]![1];
    // The fixture row of bids cannot be written (as any role): every cell that needs it in place cannot run.
    const { sessionId, ref } = await environmentWith(
      plan,
      `create function public.refuse_bids() returns trigger language plpgsql as $$
       begin raise exception 'no bids today'; end $$;
       create trigger refuse_bids before insert on public.bids for each row execute function public.refuse_bids();`,
    );
    const { output } = await runMatrix(sessionId, ref, plan);
    const bids = output.cells.filter((cell) => cell.subject === 'public.bids');
    const needsRow = bids.filter((cell) => cell.operation !== 'insert');
    expect(needsRow).toHaveLength(12);
    for (const cell of needsRow) {
      expect({ cell: accessCellName(cell), actual: cell.actual, detail: cell.detail }).toEqual({
        cell: accessCellName(cell),
        actual: 'error',
        detail: expect.stringMatching(/^fixture: no bids today \(SQLSTATE P0001\)/),
      });
    }
    // The inserts themselves reach the trigger (or are refused before it), and no other table's cell changes.
    for (const cell of bids.filter((cell) => cell.operation === 'insert')) expect(cell.actual).not.toBe('allow');
    expect(output.cells.filter((cell) => cell.subject !== 'public.bids' && cell.actual !== cell.expected)).toEqual([]);
  });

  it('sees a changed policy expression and a policy the plan lacks', async () => {
    const plan = PLANS[0]![1];
    const { sessionId, ref } = await environmentWith(
      plan,
      `drop policy "bids_read_own" on public.bids;
       create policy "bids_read_own" on public.bids for select to authenticated using ((select auth.uid()) = bidder_id);
       drop policy "listings_delete_own" on public.listings;
       create policy "listings_delete_own" on public.listings for delete to authenticated using (owner_id = (select auth.uid()) or status = 'sold');
       create policy "orders_update_any" on public.orders for update to authenticated using (true) with check (true);`,
    );
    const { output } = await runMatrix(sessionId, ref, plan);
    const checks = comparePolicies(plannedPolicies(plan), output.policies.planned, output.policies.live);
    expect(
      checks.filter((check) => check.status !== 'as_planned').map((c) => `${c.table}.${c.name} ${c.status}`),
    ).toEqual([
      'public.listings.listings_delete_own different',
      'public.bids.bids_read_own different',
      'public.orders.orders_update_any unexpected',
    ]);
    // Both bids_read_own spellings mean the same to a reader, not to the catalog: the text changed.
    expect(checks.find((c) => c.name === 'bids_read_own')!.detail).toMatch(
      /^using \(\( SELECT auth\.uid\(\) AS uid\) = bidder_id\), planned \(bidder_id = /,
    );
  });

  it('makes each planned policy one statement: an expression cannot smuggle in another, nor persist', async () => {
    const plan = PLANS[0]![1];
    const { sessionId, ref } = await environmentWith(plan);
    const command = inEnvironment(sessionId, ref, {
      tool: 'run_access_matrix',
      matrix: { ...accessMatrix(plan), subjects: [], cells: [] },
      policies: [
        {
          schema: 'public',
          table: 'orders',
          name: 'orders_read_own',
          command: 'select',
          roles: ['authenticated'],
          using: 'true); drop table public.bids; select (1',
          withCheck: null,
        },
        plannedPolicies(plan).find((p) => p.name === 'bids_read_own')!,
      ],
    });
    const output = ProvisionOutputs.run_access_matrix.parse(outputOf(await provisioner.send(command)));
    expect(output.policies.planned[0]!.error).toBe("refused: the policy's SQL is 3 statements, not one");
    // The next one was still made and read back, in the same transaction.
    expect(output.policies.planned[1]).toMatchObject({
      name: 'bids_read_own',
      using: expect.stringContaining('bidder_id'),
    });
    const left = await provisioner.inEnvironment(ref, async (db) => ({
      bids: (await db.query(`select to_regclass('public.bids') is not null as ok`)).rows[0].ok as boolean,
      scratch: (await db.query(`select count(*)::int as n from pg_policy where polname like 'vibe_planned_%'`)).rows[0]
        .n as number,
    }));
    expect(left).toEqual({ bids: true, scratch: 0 });
  });

  it('names the catalog’s differences from the plan', async () => {
    const plan = PLANS[0]![1];
    const { sessionId, ref } = await environmentWith(
      plan,
      `alter table public.orders alter column total_cents type bigint;
       alter table public.orders alter column status drop not null;
       alter table public.listings alter column status set default 'sold';
       alter table public.bids drop constraint bids_amount_cents_check;
       drop index public.bids_bidder_id_idx;
       alter table public.profiles add column nickname text;
       create table public.extra (id int primary key);`,
    );
    const catalog = ProvisionOutputs.execute_sql.parse(
      outputOf(await provisioner.send(commands.executeSql(sessionId, ref, SCHEMA_CATALOG_SQL))),
    );
    expect(diffSchema(expectedSchema(plan), schemaFromCatalog(catalog.rows))).toEqual([
      'constraint of public.bids is missing: CHECK ((amount_cents > 0))',
      'index of public.bids is missing: index bids_bidder_id_idx (bidder_id)',
      "column public.listings.status defaults to 'sold'::text, planned 'active'::text",
      'column public.orders.total_cents is bigint, planned integer',
      'column public.orders.status is nullable, planned not null',
      'column public.profiles.nickname is not in the plan',
      'table public.extra is not in the plan',
      'table public.extra does not have row level security enabled',
    ]);
  });
});
