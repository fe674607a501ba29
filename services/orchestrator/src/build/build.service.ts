import { hostname } from 'node:os';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { KV } from '@nats-io/kv';
import { isGraphDrained, type BaseCheckpointSaver } from '@langchain/langgraph';
import { JETSTREAM, PG_POOL, presenceBucket, redactText, type JetStreamContext, type Pool } from '@vibe/platform';
import { metrics } from '@vibe/platform';
import { ORCHESTRATOR_CONFIG, type OrchestratorConfig } from '../config.js';
import { buildGraph, type BuildGraph } from '../graph/build.graph.js';
import type { BuildDeps, DriveControlPort, GraphNodeName } from '../graph/ports.js';
import { errorMessage } from '../graph/step.js';
import { createEmbedder } from '../ingest/embedder.js';
import { createPlanner } from '../planning/openai-planner.js';
import { JetStreamBuildEvents } from './build-events.js';
import { createCheckpointer } from './checkpointer.js';
import { Drive, DriveStoppedError } from './drive.js';
import { JetStreamProvisioner } from './provisioner.adapter.js';
import { SessionLeases } from './session-lease.js';
import { FINAL_STATUSES, SessionsRepository, type DeletionReason, type SessionToDrive } from './sessions.repository.js';
import { SpecChunksRepository } from './spec-chunks.repository.js';
import { isTransientError } from './transient.js';

/**
 * How a drive ended: the build graph ran to its end (`completed`), there was nothing to run (`finished`,
 * `unknown`), another driver holds the session (`busy`), or this process stopped before the end
 * (`stopped`: shutting down or the session lock was lost; the build resumes from its checkpoint).
 */
export type DriveOutcome = 'completed' | 'finished' | 'unknown' | 'busy' | 'stopped';

export type DriveTrigger = 'command' | 'cancel' | 'adoption';

/** How a teardown ended: done now or before, no such session, or handed back (another driver, shutdown). */
export type TeardownOutcome = 'completed' | 'already_done' | 'unknown' | 'busy' | 'stopped';

/**
 * Drives builds (DESIGN.md §4). One session is driven by one process at a time: the driver holds the
 * session's lease (a Postgres advisory lock) while it runs the graph, whose every node boundary is a
 * checkpoint in the control plane (thread = session id). A drive resumes from the last checkpoint, so a
 * build interrupted anywhere (crash, shutdown, lost connection) continues with the node that was running.
 */
@Injectable()
export class BuildService implements OnModuleInit {
  private readonly logger = new Logger(BuildService.name);
  private readonly sessions: SessionsRepository;
  private readonly leases: SessionLeases;
  private readonly drives = new Map<string, Drive>();
  private readonly running = new Set<Promise<unknown>>();
  /** Drives that were asked for and have not registered yet (their lease is being taken). */
  private starting = 0;
  private shutdown: Promise<void> | null = null;
  private readonly driver = `${hostname()}:${process.pid}`;
  private graph!: BuildGraph;
  private checkpointer!: BaseCheckpointSaver;
  private events!: JetStreamBuildEvents;
  private provisioner!: JetStreamProvisioner;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(ORCHESTRATOR_CONFIG) private readonly config: OrchestratorConfig,
  ) {
    this.sessions = new SessionsRepository(pool);
    this.leases = new SessionLeases(config.DATABASE_URL);
  }

  async onModuleInit(): Promise<void> {
    await this.sessions.assertReady();
    const presence: KV = await presenceBucket(this.jetstream);
    this.checkpointer = await createCheckpointer(this.pool);
    this.events = new JetStreamBuildEvents(this.jetstream, presence);
    this.provisioner = new JetStreamProvisioner(this.jetstream, this.config.PROVISION_TIMEOUT_MS);
    const embedder = createEmbedder(this.config);
    const deps: BuildDeps = {
      planner: createPlanner(this.config),
      embedder,
      events: this.events,
      sessions: this.sessions,
      chunks: new SpecChunksRepository(this.pool, embedder.model),
      provisioner: this.provisioner,
      control: this.control(),
      retry: {
        budgetMs: this.config.STEP_RETRY_BUDGET_MS,
        initialDelayMs: this.config.STEP_RETRY_INITIAL_DELAY_MS,
        maxDelayMs: this.config.STEP_RETRY_MAX_DELAY_MS,
      },
      analytics: { icebergWrapper: this.config.ANALYTICS_ICEBERG_WRAPPER ?? null },
      handover: { publicBaseUrl: this.config.PUBLIC_BASE_URL },
      now: () => Date.now(),
    };
    this.graph = buildGraph(deps, this.checkpointer);
  }

  /** Builds this replica may still start (adoption fills only this; commands have their own limit). */
  capacity(): number {
    return this.shutdown ? 0 : this.config.BUILD_CONCURRENCY - this.drives.size - this.starting;
  }

  /**
   * Drives the session's build from its last checkpoint to the end, unless another driver holds it or there
   * is nothing left to do. Rejects only on infrastructure failures (Postgres, NATS); the session then stays
   * as it is and is adopted again later.
   */
  async drive(sessionId: string, trigger: DriveTrigger): Promise<DriveOutcome> {
    if (this.shutdown) return 'stopped';
    if (this.drives.has(sessionId)) return 'busy';
    this.starting++;
    let lease;
    try {
      lease = await this.leases.tryAcquire(sessionId);
    } finally {
      this.starting--;
    }
    if (!lease) return 'busy';
    const drive = new Drive(sessionId, lease);
    this.drives.set(sessionId, drive);
    lease.onLost(() => drive.abort('the connection holding the session lock ended'));
    if (this.shutdown) drive.stop('the orchestrator is shutting down');
    const run = this.run(drive, trigger);
    this.running.add(run);
    try {
      return await run;
    } catch (error) {
      if (drive.stopping !== null) {
        this.logger.log(`session ${sessionId}: stopped (${drive.stopping}); it resumes from its checkpoint`);
        return 'stopped';
      }
      const message = redactText(errorMessage(error));
      this.logger.error(`session ${sessionId}: the run ended early, it will be resumed: ${message}`);
      await this.sessions.recordError(sessionId, message.slice(0, 2000)).catch(() => undefined);
      throw error;
    } finally {
      this.running.delete(run);
      this.drives.delete(sessionId);
      await lease.release();
    }
  }

  /** Records a cancel request and, when no live driver holds the session, drives it to `canceled` here. */
  async cancel(sessionId: string): Promise<DriveOutcome | 'nothing_to_cancel'> {
    if (!(await this.sessions.requestCancel(sessionId))) return 'nothing_to_cancel';
    this.logger.log(`session ${sessionId}: cancel requested`);
    return this.drive(sessionId, 'cancel');
  }

  /**
   * Tears a deleted (`owner`) or expired demo session's environment down for good (issue 12), keeping its row
   * and events. A build still going is canceled first and driven to its end here (its cancel removes the
   * environment as usual); then, holding the session's lease so that no driver runs beside it, the provisioner's
   * idempotent `delete_environment` makes sure the environment is gone, and `environment_deleted` or
   * `environment_expired` is emitted once (a derived event id). Every step may run again after a crash.
   * `busy` / `stopped`: another driver holds the session, or this process is stopping; the command comes back.
   */
  async teardown(sessionId: string, reason: DeletionReason): Promise<TeardownOutcome> {
    const marked = await this.sessions.markDeleted(sessionId, reason);
    if (!marked) return 'unknown';
    if (marked.completed) return 'already_done';
    if (!marked.graphEnded) {
      if (await this.sessions.requestCancel(sessionId)) {
        this.logger.log(`session ${sessionId}: canceling its build before the environment is torn down`);
      }
      const outcome = await this.drive(sessionId, 'cancel');
      if (outcome === 'busy' || outcome === 'stopped') return outcome;
    }
    if (this.shutdown) return 'stopped';
    const lease = await this.leases.tryAcquire(sessionId);
    if (!lease) return 'busy';
    try {
      const state = await this.sessions.teardownState(sessionId);
      if (!state || state.completed) return 'already_done';
      if (!state.graphEnded) return 'busy';
      const removal = await this.provisioner.call(sessionId, 'environment:teardown', {
        tool: 'delete_environment',
        environmentRef: state.environment?.ref ?? null,
      });
      await this.sessions.markEnvironmentRemoved(sessionId);
      const environment = state.environment?.ref ?? (removal.deleted ? removal.ref : null);
      const what = environment
        ? removal.deleted
          ? `environment ${environment} removed`
          : `environment ${environment} was already gone`
        : 'the build had no environment';
      const canceled = state.canceledForDeletion ? ' after its build was canceled' : '';
      const common = { environment, removed: removal.deleted, buildCanceled: state.canceledForDeletion };
      if ((state.reason ?? reason) === 'expired') {
        const ttlSeconds = this.config.DEMO_ENVIRONMENT_TTL_SECONDS;
        const expiredAt = new Date(state.createdAt.getTime() + ttlSeconds * 1000).toISOString();
        await this.events.emit(
          sessionId,
          'environment_expired',
          'teardown',
          `Demo environment expired (${ttlSeconds} s after it was created): ${what}${canceled}; the session and its events are kept`,
          { ...common, ttlSeconds, expiredAt },
        );
      } else {
        await this.events.emit(
          sessionId,
          'environment_deleted',
          'teardown',
          `Session deleted by its owner: ${what}${canceled}; the session and its events are kept`,
          common,
        );
      }
      await this.sessions.markTeardownCompleted(sessionId);
      this.logger.log(`session ${sessionId}: torn down (${state.reason ?? reason}): ${what}`);
      return 'completed';
    } finally {
      await lease.release();
    }
  }

  /**
   * Graceful shutdown: no new drives; running ones stop at their next node boundary (after its
   * checkpoint); those still inside a node after SHUTDOWN_GRACE_MS are aborted there. Resolves when every
   * drive has ended and released its session.
   */
  stopAll(): Promise<void> {
    this.shutdown ??= (async () => {
      for (const drive of this.drives.values()) drive.stop('the orchestrator is shutting down');
      const grace = setTimeout(() => {
        for (const drive of this.drives.values()) drive.abort('the shutdown grace period ended');
      }, this.config.SHUTDOWN_GRACE_MS);
      try {
        while (this.running.size > 0 || this.starting > 0) {
          await Promise.allSettled([...this.running]);
          if (this.starting > 0) await new Promise((resolve) => setTimeout(resolve, 10));
        }
      } finally {
        clearTimeout(grace);
        await this.leases.close();
      }
    })();
    return this.shutdown;
  }

  private async run(drive: Drive, trigger: DriveTrigger): Promise<DriveOutcome> {
    const { sessionId } = drive;
    const session = await this.sessions.load(sessionId);
    if (!session) {
      this.logger.log(`session ${sessionId}: unknown, nothing to build`);
      return 'unknown';
    }
    if (session.graphEnded) return 'finished';
    const thread = { configurable: { thread_id: sessionId } };
    const checkpoint = await this.checkpointer.getTuple(thread);
    const next = checkpoint ? (await this.graph.getState(thread)).next : [];
    const final = FINAL_STATUSES.has(session.status);
    if (checkpoint && next.length === 0) {
      // The graph ended, but the process died before it said so. Its last node records the final status
      // before the graph can end, so a status that is not final here is a bug: say so rather than hang.
      if (!final) {
        const error = 'the build graph ended without recording a result';
        await this.sessions.finish(sessionId, { status: 'failed', error });
        await this.events.emit(sessionId, 'build_failed', 'final', `Build failed: ${error}`, {
          step: 'orchestrator',
          error,
        });
      }
      await this.sessions.markGraphEnded(sessionId);
      return 'finished';
    }
    if (final && !checkpoint) {
      // Finished before checkpoints existed, or by an older orchestrator: nothing to resume.
      await this.sessions.markGraphEnded(sessionId);
      return 'finished';
    }
    if (!final && session.attempts >= this.config.MAX_BUILD_ATTEMPTS) {
      await this.abandon(session);
      return 'completed';
    }
    const attempt = final ? session.attempts : await this.sessions.startAttempt(sessionId, this.driver);
    this.logger.log(
      checkpoint
        ? `session ${sessionId}: resuming at ${next.join(', ')} from its checkpoint (attempt ${attempt}, ${trigger})`
        : `session ${sessionId}: building ${session.template} (attempt ${attempt}, ${trigger})`,
    );
    const input = checkpoint
      ? null
      : {
          sessionId,
          template: session.template,
          vibeText: session.vibeText,
          options: session.options,
          startedAt: Date.now(),
        };
    try {
      const result = await this.graph.invoke(input, {
        ...thread,
        // Each checkpoint is written before the next node starts (DESIGN.md §4).
        durability: 'sync',
        control: drive.runControl,
        signal: drive.abortController.signal,
      });
      const outcome = result.canceledAt
        ? `canceled before ${result.canceledAt}`
        : result.failure
          ? `failed at ${result.failure.step}: ${redactText(result.failure.message)}`
          : 'succeeded';
      this.logger.log(`session ${sessionId}: ${outcome}`);
      metrics.buildDuration.observe(
        {
          template: session.template,
          outcome: result.canceledAt ? 'canceled' : result.failure ? 'failed' : 'succeeded',
        },
        (Date.now() - result.startedAt) / 1000,
      );
    } catch (error) {
      if (isGraphDrained(error) || error instanceof DriveStoppedError || drive.abortController.signal.aborted) {
        drive.stop(drive.stopping ?? 'stopped');
      }
      throw error;
    }
    await this.sessions.markGraphEnded(sessionId);
    return 'completed';
  }

  /**
   * A build that was started MAX_BUILD_ATTEMPTS times and never finished (it keeps crashing its driver, or
   * its bookkeeping keeps failing) is failed with the reason, and its environment is removed.
   */
  private async abandon(session: SessionToDrive): Promise<void> {
    const error =
      `gave up after ${session.attempts} attempt(s) to run the build; last error: ` +
      (session.lastError ?? 'none recorded (its drivers stopped or crashed)');
    this.logger.warn(`session ${session.id}: ${error}`);
    let removed = 'its environment stays marked for removal';
    try {
      const { ref } = await this.provisioner.call(session.id, 'environment:delete', {
        tool: 'delete_environment',
        environmentRef: session.environment?.ref ?? null,
      });
      await this.sessions.markEnvironmentRemoved(session.id);
      removed = `removed environment ${ref}`;
    } catch (cause) {
      this.logger.warn(`session ${session.id}: ${removed}: ${redactText(errorMessage(cause))}`);
    }
    await this.sessions.finish(session.id, { status: 'failed', error });
    await this.events.emit(session.id, 'build_failed', 'final', `Build failed: ${error}; ${removed}`, {
      step: 'orchestrator',
      error,
    });
    await this.events.presence(session.id, 'finalize', 1, null);
    await this.sessions.markGraphEnded(session.id);
  }

  /** The graph's view of its driver: stop, cancel and the test pause, at every node boundary. */
  private control(): DriveControlPort {
    const pauseAt = new Set<GraphNodeName>(this.config.VIBE_TEST_PAUSE_AT_NODE);
    return {
      enterStep: async (sessionId, step) => {
        const drive = this.drives.get(sessionId);
        if (drive?.stopping) throw new DriveStoppedError(drive.stopping);
        const cancel = await this.sessions.cancelRequested(sessionId);
        if (!cancel && pauseAt.has(step)) {
          // TEST HOOK (VIBE_TEST_PAUSE_AT_NODE): the marker line is what a test waits for.
          process.stdout.write(`VIBE_TEST_PAUSED node=${step} session=${sessionId}\n`);
          await (drive ? drive.sleep(this.config.VIBE_TEST_PAUSE_MS) : sleep(this.config.VIBE_TEST_PAUSE_MS));
        }
        return cancel ? 'cancel' : 'run';
      },
      sleep: (sessionId, ms) => this.drives.get(sessionId)?.sleep(ms) ?? sleep(ms),
      isTransient: isTransientError,
      retrying: (sessionId, step, attempt, delayMs, error) =>
        this.logger.warn(
          `session ${sessionId}: ${step} attempt ${attempt} failed, retried in ${delayMs} ms: ${redactText(errorMessage(error))}`,
        ),
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
