/**
 * The drift sentinel end to end: the five services as separate processes (their build output), environments
 * provisioned by real builds with `enableDriftSentinel`, then tampered with directly in the environment
 * database (the test plays an operator), and checked through `POST /sessions/:id/drift-check` (the gateway
 * asks a sentinel over JetStream; the sentinel looks through the provisioner). Each kind of tampering gets
 * its own environment, built once for the file.
 */
import pg from 'pg';
import {
  newId,
  stableId,
  type BuildEventView,
  type DriftAlertView,
  type DriftReport,
  type SessionView,
} from '@vibe/contracts';
import { callProvisioner, connectJetStream, withDatabase, type JetStreamContext } from '@vibe/platform';
import {
  freePorts,
  SERVICES,
  startStack,
  type RunningStack,
  type ServiceProcess,
} from '../../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  NATS_URL,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';
import { aUser, LENIENT_LIMITS, signedIn } from '../../../test/support/auth.js';
import { MARKETPLACE_VIBE, VIBE_CHUNK } from './factories.js';

interface Case {
  name: string;
  /** What the operator does to the environment, in one transaction. */
  tamper: string;
  type: string;
  severity: string;
  resource: string;
  /** The chunk of the vibe that the drift breaks. */
  chunk: number;
  lints?: string[];
}

const CASES: Case[] = [
  {
    name: 'RLS disabled on a table',
    tamper: 'alter table public.bids disable row level security',
    type: 'rls_disabled',
    severity: 'critical',
    resource: 'table:public.bids',
    chunk: VIBE_CHUNK.bids,
    lints: ['policy_exists_rls_disabled', 'rls_disabled_in_public'],
  },
  {
    name: 'a policy dropped',
    tamper: 'drop policy bids_read_own on public.bids',
    type: 'policy_missing',
    severity: 'high',
    resource: 'policy:public.bids.bids_read_own',
    chunk: VIBE_CHUNK.bids,
  },
  {
    name: 'a policy replaced by using (true)',
    tamper:
      'drop policy orders_read_own on public.orders; ' +
      'create policy orders_read_own on public.orders for select to authenticated using (true)',
    type: 'policy_changed',
    severity: 'critical',
    resource: 'policy:public.orders.orders_read_own',
    chunk: VIBE_CHUNK.orders,
  },
  {
    name: 'a column added',
    tamper: 'alter table public.profiles add column phone text',
    type: 'column_added',
    severity: 'medium',
    resource: 'column:public.profiles.phone',
    chunk: VIBE_CHUNK.profiles,
  },
  {
    name: 'a column dropped',
    tamper: 'alter table public.listings drop column description',
    type: 'column_missing',
    severity: 'medium',
    resource: 'column:public.listings.description',
    chunk: VIBE_CHUNK.listings,
  },
  {
    name: 'a table dropped',
    tamper: 'drop table public.bids',
    type: 'table_missing',
    severity: 'medium',
    resource: 'table:public.bids',
    chunk: VIBE_CHUNK.bids,
  },
  {
    name: 'a security definer view over auth.users added',
    tamper:
      'create view public.user_directory as select id, email, raw_user_meta_data from auth.users; ' +
      'grant select on public.user_directory to anon, authenticated',
    type: 'view_added',
    severity: 'critical',
    resource: 'view:public.user_directory',
    chunk: VIBE_CHUNK.profiles,
    lints: ['auth_users_exposed', 'security_definer_view'],
  },
  {
    name: 'an Edge Function dropped',
    tamper: `delete from supabase_functions.edge_functions where slug = 'drift_check'`,
    type: 'edge_function_missing',
    severity: 'low',
    resource: 'edge_function:drift_check',
    chunk: VIBE_CHUNK.monitoring,
  },
];

describe('drift sentinel: scheduled and on-demand checks of real environments', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let envPrefix: string;
  let stack: RunningStack;
  let control: pg.Pool;
  let jetstream: JetStreamContext;
  /** One built session per case, one untouched, one for the two-replica test. */
  const sessions = new Map<string, SessionView>();

  const shareTokens = new Map<string, string>();

  // Every build of the file belongs to one user, who signs every request unless `as` says otherwise.
  const owner = aUser();
  const api = async <T>(
    path: string,
    init?: RequestInit,
    as: Record<string, string> = signedIn(owner),
  ): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${stack.gatewayUrl}${path}`, {
      ...init,
      headers: { ...as, ...(init?.body ? { 'content-type': 'application/json' } : {}) },
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  async function build(): Promise<SessionView> {
    const created = await api<{ sessionId: string; shareToken: string }>('/sessions', {
      method: 'POST',
      body: JSON.stringify({
        vibeText: MARKETPLACE_VIBE,
        template: 'marketplace',
        options: { enableDriftSentinel: true },
      }),
    });
    expect(created.status).toBe(201);
    const { sessionId, shareToken } = created.body;
    shareTokens.set(sessionId, shareToken);
    const session = await waitFor(
      async () => {
        const { body } = await api<SessionView>(`/sessions?id=${sessionId}`);
        return body.status === 'queued' || body.status === 'running' ? undefined : body;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: `the build of ${sessionId}` },
    );
    expect({ status: session.status, error: session.error }).toEqual({ status: 'succeeded', error: null });
    return session;
  }

  const sessionOf = (name: string) => {
    const session = sessions.get(name);
    if (!session) throw new Error(`no session for ${name}`);
    return session;
  };

  /** Runs SQL in the session's environment database, as an operator with direct access would. */
  async function inEnvironment<T>(session: SessionView, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const ref = String(session.environment?.ref);
    const client = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, ref) });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  async function runSql(session: SessionView, sql: string): Promise<void> {
    await inEnvironment(session, async (client) => {
      await client.query('begin');
      await client.query(sql);
      await client.query('commit');
    });
  }

  const check = (session: SessionView) =>
    api<DriftReport & { message?: string }>(`/sessions/${session.id}/drift-check`, { method: 'POST' });
  const alerts = (session: SessionView, query = '') => api<DriftAlertView[]>(`/sessions/${session.id}/drift${query}`);

  async function driftEvents(session: SessionView): Promise<BuildEventView[]> {
    const { rows } = await control.query<BuildEventView>(
      `select id, session_id as "sessionId", type, message, payload from build_events
       where session_id = $1 and type = 'drift_detected' order by ts`,
      [session.id],
    );
    return rows;
  }

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_drift');
    namespace = createNamespace('drift');
    envPrefix = `${uniqueName('vibe_drift_env')}_`;
    const ports = await freePorts(SERVICES.length);
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
        // On request only here; the two-replica test starts sentinels with a schedule of their own.
        DRIFT_SCHEDULE: 'off',
        // Its builds run in parallel, as one user.
        ...LENIENT_LIMITS,
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
    });
    control = new pg.Pool({ connectionString: db.url, max: 4 });
    jetstream = await connectJetStream(NATS_URL, namespace.namespace, 'drift-test');
    const names = [...CASES.map((c) => c.name), 'untouched', 'replicas'];
    const built = await Promise.all(names.map(() => build()));
    names.forEach((name, i) => sessions.set(name, built[i]!));
  }, 240_000);

  afterAll(async () => {
    await jetstream?.nc.close();
    await control?.end();
    await stack?.stop();
    await dropDatabasesLike(envPrefix);
    await db?.drop();
    await namespace?.cleanup();
  });

  it('an untouched environment yields nothing, and its check is recorded', async () => {
    const session = sessionOf('untouched');
    const { status, body } = await check(session);
    expect(status).toBe(200);
    expect(body.findings).toEqual([]);
    expect(body.resolved).toEqual([]);
    expect(body.environmentRef).toBe(session.environment?.ref);
    expect((await alerts(session)).body).toEqual([]);
    const { rows } = await control.query(
      `select trigger, outcome, findings, opened, resolved from drift_checks where session_id = $1`,
      [session.id],
    );
    expect(rows).toEqual([{ trigger: 'request', outcome: 'checked', findings: 0, opened: 0, resolved: 0 }]);
  });

  describe.each(CASES)('$name', (c) => {
    it(`is found in one check as ${c.severity} ${c.type}, with its spec chunk; the recommendation repairs it and resolves the alert`, async () => {
      const session = sessionOf(c.name);
      let deployedFiles: Array<{ name: string; content: string }> = [];
      if (c.type === 'edge_function_missing') {
        // What the build deployed, to deploy it again as the recommendation says.
        const { function: fn } = await callProvisioner(jetstream, {
          version: 1,
          commandId: newId(),
          sessionId: session.id,
          tool: 'get_edge_function',
          environmentRef: String(session.environment?.ref),
          slug: 'drift_check',
        });
        deployedFiles = fn.files;
      }

      await runSql(session, c.tamper);
      const first = await check(session);
      expect(first.status).toBe(200);
      expect(first.body.findings.map((f) => [f.type, f.severity, f.resource, f.new])).toEqual([
        [c.type, c.severity, c.resource, true],
      ]);
      const [finding] = first.body.findings;
      expect(finding!.lints).toEqual(c.lints ?? []);
      expect(finding!.specChunk).toMatchObject({ chunkIndex: c.chunk, method: 'vector' });
      expect(finding!.recommendation.length).toBeGreaterThan(0);

      // Recorded once, and announced once on the stream (projected into build_events by the bridge).
      const listed = (await alerts(session)).body;
      expect(listed.map((a) => [a.id, a.status, a.severity, a.type, a.resource])).toEqual([
        [finding!.alertId, 'open', c.severity, c.type, c.resource],
      ]);
      expect(listed[0]!.specChunk?.id).toBe(finding!.specChunk?.id);
      expect(listed[0]!.recommendation).toBe(finding!.recommendation);
      const events = await waitFor(async () => {
        const found = await driftEvents(session);
        return found.length ? found : undefined;
      });
      expect(events.map((e) => [e.id, e.payload.alertId, e.payload.severity, e.payload.type])).toEqual([
        [stableId(session.id, `drift_detected:${finding!.alertId}`), finding!.alertId, c.severity, c.type],
      ]);

      // The same drift, checked again: the same open alert, no second alert, no second event.
      const again = await check(session);
      expect(again.body.findings.map((f) => [f.alertId, f.new])).toEqual([[finding!.alertId, false]]);
      expect((await alerts(session)).body).toHaveLength(1);

      // Apply the recommendation: the next check is clean and resolves the alert.
      if (c.type === 'edge_function_missing') {
        await callProvisioner(jetstream, {
          version: 1,
          commandId: newId(),
          sessionId: session.id,
          tool: 'deploy_edge_function',
          environmentRef: String(session.environment?.ref),
          name: 'drift_check',
          entrypointPath: 'index.ts',
          verifyJwt: true,
          files: deployedFiles,
        });
      } else {
        await runSql(session, finding!.recommendation);
      }
      const repaired = await check(session);
      expect(repaired.status).toBe(200);
      expect(repaired.body.findings).toEqual([]);
      expect(repaired.body.resolved).toEqual([{ alertId: finding!.alertId, type: c.type, resource: c.resource }]);
      const after = (await alerts(session)).body;
      expect(after.map((a) => [a.id, a.status])).toEqual([[finding!.alertId, 'resolved']]);
      expect(after[0]!.resolvedAt).not.toBeNull();
      expect((await alerts(session, '?status=open')).body).toEqual([]);
      expect(await driftEvents(session)).toHaveLength(1);
    });
  });

  it('does not check an environment mid-build: not succeeded, or while an orchestrator holds the build lease', async () => {
    const source = sessionOf('untouched');
    // A session whose build did not succeed, on the same environment: refused.
    const failedId = newId();
    await control.query(
      `insert into build_sessions (id, status, template, vibe_text, options, plan, environment, graph_ended_at, created_by)
       select $2, 'failed', template, vibe_text, options, plan, environment, now(), created_by
       from build_sessions where id = $1`,
      [source.id, failedId],
    );
    const failed = await api<{ message: string }>(`/sessions/${failedId}/drift-check`, { method: 'POST' });
    expect(failed.status).toBe(409);
    expect(failed.body.message).toMatch(/the session is failed; only a succeeded build is checked/);

    // The orchestrator's lease on the session (db/migrations/0003): a build is running.
    const lease = new pg.Client({ connectionString: db.url });
    await lease.connect();
    try {
      await lease.query('select pg_advisory_lock($1, hashtext($2))', [0x6f726368, source.id]);
      const held = await api<{ message: string }>(`/sessions/${source.id}/drift-check`, { method: 'POST' });
      expect(held.status).toBe(409);
      expect(held.body.message).toMatch(/a build of the session is running/);
    } finally {
      await lease.end();
    }
    expect((await check(source)).status).toBe(200);
    const { rows } = await control.query(`select count(*)::int as n from drift_checks where session_id = $1`, [
      failedId,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('does not check a deleted session, whose environment is being torn down (issue 12)', async () => {
    const source = sessionOf('untouched');
    const deletedId = newId();
    await control.query(
      `insert into build_sessions (id, status, template, vibe_text, options, plan, environment, graph_ended_at,
         created_by, deleted_at, deletion_reason)
       select $2, status, template, vibe_text, options, plan, environment, now(), created_by, now(), 'owner'
       from build_sessions where id = $1`,
      [source.id, deletedId],
    );
    const refused = await api<{ message: string }>(`/sessions/${deletedId}/drift-check`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/the session has no environment/);
    expect((await check(source)).status).toBe(200);
  });

  it('lets the owner check, owner and share-token holders read the alerts, and nobody else either', async () => {
    const session = sessionOf('untouched');
    const shareToken = { 'x-share-token': shareTokens.get(session.id)! };
    expect((await api(`/sessions/${session.id}/drift`, undefined, shareToken)).status).toBe(200);
    expect((await api(`/sessions/${session.id}/drift-check`, { method: 'POST' }, shareToken)).status).toBe(401);
    const stranger = signedIn(aUser());
    expect((await api(`/sessions/${session.id}/drift`, undefined, stranger)).status).toBe(404);
    expect((await api(`/sessions/${session.id}/drift-check`, { method: 'POST' }, stranger)).status).toBe(404);
    expect((await api(`/sessions/${session.id}/drift-check`, { method: 'POST' }, {})).status).toBe(401);
  });

  it('answers 404 for an unknown session and 400 for a bad id, on both endpoints', async () => {
    const unknown = newId();
    expect((await api(`/sessions/${unknown}/drift-check`, { method: 'POST' })).status).toBe(404);
    expect((await api(`/sessions/${unknown}/drift`)).status).toBe(404);
    const bad = await api<{ message: string }>('/sessions/not-a-uuid/drift');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^id:/);
    const badStatus = await api<{ message: string }>(`/sessions/${sessionOf('untouched').id}/drift?status=closed`);
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.message).toMatch(/^status:/);
  });

  it('two sentinel processes on a schedule check each environment once per round and do not double-report', async () => {
    const session = sessionOf('replicas');
    await runSql(session, 'alter table public.orders disable row level security');
    const eligible = (
      await control.query(
        `select count(*)::int as n from build_sessions
         where status = 'succeeded' and options->'enableDriftSentinel' = 'true' and deleted_at is null`,
      )
    ).rows[0].n as number;
    const since = new Date();
    const schedule = { DRIFT_SCHEDULE: '*/2 * * * * *', DRIFT_JITTER_MS: '300' };
    const replicas: ServiceProcess[] = [];
    try {
      replicas.push(await stack.startReplica('drift-sentinel', { env: schedule }));
      replicas.push(await stack.startReplica('drift-sentinel', { env: schedule }));
      // Rounds go on until at least three have been checked completely.
      await waitFor(
        async () => {
          const { rows } = await control.query(
            `select round from drift_checks where trigger = 'schedule' and started_at >= $1 and outcome = 'checked'
             group by round having count(*) = $2`,
            [since, eligible],
          );
          return rows.length >= 3;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'three complete rounds' },
      );
    } finally {
      for (const replica of replicas) await replica.kill('SIGTERM');
    }

    const { rows: checks } = await control.query<{ session_id: string; round: string; worker: string }>(
      `select session_id, round, worker from drift_checks where trigger = 'schedule' and round is not null`,
    );
    // Exactly one check per environment and round, and both processes took part.
    const perRound = new Map<string, number>();
    for (const row of checks)
      perRound.set(`${row.session_id} ${row.round}`, (perRound.get(`${row.session_id} ${row.round}`) ?? 0) + 1);
    expect(Math.max(...perRound.values())).toBe(1);
    expect(new Set(checks.map((row) => row.worker)).size).toBeGreaterThanOrEqual(2);
    // Every eligible environment was checked in the rounds that completed.
    expect(new Set(checks.map((row) => row.session_id)).size).toBe(eligible);

    // The tampered one: one open alert and one event, however many rounds saw it.
    const { rows: open } = await control.query(
      `select id, type, severity from drift_alerts where session_id = $1 and status = 'open'`,
      [session.id],
    );
    expect(open).toEqual([{ id: expect.any(String), type: 'rls_disabled', severity: 'critical' }]);
    const { rows: seen } = await control.query(
      `select count(*)::int as n from drift_checks where session_id = $1 and trigger = 'schedule' and outcome = 'checked'`,
      [session.id],
    );
    expect(seen[0].n).toBeGreaterThanOrEqual(3);
    const events = await waitFor(async () => {
      const found = await driftEvents(session);
      return found.length ? found : undefined;
    });
    expect(events.map((e) => e.payload.alertId)).toEqual([open[0].id]);
    // Environments nobody touched: no alert at all.
    const { rows: others } = await control.query(`select count(*)::int as n from drift_alerts where session_id = $1`, [
      sessionOf('untouched').id,
    ]);
    expect(others[0].n).toBe(0);
  });
});
