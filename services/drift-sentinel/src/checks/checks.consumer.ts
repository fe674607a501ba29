import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { DriftCheckResult, RequestedDriftCheck, ScheduledDriftCheck, type DriftCheckErrorCode } from '@vibe/contracts';
import {
  ACK,
  backoff,
  consumeDurable,
  decodeJson,
  isTransientPgError,
  JETSTREAM,
  ProvisionError,
  publishJson,
  redactText,
  type ConsumeLoop,
  type Disposition,
  type JetStreamContext,
} from '@vibe/platform';
import { z } from 'zod';
import { SENTINEL_CONFIG, type SentinelConfig } from '../config.js';
import { loadSqlParser } from '../drift/expression.js';
import { DriftCheckService, type CheckOutcome } from './drift-check.service.js';

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isTransient(error: unknown): boolean {
  return error instanceof ProvisionError ? error.transient : isTransientPgError(error);
}

/**
 * JetStream entry of drift checks (DESIGN.md §2): scheduled jobs and on-demand requests, each from its own
 * durable consumer on the `DRIFT_CHECKS` work queue, shared by every replica. Parsed at the edge. A request
 * is answered on `res.drift.<requestId>`, whatever happened.
 */
@Injectable()
export class ChecksConsumer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('DriftChecks');
  private loops: ConsumeLoop[] = [];

  constructor(
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(DriftCheckService) private readonly checks: DriftCheckService,
    @Inject(SENTINEL_CONFIG) private readonly config: SentinelConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    // The diff compares SQL expressions with Postgres' parser: loaded before the first check.
    await loadSqlParser();
    const { streams, consumers } = this.jetstream.topology;
    const onError = (error: unknown) => this.logger.error(`consume loop: ${redactText(message(error))}`);
    this.loops = [
      consumeDurable(this.jetstream, streams.driftChecks, consumers.driftScheduled, (msg) => this.scheduled(msg), {
        concurrency: this.config.DRIFT_CONCURRENCY,
        onError,
      }),
      consumeDurable(this.jetstream, streams.driftChecks, consumers.driftRequests, (msg) => this.requested(msg), {
        concurrency: this.config.DRIFT_CONCURRENCY,
        onError,
      }),
    ];
  }

  /** Stops taking checks before the connections close. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.loops.map((loop) => loop.stop()));
    this.loops = [];
  }

  async scheduled(msg: JsMsg): Promise<Disposition> {
    const job = ScheduledDriftCheck.safeParse(this.decode(msg));
    if (!job.success) return this.poison(msg, `invalid scheduled drift check: ${z.prettifyError(job.error)}`);
    const { sessionId, round } = job.data;
    try {
      const outcome = await this.checks.check(sessionId, { kind: 'schedule', round });
      if (outcome.status === 'not_checkable')
        this.logger.log(`session ${sessionId} not checked in round ${round}: ${outcome.reason}`);
      return ACK;
    } catch (error) {
      const why = redactText(message(error));
      if (isTransient(error)) {
        // The claim was given back: the job comes back, and this round's check runs then (or the next round's).
        this.logger.warn(`session ${sessionId} round ${round}: check failed, retried: ${why}`);
        return { nak: backoff(msg.info.deliveryCount) };
      }
      // Doing the same again cannot help (an environment that is gone, a plan the renderer refuses): the
      // failure is recorded in drift_checks, and the next round tries again.
      this.logger.error(`session ${sessionId} round ${round}: check failed: ${why}`);
      return ACK;
    }
  }

  async requested(msg: JsMsg): Promise<Disposition> {
    const raw = this.decode(msg);
    const request = RequestedDriftCheck.safeParse(raw);
    if (!request.success) {
      const ids = z.object({ requestId: z.uuid(), sessionId: z.uuid() }).safeParse(raw);
      if (ids.success) await this.answerError(ids.data, 'failed', 'invalid drift check request', false);
      return this.poison(msg, `invalid drift check request: ${z.prettifyError(request.error)}`);
    }
    const ids = { requestId: request.data.requestId, sessionId: request.data.sessionId };
    let outcome: CheckOutcome;
    try {
      outcome = await this.checks.check(ids.sessionId, { kind: 'request' });
    } catch (error) {
      const why = redactText(message(error));
      this.logger.warn(`requested check of session ${ids.sessionId} failed: ${why}`);
      await this.answerError(ids, 'failed', `the drift check failed: ${why}`, isTransient(error));
      return ACK;
    }
    switch (outcome.status) {
      case 'checked':
        await this.answer({ version: 1, ...ids, ok: true, report: outcome.report });
        break;
      case 'not_found':
        await this.answerError(ids, 'not_found', `no session ${ids.sessionId}`, false);
        break;
      case 'not_checkable':
        await this.answerError(ids, 'not_checkable', outcome.reason, false);
        break;
      case 'skipped':
        await this.answerError(ids, 'not_checkable', `${outcome.reason} while it was being checked`, true);
        break;
      case 'claimed_elsewhere':
        // A requested check claims no round; this cannot happen, and is said plainly if it does.
        await this.answerError(ids, 'failed', 'the check was claimed by another check', true);
        break;
      default: {
        const unknown: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(unknown)}`);
      }
    }
    return ACK;
  }

  private decode(msg: JsMsg): unknown {
    try {
      return decodeJson(msg.data);
    } catch {
      return undefined;
    }
  }

  private async answer(result: DriftCheckResult): Promise<void> {
    const parsed = DriftCheckResult.parse(result);
    await publishJson(
      this.jetstream,
      this.jetstream.topology.subjects.driftResult(parsed.requestId),
      parsed,
      `drift-result:${parsed.requestId}`,
    );
  }

  private answerError(
    ids: { requestId: string; sessionId: string },
    code: DriftCheckErrorCode,
    text: string,
    transient: boolean,
  ): Promise<void> {
    return this.answer({ version: 1, ...ids, ok: false, error: { code, message: text, transient } });
  }

  private poison(msg: JsMsg, reason: string): Disposition {
    const why = redactText(reason).replace(/\s+/g, ' ').slice(0, 500);
    this.logger.warn(`terminated the message ${msg.seq} on ${msg.subject}: ${why}`);
    return { term: why.slice(0, 200) };
  }
}
