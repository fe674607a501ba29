import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { stableId, type DeleteSession } from '@vibe/contracts';
import { JETSTREAM, PG_POOL, publishJson, type JetStreamContext, type Pool } from '@vibe/platform';
import { ORCHESTRATOR_CONFIG, type OrchestratorConfig } from '../config.js';
import { Periodic } from './periodic.js';
import { SessionsRepository, type DeletionReason } from './sessions.repository.js';

/** Sessions claimed (or teardowns sent again) per sweep; the next sweep takes the rest. */
const SWEEP_BATCH = 50;

/**
 * Demo environments expire (issue 12): every DEMO_SWEEP_INTERVAL_MS, and at start, each replica claims demo
 * sessions older than DEMO_ENVIRONMENT_TTL_SECONDS (`for update skip locked`, so every expired session is
 * claimed by exactly one replica however many sweep at once), marks them expired and queues their teardown as a
 * `delete` build command, which an orchestrator carries out like an owner's delete. Teardowns still unfinished
 * TEARDOWN_RESEND_AFTER_MS after they were asked for (a lost command, a refusal) are sent again; a resend carries
 * a message id per resend period, so replicas sending the same one in one period are deduplicated by JetStream.
 */
@Injectable()
export class DemoSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DemoSweeper');
  private readonly sessions: SessionsRepository;
  private readonly periodic: Periodic;

  constructor(
    @Inject(PG_POOL) pool: Pool,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(ORCHESTRATOR_CONFIG) private readonly config: OrchestratorConfig,
  ) {
    this.sessions = new SessionsRepository(pool);
    this.periodic = new Periodic('demo sweep', this.config.DEMO_SWEEP_INTERVAL_MS, () => this.sweep(), this.logger);
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  /** One sweep: claim and queue expired demos, then send again teardowns that did not finish. */
  async sweep(): Promise<void> {
    const expired = await this.sessions.claimExpiredDemos(this.config.DEMO_ENVIRONMENT_TTL_SECONDS, SWEEP_BATCH);
    for (const sessionId of expired) {
      this.logger.log(`session ${sessionId}: demo environment expired, teardown queued`);
      // Claimed and not sent (NATS down): the resend below picks it up once TEARDOWN_RESEND_AFTER_MS has passed.
      await this.send(sessionId, 'expired', stableId(sessionId, 'delete'));
    }
    const period = Math.floor(Date.now() / this.config.TEARDOWN_RESEND_AFTER_MS);
    for (const { id, reason } of await this.sessions.staleTeardowns(
      this.config.TEARDOWN_RESEND_AFTER_MS,
      SWEEP_BATCH,
    )) {
      this.logger.warn(`session ${id}: teardown (${reason}) unfinished, sent again`);
      await this.send(id, reason, `${stableId(id, 'delete')}.resend.${period}`);
    }
  }

  private async send(sessionId: string, reason: DeletionReason, msgId: string): Promise<void> {
    const command: DeleteSession = {
      kind: 'delete',
      version: 1,
      commandId: stableId(sessionId, 'delete'),
      sessionId,
      reason,
    };
    await publishJson(this.jetstream, this.jetstream.topology.subjects.buildCommand('delete'), command, msgId);
  }
}
