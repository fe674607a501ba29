import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { stableId, type ScheduledDriftCheck } from '@vibe/contracts';
import { JETSTREAM, publishJson, redactText, type JetStreamContext } from '@vibe/platform';
import { SENTINEL_CONFIG, type SentinelConfig } from '../config.js';
import { AlertsRepository } from './alerts.repository.js';
import { jitter, parseSchedule, roundOf, type Schedule } from './schedule.js';
import { SessionsRepository } from './sessions.repository.js';

/**
 * The schedule (spec §10.1's "external scheduler"): at every tick of `DRIFT_SCHEDULE`, after a random jitter,
 * each replica publishes one job per live environment of the sessions that asked for the sentinel. A job's
 * Nats-Msg-Id derives from the session and the round, so JetStream keeps one per environment and round
 * however many replicas publish it; the work queue hands each to one replica, and the round's claim in
 * `drift_checks` makes sure it is checked once even if a job were delivered twice.
 */
@Injectable()
export class ChecksScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DriftSchedule');
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    @Inject(SENTINEL_CONFIG) private readonly config: SentinelConfig,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(SessionsRepository) private readonly sessions: SessionsRepository,
    @Inject(AlertsRepository) private readonly alerts: AlertsRepository,
  ) {}

  onApplicationBootstrap(): void {
    const expression = this.config.DRIFT_SCHEDULE;
    const schedule = expression === 'off' ? null : parseSchedule(expression);
    if (!schedule) {
      this.logger.log('scheduled drift checks are off (DRIFT_SCHEDULE=off); checks run on request only');
      return;
    }
    this.logger.log(
      `drift checks on schedule "${expression}" (UTC), up to ${this.config.DRIFT_JITTER_MS} ms of jitter per round`,
    );
    this.plan(schedule, new Date());
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private plan(schedule: Schedule, after: Date): void {
    if (this.stopped) return;
    const tick = schedule.next(after);
    if (!tick) return;
    const delay = Math.max(0, tick.getTime() - Date.now()) + jitter(this.config.DRIFT_JITTER_MS);
    this.timer = setTimeout(() => {
      void this.publishRound(tick)
        .then(async (count) => {
          this.logger.log(`round ${roundOf(tick)}: ${count} environment(s) to check`);
          await this.alerts.pruneChecks(this.config.DRIFT_CHECK_RETENTION_DAYS);
        })
        .catch((error: unknown) => {
          this.logger.warn(
            `round ${roundOf(tick)} not published: ${redactText(error instanceof Error ? error.message : String(error))}`,
          );
        })
        .finally(() => this.plan(schedule, tick));
    }, delay);
  }

  /** Publishes the round's jobs; returns how many environments it covers. */
  async publishRound(tick: Date): Promise<number> {
    const round = roundOf(tick);
    const sessionIds = await this.sessions.scheduled();
    await Promise.all(
      sessionIds.map((sessionId) => {
        const job: ScheduledDriftCheck = {
          kind: 'scheduled',
          version: 1,
          jobId: stableId(sessionId, `drift-round:${round}`),
          sessionId,
          round,
        };
        return publishJson(this.jetstream, this.jetstream.topology.subjects.driftCheck('scheduled'), job, job.jobId);
      }),
    );
    return sessionIds.length;
  }
}
