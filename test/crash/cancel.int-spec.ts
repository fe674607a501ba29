/**
 * Builds that do not succeed (issue 4). `POST /sessions/:id/cancel`: a running build stops at the next node
 * boundary, becomes `canceled`, says so once in its timeline, and its environment is removed. A build that
 * fails for good ends in `build_failed` with a clear error, and its half-made environment is removed too.
 */
import pg from 'pg';
import { withDatabase } from '@vibe/platform';
import { PG_ADMIN_URL, waitFor } from '../support/index.js';
import { duplicates, environmentName, startCrashStack, type CrashStack } from './support.js';

describe('builds that are canceled or fail', () => {
  let t: CrashStack;

  beforeAll(async () => {
    // Every build pauses for 1.5 s at each of these nodes, so that a cancel can arrive while one runs.
    t = await startCrashStack('crash_cancel', {
      VIBE_TEST_PAUSE_AT_NODE: 'generate_plan,apply_migrations,configure_analytics',
      VIBE_TEST_PAUSE_MS: '1500',
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  const cancel = (sessionId: string) => t.api(`/sessions/${sessionId}/cancel`, { method: 'POST' });

  it.each([
    // [node the cancel arrives during, boundary it is seen at, whether an environment existed]
    ['generate_plan', 'provision_environment', false],
    ['apply_migrations', 'configure_rls', true],
    ['configure_analytics', 'finalize', true],
  ] as const)(
    'stops a build canceled during %s at the next node boundary (%s) and removes its environment',
    async (during, boundary, hadEnvironment) => {
      const sessionId = await t.create();
      await t.paused(sessionId, during);
      const accepted = await cancel(sessionId);
      expect(accepted).toEqual({ status: 202, body: { sessionId, cancelRequested: true } });

      const session = await t.waitForStatus(sessionId, ['canceled', 'succeeded', 'failed']);
      expect(session.status).toBe('canceled');
      const events = await t.waitForProjection(sessionId);
      expect(duplicates(events)).toEqual([]);
      const types = events.map((e) => e.type);
      expect(types.filter((type) => type === 'build_canceled')).toHaveLength(1);
      expect(types).not.toContain('build_succeeded');
      expect(types).not.toContain('build_failed');
      const canceled = events.find((e) => e.type === 'build_canceled')!;
      expect(canceled.payload).toMatchObject({ step: boundary, environmentRemoved: hadEnvironment });
      // The node that was running finished; nothing after the boundary ran.
      const last = types.filter((type) => type !== 'provisioner_call' && type !== 'mcp_call').at(-1);
      expect(last).toBe('build_canceled');
      if (during === 'apply_migrations') {
        expect(types).toContain('table_created');
        expect(types).not.toContain('rls_enabled');
      }
      // The environment is gone, and recorded as removed when there was one.
      expect(await t.environmentDatabases()).not.toContain(environmentName(t.envPrefix, sessionId));
      const { rows } = await t.control.query<{ removed: boolean; had: boolean }>(
        `select environment_removed_at is not null as removed, environment is not null as had
         from build_sessions where id = $1`,
        [sessionId],
      );
      expect(rows[0]).toEqual({ removed: true, had: hadEnvironment });

      // Canceling again is refused: the build is over.
      const again = await cancel(sessionId);
      expect(again.status).toBe(409);
      expect((again.body as { message: string }).message).toMatch(/already been canceled/);
    },
  );

  it('refuses to cancel a finished build (409) and an unknown one (404)', async () => {
    // The pauses make this build take ~4.5 s; it is not canceled.
    const sessionId = await t.create();
    const done = await t.waitForStatus(sessionId, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    const finished = await cancel(sessionId);
    expect(finished.status).toBe(409);
    expect((finished.body as { message: string }).message).toMatch(/already succeeded; only a queued or running/);
    // Nothing changed.
    expect((await t.session(sessionId)).status).toBe('succeeded');

    const unknown = await cancel('00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    const invalid = await cancel('not-a-uuid');
    expect(invalid.status).toBe(400);
    expect((invalid.body as { message: string }).message).toMatch(/^id: /);
  });

  it('ends a build that fails for good in build_failed with a clear error, and removes its environment', async () => {
    const sessionId = await t.create();
    await t.paused(sessionId, 'apply_migrations');
    // Break the environment under the build: without its migration ledger no migration can be applied.
    const env = new pg.Client({
      connectionString: withDatabase(PG_ADMIN_URL, environmentName(t.envPrefix, sessionId)),
    });
    await env.connect();
    try {
      await env.query('drop table supabase_migrations.schema_migrations');
    } finally {
      await env.end();
    }
    const session = await t.waitForStatus(sessionId, ['failed', 'succeeded', 'canceled']);
    expect(session.status).toBe('failed');
    expect(session.error).toMatch(/^apply_migrations: .*schema_migrations/);
    const events = await t.waitForProjection(sessionId);
    expect(duplicates(events)).toEqual([]);
    const types = events.map((e) => e.type);
    expect(types.filter((type) => type === 'build_failed')).toHaveLength(1);
    expect(types).not.toContain('table_created');
    expect(events.find((e) => e.type === 'build_failed')?.payload).toMatchObject({ step: 'apply_migrations' });
    const discarded = events.find((e) => e.type === 'step_completed' && e.payload.step === 'discard_environment');
    expect(discarded?.payload.done).toEqual([`removed environment ${environmentName(t.envPrefix, sessionId)}`]);
    expect(await t.environmentDatabases()).not.toContain(environmentName(t.envPrefix, sessionId));
    const { rows } = await t.control.query<{ removed: boolean }>(
      'select environment_removed_at is not null as removed from build_sessions where id = $1',
      [sessionId],
    );
    expect(rows[0]).toEqual({ removed: true });
  });

  it('cancels a queued build that no orchestrator has started', async () => {
    await t.stack.kill('orchestrator', 'SIGKILL');
    const sessionId = await t.create();
    expect((await cancel(sessionId)).status).toBe(202);
    await t.stack.start('orchestrator');
    const session = await t.waitForStatus(sessionId, ['canceled', 'succeeded', 'failed']);
    expect(session.status).toBe('canceled');
    const events = await waitFor(
      async () => {
        const rows = await t.events(sessionId);
        return rows.some((e) => e.type === 'build_canceled') ? rows : undefined;
      },
      { what: 'build_canceled' },
    );
    expect(duplicates(events)).toEqual([]);
    // The start and the cancel command arrive together; the cancel is seen at the first node boundary after
    // it was recorded, at the latest before provision_environment (generate_plan pauses for 1.5 s here).
    expect(events.find((e) => e.type === 'build_canceled')?.payload).toMatchObject({ environmentRemoved: false });
    expect(events.map((e) => e.type)).not.toContain('environment_created');
    expect(events.map((e) => e.type)).not.toContain('build_succeeded');
  });
});
