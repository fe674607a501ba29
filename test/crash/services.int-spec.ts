/**
 * The provisioner, the realtime bridge and the NATS server die under a running build (issue 4): the build
 * still succeeds, each provisioner command takes effect once, and build_events ends up complete without
 * duplicates.
 */
import pg from 'pg';
import { withDatabase } from '@vibe/platform';
import { PG_ADMIN_URL, waitFor } from '../support/index.js';
import {
  duplicates,
  environmentName,
  figure,
  printFigures,
  restartNats,
  startCrashStack,
  timelineOf,
  type CrashStack,
} from './support.js';

describe('builds survive the provisioner, the bridge and NATS', () => {
  let t: CrashStack;
  let baseline: string[];

  beforeAll(async () => {
    t = await startCrashStack('crash_svc');
    const sessionId = await t.create();
    await t.waitForStatus(sessionId, ['succeeded', 'failed']);
    baseline = timelineOf(await t.waitForProjection(sessionId));
    expect(baseline).toContain('build_succeeded');
  });

  afterAll(async () => {
    printFigures('service crash figures');
    await t?.close();
  });

  async function expectSucceededOnce(sessionId: string): Promise<void> {
    const session = await t.waitForStatus(sessionId, ['succeeded', 'failed', 'canceled']);
    expect({ status: session.status, error: session.error }).toEqual({ status: 'succeeded', error: null });
    const events = await t.waitForProjection(sessionId);
    expect(duplicates(events)).toEqual([]);
    expect(timelineOf(events)).toEqual(baseline);
  }

  it('runs a command once when the provisioner is killed (SIGKILL) in the middle of it', async () => {
    const orchestrator = await t.restartOrchestrator(['apply_migrations'], { VIBE_TEST_PAUSE_MS: '500' });
    const sessionId = await t.create();
    await t.paused(sessionId, 'apply_migrations');
    // Hold the environment's migration ledger, which applying a migration must read and write: the
    // provisioner's apply_migration blocks on it, in the middle of the command.
    const env = new pg.Client({
      connectionString: withDatabase(PG_ADMIN_URL, environmentName(t.envPrefix, sessionId)),
    });
    await env.connect();
    try {
      await env.query('begin');
      await env.query('lock table supabase_migrations.schema_migrations in access exclusive mode');
      await waitFor(
        async () => {
          const { rows } = await env.query<{ n: number }>(
            `select count(*)::int as n from pg_locks
             where not granted and relation = 'supabase_migrations.schema_migrations'::regclass`,
          );
          return rows[0]!.n > 0;
        },
        { timeoutMs: 15_000, what: 'the provisioner to wait on the migration ledger' },
      );
      const killedAt = new Date();
      await t.stack.kill('provisioner', 'SIGKILL');
      await t.stack.start('provisioner');
      await env.query('rollback');

      await expectSucceededOnce(sessionId);
      // The orchestrator saw the command go unanswered (PROVISION_TIMEOUT_MS) and sent it again; the
      // restarted provisioner ran it (the dead one's copy comes back after the consumer's ack wait and is
      // answered from the ledger).
      expect(orchestrator.lines().join('\n')).toMatch(
        new RegExp(
          `session ${sessionId}: apply_migrations attempt 1 failed, retried in \\d+ ms: the provisioner did not answer`,
        ),
      );
      const events = await t.events(sessionId);
      // Every migration is in the environment's ledger once.
      const applied = await env.query<{ name: string; n: number }>(
        'select name, count(*)::int as n from supabase_migrations.schema_migrations group by name order by name',
      );
      expect(applied.rows.length).toBeGreaterThan(0);
      expect(applied.rows.filter((row) => row.n !== 1)).toEqual([]);
      // The interrupted command ran after the kill, on the restarted provisioner, and was recorded once.
      const migrations = events.filter((e) => e.type === 'provisioner_call' && e.payload.tool === 'apply_migration');
      expect(migrations.length).toBe(applied.rows.length);
      const afterKill = migrations.filter((e) => new Date(String(e.payload.startedAt)) > killedAt);
      expect(afterKill.length).toBeGreaterThan(0);
      const ledger = await t.control.query<{ n: number; distinct_ids: number }>(
        `select count(*)::int as n, count(distinct command_id)::int as distinct_ids
         from provisioner_commands where session_id = $1 and tool = 'apply_migration'`,
        [sessionId],
      );
      expect(ledger.rows[0]).toEqual({ n: applied.rows.length, distinct_ids: applied.rows.length });
    } finally {
      await env.end();
    }
  });

  it('completes the projection without duplicates when the bridge is killed (SIGKILL) while events flow', async () => {
    await t.restartOrchestrator();
    const bridge = t.stack.process('realtime-bridge');
    // Frozen, the bridge keeps receiving the events it pulled but acks none: they are in flight when it dies.
    process.kill(bridge.pid!, 'SIGSTOP');
    let sessionId: string;
    try {
      sessionId = await t.create();
      await t.waitForStatus(sessionId, ['succeeded', 'failed']);
      const consumer = await t.jetstream.jsm.consumers.info(
        t.jetstream.topology.streams.events,
        t.jetstream.topology.consumers.projector,
      );
      expect(consumer.num_ack_pending).toBeGreaterThan(0);
    } finally {
      await t.stack.kill('realtime-bridge', 'SIGKILL');
    }
    const restarted = Date.now();
    await t.stack.start('realtime-bridge');
    await expectSucceededOnce(sessionId);
    figure(
      'bridge restarted to complete projection (in-flight events come back after the 5 s ack wait)',
      Date.now() - restarted,
    );
  });

  it('resumes a build whose driver lost its Postgres connections (and with them the session lock)', async () => {
    const orchestrator = await t.restartOrchestrator(['configure_rls'], { VIBE_TEST_PAUSE_MS: '1500' });
    const sessionId = await t.create();
    await t.paused(sessionId, 'configure_rls');
    await t.control.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and application_name in ('orchestrator', 'vibe-orchestrator-lease')`,
    );
    await orchestrator.waitForLine(
      new RegExp(`session ${sessionId}: stopped \\(the connection holding the session lock ended\\)`),
    );
    await orchestrator.waitForLine(new RegExp(`session ${sessionId}: resuming at configure_rls from its checkpoint`));
    await expectSucceededOnce(sessionId);
  });

  it('reconnects every service after the NATS server restarts during a build, and the build succeeds', async () => {
    await t.restartOrchestrator(['configure_rls'], { VIBE_TEST_PAUSE_MS: '1500' });
    const sessionId = await t.create();
    await t.paused(sessionId, 'configure_rls');
    const down = await restartNats(500);
    figure('NATS unreachable during its restart', down);
    const back = Date.now();
    await expectSucceededOnce(sessionId);
    figure('NATS back to build succeeded', Date.now() - back);
    for (const [service, port] of Object.entries(t.stack.ports)) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.ok === true, {
        timeoutMs: 15_000,
        what: `${service} to be healthy again`,
      });
    }
    // And the services keep working: another build, from a new command, succeeds.
    await t.restartOrchestrator();
    await expectSucceededOnce(await t.create());
  });

  it('stops every service on SIGTERM within seconds (they stop taking work and close their connections)', async () => {
    for (const service of ['gateway', 'orchestrator', 'provisioner', 'realtime-bridge', 'drift-sentinel'] as const) {
      const started = Date.now();
      const exit = await t.stack.kill(service, 'SIGTERM');
      // SIGKILL would mean the stack had to force it after 8 s.
      expect({ service, signal: exit.signal }).toEqual({ service, signal: 'SIGTERM' });
      figure(`${service}: SIGTERM to exit, idle`, Date.now() - started);
    }
  });
});
