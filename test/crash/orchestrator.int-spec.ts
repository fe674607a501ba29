/**
 * The orchestrator dies, stops or never gets the command (issue 4): a build still ends exactly as an
 * undisturbed one does, with one environment and every timeline event recorded once.
 *
 * The crash is made deterministic with the orchestrator's test hook VIBE_TEST_PAUSE_AT_NODE: the build
 * pauses at the start of the node and prints a marker, and the test kills the process there.
 */
import { BUILD_STEPS } from '../../services/orchestrator/src/graph/step.js';
import { waitFor } from '../support/index.js';
import {
  BUILD_REQUEST,
  duplicates,
  environmentName,
  figure,
  printFigures,
  startCrashStack,
  timelineOf,
  type CrashStack,
} from './support.js';

describe('builds survive the orchestrator', () => {
  let t: CrashStack;
  let baseline: { timeline: string[]; ms: number };

  beforeAll(async () => {
    t = await startCrashStack('crash_orch');
    // Two undisturbed builds; the second, warm one (the provisioner's template database exists) is the baseline.
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      const sessionId = await t.create();
      await t.waitForStatus(sessionId, ['succeeded', 'failed']);
      const events = await t.waitForProjection(sessionId);
      expect(events.map((e) => e.type)).toContain('build_succeeded');
      baseline = { timeline: timelineOf(events), ms: Date.now() - started };
    }
    figure('undisturbed build, POST to succeeded', baseline.ms);
  });

  afterAll(async () => {
    printFigures('orchestrator crash figures');
    await t?.close();
  });

  /** The build ended as the undisturbed one did: succeeded, the same timeline, each event once, one environment. */
  async function expectBuiltOnce(sessionId: string): Promise<void> {
    const session = await t.waitForStatus(sessionId, ['succeeded', 'failed', 'canceled']);
    expect({ status: session.status, error: session.error }).toEqual({ status: 'succeeded', error: null });
    const events = await t.waitForProjection(sessionId);
    expect(duplicates(events)).toEqual([]);
    expect(timelineOf(events)).toEqual(baseline.timeline);
    const environment = environmentName(t.envPrefix, sessionId);
    expect((await t.environmentDatabases()).filter((name) => name === environment)).toEqual([environment]);
    const created = events.filter((e) => e.type === 'provisioner_call' && e.payload.tool === 'create_environment');
    expect(created).toHaveLength(1);
  }

  it.each(BUILD_STEPS.map((step) => [step]))(
    'resumes a build whose orchestrator was killed (SIGKILL) during %s, from that node',
    async (node) => {
      await t.restartOrchestrator([node]);
      const posted = Date.now();
      const sessionId = await t.create();
      await t.paused(sessionId, node);
      await t.stack.kill('orchestrator', 'SIGKILL');
      const spawned = Date.now();
      const restarted = await t.restartOrchestrator();
      const ready = Date.now();
      await restarted.waitForLine(new RegExp(`session ${sessionId}: resuming at ${node} from its checkpoint`), {
        timeoutMs: 15_000,
      });
      const resumed = Date.now();
      await expectBuiltOnce(sessionId);
      const done = Date.now();
      figure(`${node}: restart to resumed progress (process start included)`, resumed - spawned);
      figure(`${node}: ready to resumed progress`, resumed - ready);
      figure(`${node}: extra time the crash cost the build`, done - posted - baseline.ms);
      const { rows } = await t.control.query<{ attempts: number }>(
        'select attempts from build_sessions where id = $1',
        [sessionId],
      );
      expect(rows[0]?.attempts).toBe(2);
    },
  );

  it('stops at a node boundary on SIGTERM, gives its command back, and resumes from the checkpoint', async () => {
    await t.restartOrchestrator(['configure_rls']);
    const sessionId = await t.create();
    await t.paused(sessionId, 'configure_rls');
    const before = t.stack.process('orchestrator');
    const stopping = Date.now();
    const exit = await t.stack.kill('orchestrator', 'SIGTERM');
    figure('SIGTERM to exit, mid-build', Date.now() - stopping);
    expect(exit.signal).not.toBe('SIGKILL');
    expect(before.lines().join('\n')).toMatch(
      new RegExp(`session ${sessionId}: stopped \\(the orchestrator is shutting down\\)`),
    );
    // Left resumable: still running, with a checkpoint whose next node is the one that was interrupted.
    expect((await t.session(sessionId)).status).toBe('running');
    const { rows } = await t.control.query<{ n: number }>(
      'select count(*)::int as n from langgraph.checkpoints where thread_id = $1',
      [sessionId],
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
    const restarted = await t.stack.start('orchestrator', { env: { VIBE_TEST_PAUSE_AT_NODE: '' } });
    await restarted.waitForLine(new RegExp(`session ${sessionId}: resuming at configure_rls from its checkpoint`));
    // The start command was given back (nak) on the way out: it comes again at once, not after the
    // consumer's ack wait of 60 s that a command held by a dead process waits out.
    await restarted.waitForLine(
      new RegExp(
        `session ${sessionId}: (start command: (finished|busy)|resuming at configure_rls from its checkpoint \\(attempt 2, command\\))`,
      ),
      { timeoutMs: 5000 },
    );
    await expectBuiltOnce(sessionId);
  });

  it('announces the end of a build whose status was recorded by a driver that died before announcing it', async () => {
    await t.restartOrchestrator(['finalize']);
    const sessionId = await t.create();
    await t.paused(sessionId, 'finalize');
    // As if finalize had written the final status and the process had died before build_succeeded.
    await t.control.query(`update build_sessions set status = 'succeeded' where id = $1`, [sessionId]);
    await t.stack.kill('orchestrator', 'SIGKILL');
    expect((await t.events(sessionId)).map((e) => e.type)).not.toContain('build_succeeded');
    const restarted = await t.restartOrchestrator();
    await restarted.waitForLine(new RegExp(`session ${sessionId}: resuming at finalize from its checkpoint`));
    const events = await t.waitForProjection(sessionId);
    expect(duplicates(events)).toEqual([]);
    expect(timelineOf(events)).toEqual(baseline.timeline);
    // The run ends (graph_ended_at) just after the event; announcing did not count as another attempt.
    const ended = await waitFor(
      async () => {
        const { rows } = await t.control.query<{ ended: boolean; attempts: number }>(
          'select graph_ended_at is not null as ended, attempts from build_sessions where id = $1',
          [sessionId],
        );
        return rows[0]?.ended ? rows[0] : undefined;
      },
      { timeoutMs: 10_000, what: 'the run to end' },
    );
    expect(ended).toEqual({ ended: true, attempts: 1 });
  });

  it('fails a build that keeps losing its driver once MAX_BUILD_ATTEMPTS runs were started, and removes its environment', async () => {
    await t.restartOrchestrator(['apply_migrations']);
    const sessionId = await t.create();
    await t.paused(sessionId, 'apply_migrations');
    await t.stack.kill('orchestrator', 'SIGKILL');
    await t.restartOrchestrator([], { MAX_BUILD_ATTEMPTS: '1' });
    const session = await t.waitForStatus(sessionId, ['failed', 'succeeded']);
    expect(session.status).toBe('failed');
    expect(session.error).toMatch(/^gave up after 1 attempt\(s\) to run the build; last error: none recorded/);
    const events = await t.waitForProjection(sessionId);
    expect(duplicates(events)).toEqual([]);
    expect(events.filter((e) => e.type === 'build_failed')).toHaveLength(1);
    expect(events.find((e) => e.type === 'build_failed')?.message).toMatch(/; removed environment /);
    expect(await t.environmentDatabases()).not.toContain(environmentName(t.envPrefix, sessionId));
    await t.restartOrchestrator();
  });

  it('adopts a queued session whose start command was lost, and builds it', async () => {
    const { rows } = await t.control.query<{ id: string }>(
      `insert into build_sessions (status, template, vibe_text, options, created_by)
       values ('queued', $1, $2, $3::jsonb, $4)
       returning id`,
      [BUILD_REQUEST.template, BUILD_REQUEST.vibeText, JSON.stringify({ ...BUILD_REQUEST.options }), t.owner],
    );
    const sessionId = rows[0]!.id;
    const inserted = Date.now();
    await t.stack
      .process('orchestrator')
      .waitForLine(new RegExp(`session ${sessionId}: building marketplace \\(attempt 1, adoption\\)`), {
        timeoutMs: 15_000,
      });
    figure('queued without a command, to adopted (ADOPT_QUEUED_AFTER_MS 1500, interval 500)', Date.now() - inserted);
    await expectBuiltOnce(sessionId);
  });

  it('has another live replica take over a build whose driver was killed', async () => {
    await t.restartOrchestrator(['apply_migrations']);
    const sessionId = await t.create();
    await t.paused(sessionId, 'apply_migrations');
    // A second replica, started while the first drives the build: it must leave the build alone.
    const replica = await t.stack.startReplica('orchestrator', { env: { VIBE_TEST_PAUSE_AT_NODE: '' } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(replica.lines().join('\n')).not.toContain(sessionId);
    const killed = Date.now();
    await t.stack.kill('orchestrator', 'SIGKILL');
    await replica.waitForLine(new RegExp(`session ${sessionId}: resuming at apply_migrations from its checkpoint`), {
      timeoutMs: 15_000,
    });
    figure('driver killed to resumed by a live replica (ADOPT_INTERVAL_MS 500)', Date.now() - killed);
    await expectBuiltOnce(sessionId);
    await replica.kill('SIGTERM');
    await waitFor(async () => !replica.isRunning(), { what: 'the replica to stop' });
  });
});
