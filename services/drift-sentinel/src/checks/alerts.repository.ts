import { Inject, Injectable } from '@nestjs/common';
import type { DriftFindingType, DriftSeverity, DriftSpecChunk } from '@vibe/contracts';
import { PG_POOL, withTransaction, type Pool } from '@vibe/platform';

/** Advisory-lock class of a session's alert reconciliation ("drft"): one check at a time writes a session's alerts. */
const RECONCILE_LOCK_CLASS = 0x64726674;

export type CheckTrigger = { kind: 'schedule'; round: string } | { kind: 'request' };

/** A finding ready to be recorded: what the diff found, its fingerprint and its spec chunk. */
export interface RecordedFinding {
  fingerprint: string;
  severity: DriftSeverity;
  type: DriftFindingType;
  resource: string;
  summary: string;
  rationale: string;
  recommendation: string;
  lints: string[];
  expected: unknown;
  observed: unknown;
  specChunk: DriftSpecChunk | null;
}

export interface ReconcileOutcome {
  /** False when a check that started later has already recorded the session: this one's view is older. */
  applied: boolean;
  /** One per finding, in order: its open alert and whether this check opened it. */
  alerts: Array<{ alertId: string; new: boolean }>;
  resolved: Array<{ alertId: string; type: DriftFindingType; resource: string }>;
}

export interface UnpublishedAlert {
  id: string;
  sessionId: string;
  ts: Date;
  severity: DriftSeverity;
  type: string;
  resource: string;
  summary: string | null;
  recommendation: string | null;
  specChunkId: string | null;
}

/** `drift_checks` and `drift_alerts`: the sentinel is their only writer (DESIGN.md §1). */
@Injectable()
export class AlertsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * Records a check as started. A scheduled check claims its (session, round): when another replica has
   * claimed it, nothing is inserted and false is returned. A requested check always starts.
   */
  async start(checkId: string, sessionId: string, trigger: CheckTrigger, worker: string): Promise<boolean> {
    const round = trigger.kind === 'schedule' ? trigger.round : null;
    const { rowCount } = await this.pool.query(
      `insert into public.drift_checks (id, session_id, round, trigger, worker)
       values ($1, $2, $3, $4, $5)
       on conflict (session_id, round) where round is not null do nothing`,
      [checkId, sessionId, round, trigger.kind, worker],
    );
    return rowCount === 1;
  }

  /** Ends a check that recorded no alerts (skipped, or failed). A failed one gives its round's claim back. */
  async finish(checkId: string, outcome: 'skipped' | 'failed', note: string, durationMs: number): Promise<void> {
    await this.pool.query(
      `update public.drift_checks
       set finished_at = now(), outcome = $2, duration_ms = $4,
         note = case when $2 = 'failed' and round is not null then 'round ' || round || ': ' || $3 else $3 end,
         round = case when $2 = 'failed' then null else round end
       where id = $1`,
      [checkId, outcome, note.slice(0, 1000), Math.round(durationMs)],
    );
  }

  /**
   * Records what a check found, under the session's lock: a finding with an open alert of its fingerprint
   * keeps that alert (seen again), a new one opens an alert, and open alerts whose drift was not found are
   * resolved. Not applied when a check that started after this one has already recorded the session.
   */
  async reconcile(
    checkId: string,
    sessionId: string,
    findings: RecordedFinding[],
    durationMs: number,
  ): Promise<ReconcileOutcome> {
    return withTransaction(this.pool, async (client) => {
      await client.query('select pg_advisory_xact_lock($1, hashtext($2))', [RECONCILE_LOCK_CLASS, sessionId]);
      const { rows: later } = await client.query(
        `select 1 from public.drift_checks mine
         join public.drift_checks other on other.session_id = mine.session_id
         where mine.id = $1 and other.id <> mine.id and other.outcome = 'checked' and other.started_at > mine.started_at
         limit 1`,
        [checkId],
      );
      if (later.length) return { applied: false, alerts: [], resolved: [] };

      const { rows: open } = await client.query<{ id: string; fingerprint: string }>(
        `select id, fingerprint from public.drift_alerts
         where session_id = $1 and status = 'open' and fingerprint is not null`,
        [sessionId],
      );
      const openByFingerprint = new Map(open.map((row) => [row.fingerprint, row.id]));
      const alerts: ReconcileOutcome['alerts'] = [];
      for (const finding of findings) {
        const existing = openByFingerprint.get(finding.fingerprint);
        if (existing) {
          alerts.push({ alertId: existing, new: false });
          continue;
        }
        const details = {
          lints: finding.lints,
          expected: finding.expected,
          observed: finding.observed,
          specChunk: finding.specChunk
            ? { method: finding.specChunk.method, similarity: finding.specChunk.similarity }
            : null,
        };
        const { rows } = await client.query<{ id: string }>(
          `insert into public.drift_alerts
             (session_id, severity, type, resource, spec_chunk_id, recommendation, status, last_seen_at,
              fingerprint, summary, rationale, details, check_id)
           values ($1, $2, $3, $4, $5, $6, 'open', now(), $7, $8, $9, $10, $11)
           returning id`,
          [
            sessionId,
            finding.severity,
            finding.type,
            finding.resource,
            finding.specChunk?.id ?? null,
            finding.recommendation,
            finding.fingerprint,
            finding.summary,
            finding.rationale,
            JSON.stringify(details),
            checkId,
          ],
        );
        const alertId = rows[0]!.id;
        openByFingerprint.set(finding.fingerprint, alertId);
        alerts.push({ alertId, new: true });
      }
      const seen = alerts.map((alert) => alert.alertId);
      await client.query(`update public.drift_alerts set last_seen_at = now() where id = any ($1::uuid[])`, [seen]);
      const { rows: resolved } = await client.query<{ id: string; type: DriftFindingType; resource: string }>(
        `update public.drift_alerts set status = 'resolved', resolved_at = now()
         where session_id = $1 and status = 'open' and fingerprint is not null and not (id = any ($2::uuid[]))
         returning id, type, resource`,
        [sessionId, seen],
      );
      await client.query(
        `update public.drift_checks
         set finished_at = now(), outcome = 'checked', findings = $2, opened = $3, resolved = $4, duration_ms = $5
         where id = $1`,
        [checkId, findings.length, alerts.filter((a) => a.new).length, resolved.length, Math.round(durationMs)],
      );
      return {
        applied: true,
        alerts,
        resolved: resolved.map((row) => ({ alertId: row.id, type: row.type, resource: row.resource })),
      };
    });
  }

  /** Removes the records of checks that started more than `days` ago; returns how many. */
  async pruneChecks(days: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      'delete from public.drift_checks where started_at < now() - make_interval(days => $1)',
      [days],
    );
    return rowCount ?? 0;
  }

  /** Alerts of the session whose drift_detected event is not on the stream yet (the outbox). */
  async unpublished(sessionId: string): Promise<UnpublishedAlert[]> {
    const { rows } = await this.pool.query<{
      id: string;
      session_id: string;
      ts: Date;
      severity: DriftSeverity;
      type: string;
      resource: string;
      summary: string | null;
      recommendation: string | null;
      spec_chunk_id: string | null;
    }>(
      `select id, session_id, ts, severity, type, resource, summary, recommendation, spec_chunk_id
       from public.drift_alerts where session_id = $1 and event_published_at is null
       order by ts, id`,
      [sessionId],
    );
    return rows.map((row) => ({
      id: row.id,
      sessionId: row.session_id,
      ts: row.ts,
      severity: row.severity,
      type: row.type,
      resource: row.resource,
      summary: row.summary,
      recommendation: row.recommendation,
      specChunkId: row.spec_chunk_id,
    }));
  }

  async markPublished(alertIds: string[]): Promise<void> {
    if (!alertIds.length) return;
    await this.pool.query(
      'update public.drift_alerts set event_published_at = coalesce(event_published_at, now()) where id = any ($1::uuid[])',
      [alertIds],
    );
  }
}
