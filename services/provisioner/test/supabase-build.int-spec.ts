/**
 * A whole build through the cloud driver: the five services as processes (from their build output), the
 * provisioner configured for Supabase (SUPABASE_ACCESS_TOKEN, a parent project) and pointed at a local
 * server that answers like the Management API (fake-management-api.ts). The branch is made through the
 * Management API, everything inside it goes through the official MCP server (`--api-url` at the same
 * server), and the Edge Functions are verified at the project's URL.
 */
import pg from 'pg';
import { BuildOutputs, type BuildEventView, type SessionView } from '@vibe/contracts';
import { withDatabase } from '@vibe/platform';
import { freePorts, SERVICES, startStack, type RunningStack } from '../../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  PG_ADMIN_URL,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';
import { aUser, LENIENT_LIMITS, signedIn } from '../../../test/support/auth.js';
import { startFakeManagementApi, type FakeManagementApi } from './fake-management-api.js';

describe('a build on Supabase (the cloud driver against a local Management API)', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let fake: FakeManagementApi;
  let stack: RunningStack;

  beforeAll(async () => {
    fake = await startFakeManagementApi({
      branchStatuses: ['CREATING_PROJECT', 'RUNNING_MIGRATIONS', 'MIGRATIONS_PASSED'],
      notReallyReady: 1,
    });
    db = await createControlPlaneDatabase('vibe_cloud');
    namespace = createNamespace('cloud');
    const ports = await freePorts(SERVICES.length);
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_NAMESPACE: namespace.namespace,
        SUPABASE_ACCESS_TOKEN: fake.token,
        SUPABASE_API_URL: fake.url,
        SUPABASE_PARENT_PROJECT_REF: fake.parentRef,
        SUPABASE_ORG_ID: fake.organization,
        SUPABASE_PROJECT_URL: fake.projectUrlTemplate,
        SUPABASE_POLL_INTERVAL_MS: '50',
        SUPABASE_POLL_MAX_INTERVAL_MS: '200',
        ...LENIENT_LIMITS,
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await fake?.close();
    await db?.drop();
    await namespace?.cleanup();
  });

  const owner = aUser();
  /** The gateway, as the build's owner. */
  const api = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${stack.gatewayUrl}${path}`, {
      ...init,
      headers: { ...signedIn(owner), 'content-type': 'application/json' },
    });
    const body: unknown = await response.json();
    return { status: response.status, body };
  };

  async function buildToEnd(
    body: object,
  ): Promise<{ sessionId: string; events: BuildEventView[]; session: () => Promise<SessionView> }> {
    const created = await api('/sessions', { method: 'POST', body: JSON.stringify(body) });
    expect(created.status).toBe(201);
    const { sessionId } = created.body as { sessionId: string };
    const read = (path: string) => api(path);
    const events = await waitFor(
      async () => {
        const list = (await read(`/events?session_id=${sessionId}`)).body as BuildEventView[];
        return list.some((e) => e.type === 'build_succeeded' || e.type === 'build_failed') ? list : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `the build of ${sessionId} to end` },
    ).catch(async (error: unknown) => {
      // Say where it stood: the last events and what the provisioner and orchestrator said last.
      const list = (await read(`/events?session_id=${sessionId}`)).body as BuildEventView[];
      const last = list.slice(-8).map((e) => `${e.type}: ${e.message}`);
      const tails = ['provisioner', 'orchestrator'].flatMap((service) =>
        stack.tail(service as 'provisioner').slice(-15),
      );
      throw new Error(`${(error as Error).message}\n${last.join('\n')}\n${tails.join('\n')}`);
    });
    return {
      sessionId,
      events,
      session: async () => (await read(`/sessions?id=${sessionId}`)).body as SessionView,
    };
  }

  it('makes a branch through the Management API and builds, deploys and verifies everything in it', async () => {
    const {
      sessionId,
      events,
      session: readSession,
    } = await buildToEnd({
      vibeText: 'Sellers list furniture. Buyers bid and order. Show daily sales analytics.',
      template: 'marketplace',
      options: { enableAnalytics: true, environmentMode: 'branch' },
    });
    // Every step ran through the cloud driver, the access matrix of `verify` too (one execute_sql through the
    // official MCP server), and the build succeeded with everything proved.
    const timeline = events.map((e) => e.type).filter((type) => !/_call$/.test(type));
    expect(timeline).toEqual(
      expect.arrayContaining([
        'environment_created',
        'table_created',
        'policy_created',
        'edge_function_deployed',
        'analytics_configured',
        'build_succeeded',
      ]),
    );
    expect(timeline).not.toContain('build_failed');
    const session = await readSession();
    expect(session).toMatchObject({ status: 'succeeded', error: null });
    const { verification } = BuildOutputs.parse(session.outputs);
    expect(verification).toMatchObject({ passed: true, failures: [], matrix: { failed: [] } });
    expect(verification!.matrix.cells.length).toBeGreaterThan(20);
    expect(verification!.matrix.cells.every((cell) => cell.actual === cell.expected)).toBe(true);
    const matrixCalls = events.filter(
      (e) => e.type === 'provisioner_call' && (e.payload as { tool?: string }).tool === 'run_access_matrix',
    );
    expect(matrixCalls).toHaveLength(1);
    const environment = session.environment as { driver: string; mode: string; ref: string; apiUrl: string };
    expect(environment).toMatchObject({
      driver: 'supabase',
      mode: 'branch',
      apiUrl: `${fake.url}/p/${environment.ref}`,
    });

    // The branch was asked for, waited on and probed; the token went in every request's header only.
    const branchName = `vibe-${sessionId}`;
    expect(fake.requests).toContainEqual(
      expect.objectContaining({
        method: 'POST',
        path: `/v1/projects/${fake.parentRef}/branches`,
        body: { branch_name: branchName, persistent: false },
      }),
    );
    expect(fake.requests.every((r) => r.authorization === `Bearer ${fake.token}`)).toBe(true);
    // Migrations through the official MCP server, functions deployed as multipart by it.
    const ref = environment.ref;
    expect(
      fake.requests.filter((r) => r.method === 'POST' && r.path === `/v1/projects/${ref}/database/migrations`).length,
    ).toBeGreaterThan(3);
    const deploys = fake.requests.filter((r) => r.path === `/v1/projects/${ref}/functions/deploy`);
    // Deployed side by side: in either order.
    expect(
      deploys
        .map((r) => [r.query.slug, (r.body as { files: Array<{ name: string }> }).files.map((f) => f.name)])
        .sort(([a], [b]) => String(b).localeCompare(String(a))),
    ).toEqual([
      ['drift_check', ['index.ts']],
      ['analytics_query', ['index.ts']],
    ]);

    // Functions verified at the project's URL; every Management API request audited, none with the token.
    const deployed = events.filter((e) => e.type === 'edge_function_deployed');
    expect(deployed.map((e) => [e.payload.slug, e.payload.verified, e.payload.url])).toEqual([
      ['drift_check', true, `${fake.url}/p/${ref}/functions/v1/drift_check`],
      ['analytics_query', true, `${fake.url}/p/${ref}/functions/v1/analytics_query`],
    ]);
    const apiCalls = events.filter((e) => e.type === 'management_api_call');
    expect(apiCalls.map((e) => `${String(e.payload.method)} ${String(e.payload.path)}`)).toContain(
      `POST /v1/projects/${fake.parentRef}/branches`,
    );
    expect(apiCalls.map((e) => `${String(e.payload.method)} ${String(e.payload.path)}`)).toContain(
      `GET /v1/projects/${ref}/api-keys`,
    );
    expect(
      events
        .filter((e) => e.type === 'mcp_call')
        .every((e) => (e.payload.server as { driver: string }).driver === 'supabase'),
    ).toBe(true);
    expect(JSON.stringify(events)).not.toContain(fake.token);
    expect(events.find((e) => e.type === 'analytics_configured')?.payload.rowCount).toBeGreaterThan(0);

    // What the build made, it made in the branch's database: every table with RLS on.
    expect(events.filter((e) => e.type === 'rls_enabled').map((e) => e.payload.table)).toEqual([
      'profiles',
      'listings',
      'bids',
      'orders',
    ]);
    const env = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, fake.databaseOf(ref)) });
    await env.connect();
    try {
      const { rows } = await env.query(
        `select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r' and c.relrowsecurity order by 1`,
      );
      expect(rows.map((r) => r.relname)).toEqual(['bids', 'listings', 'orders', 'profiles']);
      // The matrix left nothing behind in the branch: no planned policy, no fixture row.
      const left = await env.query(
        `select (select count(*)::int from pg_policy where polname like 'vibe_planned_%') as scratch,
                (select count(*)::int from public.bids) as bids`,
      );
      expect(left.rows[0]).toEqual({ scratch: 0, bids: 0 });
    } finally {
      await env.end();
    }
    expect(fake.environments().find((e) => e.name === `vibe-${sessionId}`)?.deleted).toBe(false);
  }, 300_000);

  it('fails a build whose branch fails its migrations, and leaves no branch behind', async () => {
    fake.behaviour = { branchStatuses: ['CREATING_PROJECT', 'MIGRATIONS_FAILED'] };
    const { sessionId, events } = await buildToEnd({ vibeText: 'Sellers list furniture.', template: 'marketplace' });
    const failed = events.find((e) => e.type === 'build_failed');
    expect(failed?.payload).toMatchObject({
      step: 'provision_environment',
      error: expect.stringMatching(/MIGRATIONS_FAILED/),
    });
    const branch = fake.environments().find((e) => e.name === `vibe-${sessionId}`);
    expect(branch?.deleted).toBe(true);
  }, 120_000);
});
