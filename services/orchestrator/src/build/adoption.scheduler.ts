import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { PG_POOL, redactText, type Pool } from '@vibe/platform';
import { ORCHESTRATOR_CONFIG, type OrchestratorConfig } from '../config.js';
import { errorMessage } from '../graph/step.js';
import { BuildService } from './build.service.js';
import { Periodic } from './periodic.js';
import { SessionsRepository } from './sessions.repository.js';

/**
 * No session stays `queued` or `running` forever (DESIGN.md §4): at start and every ADOPT_INTERVAL_MS this
 * replica looks for sessions with work left that no live driver holds, and drives them itself from their
 * checkpoint. Bounds with the defaults: a session whose driver died is adopted within ADOPT_INTERVAL_MS
 * (10 s) of Postgres noticing the driver's connection is gone (at once for a process that died, when the
 * TCP keepalive gives up for a machine that vanished); a queued session whose start command was lost
 * within ADOPT_QUEUED_AFTER_MS + ADOPT_INTERVAL_MS (20 s).
 */
@Injectable()
export class AdoptionScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Adoption');
  private readonly sessions: SessionsRepository;
  private readonly periodic: Periodic;

  constructor(
    @Inject(PG_POOL) pool: Pool,
    @Inject(ORCHESTRATOR_CONFIG) private readonly config: OrchestratorConfig,
    private readonly builds: BuildService,
  ) {
    this.sessions = new SessionsRepository(pool);
    this.periodic = new Periodic('adoption scan', this.config.ADOPT_INTERVAL_MS, () => this.scan(), this.logger);
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.periodic.stop();
  }

  private async scan(): Promise<void> {
    const capacity = this.builds.capacity();
    if (capacity <= 0) return;
    const candidates = await this.sessions.adoptable(this.config.ADOPT_QUEUED_AFTER_MS, capacity);
    for (const sessionId of candidates) {
      if (this.builds.capacity() <= 0) break;
      // Not awaited: a scan starts drives, it does not wait for builds to end.
      void this.builds.drive(sessionId, 'adoption').then(
        (outcome) => {
          if (outcome === 'completed') this.logger.log(`session ${sessionId}: adopted and driven to its end`);
        },
        (error: unknown) =>
          this.logger.warn(`session ${sessionId}: adoption failed, retried later: ${redactText(errorMessage(error))}`),
      );
    }
  }
}
