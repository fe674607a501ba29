import { hostname } from 'node:os';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { newId, stableId, type DriftReport } from '@vibe/contracts';
import { JETSTREAM, publishEvent, redactText, type JetStreamContext } from '@vibe/platform';
import { diff } from '../drift/diff.js';
import { fingerprint } from '../drift/fingerprint.js';
import { AlertsRepository, type CheckTrigger, type RecordedFinding } from './alerts.repository.js';
import { EnvironmentInspector } from './environment.inspector.js';
import { notCheckable, SessionsRepository } from './sessions.repository.js';
import { SpecChunksExplainer } from './spec-chunks.explainer.js';

/** This process, as `drift_checks.worker` records it. */
export const WORKER = `${hostname()}:${process.pid}`;

/** Checks that started later and recorded first make this one look again, at most this often. */
const MAX_LOOKS = 3;

export type CheckOutcome =
  | { status: 'checked'; report: DriftReport }
  | { status: 'not_found' }
  | { status: 'not_checkable'; reason: string }
  /** Another replica has this environment's check of the round. */
  | { status: 'claimed_elsewhere' }
  /** The session changed while it was being looked at (a build started): nothing is reported. */
  | { status: 'skipped'; reason: string };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One drift check of one environment (spec §10.1): load the session, claim the check, look through the
 * provisioner, make sure no build started meanwhile, diff against the plan, explain each finding with its
 * nearest spec chunk, record alerts (open, seen again, resolved), then emit `drift_detected` for each new
 * alert. The decisions are the pure `diff`; this is the shell around it.
 */
@Injectable()
export class DriftCheckService {
  private readonly logger = new Logger('DriftCheck');

  constructor(
    @Inject(SessionsRepository) private readonly sessions: SessionsRepository,
    @Inject(AlertsRepository) private readonly alerts: AlertsRepository,
    @Inject(EnvironmentInspector) private readonly inspector: EnvironmentInspector,
    @Inject(SpecChunksExplainer) private readonly explainer: SpecChunksExplainer,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
  ) {}

  async check(sessionId: string, trigger: CheckTrigger): Promise<CheckOutcome> {
    const session = await this.sessions.find(sessionId);
    if (!session) return { status: 'not_found' };
    const problem =
      notCheckable(session) ??
      (trigger.kind === 'schedule' && !session.driftEnabled ? 'the drift sentinel is not enabled for it' : null);
    if (problem) return { status: 'not_checkable', reason: problem };
    const plan = session.plan!;
    const environmentRef = session.environmentRef!;

    const checkId = newId();
    const startedAt = new Date();
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    if (!(await this.alerts.start(checkId, sessionId, trigger, WORKER))) return { status: 'claimed_elsewhere' };

    try {
      for (let look = 1; look <= MAX_LOOKS; look++) {
        const observed = await this.inspector.observe(sessionId, environmentRef, `${checkId}:${look}`);
        const now = await this.sessions.find(sessionId);
        const changed = !now
          ? 'the session is gone'
          : now.version !== session.version
            ? 'the session changed'
            : notCheckable(now);
        if (changed) {
          await this.alerts.finish(checkId, 'skipped', `${changed} while it was being checked`, elapsed());
          return { status: 'skipped', reason: changed };
        }

        const findings = diff(plan, observed, { deferred: session.deferred });
        const chunks = await this.explainer.explain(sessionId, findings);
        const recorded: RecordedFinding[] = findings.map((finding, i) => ({
          fingerprint: fingerprint(finding),
          severity: finding.severity,
          type: finding.type,
          resource: finding.resource,
          summary: finding.summary,
          rationale: finding.rationale,
          recommendation: finding.recommendation,
          lints: finding.lints,
          expected: finding.expected,
          observed: finding.observed,
          specChunk: chunks[i] ?? null,
        }));
        const outcome = await this.alerts.reconcile(checkId, sessionId, recorded, elapsed());
        if (!outcome.applied) continue;

        await this.publishAlerts(sessionId);
        const opened = outcome.alerts.filter((alert) => alert.new).length;
        if (opened || outcome.resolved.length) {
          this.logger.log(
            `session ${sessionId}: ${findings.length} drift finding(s), ${opened} new, ${outcome.resolved.length} resolved`,
          );
        }
        return {
          status: 'checked',
          report: {
            checkId,
            sessionId,
            environmentRef,
            startedAt: startedAt.toISOString(),
            durationMs: Math.round(elapsed()),
            findings: recorded.map((finding, i) => ({
              alertId: outcome.alerts[i]!.alertId,
              new: outcome.alerts[i]!.new,
              severity: finding.severity,
              type: finding.type,
              resource: finding.resource,
              summary: finding.summary,
              rationale: finding.rationale,
              recommendation: finding.recommendation,
              lints: finding.lints,
              specChunk: finding.specChunk,
            })),
            resolved: outcome.resolved,
          },
        };
      }
      throw new Error(`checks that started later recorded session ${sessionId} first, ${MAX_LOOKS} times in a row`);
    } catch (error) {
      await this.alerts.finish(checkId, 'failed', redactText(message(error)), elapsed()).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Emits `drift_detected` for the session's alerts not on the stream yet (this check's new ones, and any a
   * crash or a NATS outage left behind). The event id derives from the alert, so a repeat is a duplicate.
   */
  private async publishAlerts(sessionId: string): Promise<void> {
    try {
      const pending = await this.alerts.unpublished(sessionId);
      for (const alert of pending) {
        await publishEvent(this.jetstream, {
          id: stableId(sessionId, `drift_detected:${alert.id}`),
          sessionId,
          type: 'drift_detected',
          version: 1,
          ts: alert.ts.toISOString(),
          message: `${alert.severity} drift: ${alert.summary ?? `${alert.type} on ${alert.resource}`}`,
          payload: {
            severity: alert.severity,
            type: alert.type,
            resource: alert.resource,
            alertId: alert.id,
            specChunkId: alert.specChunkId,
            ...(alert.recommendation !== null && { recommendation: alert.recommendation }),
          },
        });
        await this.alerts.markPublished([alert.id]);
      }
    } catch (error) {
      // Recorded, not yet announced: the next check of the session publishes it.
      this.logger.warn(`drift_detected of session ${sessionId} published later: ${redactText(message(error))}`);
    }
  }
}
