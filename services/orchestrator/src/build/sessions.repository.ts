import {
  BuildOptions,
  SessionStatus,
  Template,
  type BuildOutputs,
  type EnvironmentInfo,
  type Plan,
} from '@vibe/contracts';
import { pgErrorCode, type Pool } from '@vibe/platform';
import type { SessionStorePort } from '../graph/ports.js';
import { SESSION_LOCK_CLASS } from './session-lease.js';

export interface SessionToDrive {
  id: string;
  status: SessionStatus;
  template: Template;
  vibeText: string;
  options: BuildOptions;
  attempts: number;
  lastError: string | null;
  graphEnded: boolean;
  environment: EnvironmentInfo | null;
}

export type DeletionReason = 'owner' | 'expired';

/** Where the teardown of a deleted (or expired) session stands (migration 0006). */
export interface TeardownState {
  status: SessionStatus;
  graphEnded: boolean;
  environment: EnvironmentInfo | null;
  /** The reason recorded first; null when the session is not deleted. */
  reason: DeletionReason | null;
  deletedAt: Date | null;
  createdAt: Date;
  /** The environment is gone and the teardown's event was emitted. */
  completed: boolean;
  /** The build was still going when the deletion came, and was canceled for it. */
  canceledForDeletion: boolean;
}

export const FINAL_STATUSES: ReadonlySet<SessionStatus> = new Set(['succeeded', 'failed', 'canceled']);

/**
 * The orchestrator's columns of `build_sessions` (DESIGN.md §1): status, plan, environment, outputs, error,
 * and the durability columns of migration 0003.
 */
export class SessionsRepository implements SessionStorePort {
  constructor(private readonly pool: Pool) {}

  /** Fails at boot, with what to do, when the control plane lacks the columns of migration 0003. */
  async assertReady(): Promise<void> {
    try {
      await this.pool.query('select graph_ended_at, cancel_requested_at, attempts from public.build_sessions limit 0');
    } catch (error) {
      if (pgErrorCode(error) !== '42703' && pgErrorCode(error) !== '42P01') throw error;
      throw new Error(
        'the control plane lacks the build_sessions columns of migration 0003: apply the control-plane migrations (npm run db:migrate)',
      );
    }
    try {
      await this.pool.query(
        'select deleted_at, deletion_reason, teardown_completed_at from public.build_sessions limit 0',
      );
    } catch (error) {
      if (pgErrorCode(error) !== '42703') throw error;
      throw new Error(
        'the control plane lacks the build_sessions columns of migration 0006: apply the control-plane migrations (npm run db:migrate)',
      );
    }
  }

  async load(sessionId: string): Promise<SessionToDrive | null> {
    const { rows } = await this.pool.query<{
      id: string;
      status: string;
      template: string;
      vibe_text: string;
      options: unknown;
      attempts: number;
      last_error: string | null;
      graph_ended: boolean;
      environment: unknown;
    }>(
      `select id, status, template, vibe_text, options, attempts, last_error,
         graph_ended_at is not null as graph_ended, environment
       from public.build_sessions where id = $1`,
      [sessionId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      status: SessionStatus.parse(row.status),
      template: Template.parse(row.template),
      vibeText: row.vibe_text,
      options: BuildOptions.parse(row.options ?? {}),
      attempts: row.attempts,
      lastError: row.last_error,
      graphEnded: row.graph_ended,
      environment: (row.environment as EnvironmentInfo | null) ?? null,
    };
  }

  /** A driver starts (or resumes) the build: running, one more attempt, and who drives it. */
  async startAttempt(sessionId: string, driver: string): Promise<number> {
    const { rows } = await this.pool.query<{ attempts: number }>(
      `update public.build_sessions
       set status = 'running', attempts = attempts + 1, driver = $2
       where id = $1 and status in ('queued', 'running')
       returning attempts`,
      [sessionId, driver],
    );
    return rows[0]?.attempts ?? 0;
  }

  /** The build graph reached its end: nothing is left to resume. */
  async markGraphEnded(sessionId: string): Promise<void> {
    await this.pool.query(
      'update public.build_sessions set graph_ended_at = coalesce(graph_ended_at, now()) where id = $1',
      [sessionId],
    );
  }

  async recordError(sessionId: string, error: string): Promise<void> {
    await this.pool.query('update public.build_sessions set last_error = $2 where id = $1', [sessionId, error]);
  }

  /**
   * Records a cancel request; false when there is nothing to cancel (unknown, or already finished).
   * Repeating it keeps the first request's time.
   */
  async requestCancel(sessionId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update public.build_sessions
       set cancel_requested_at = coalesce(cancel_requested_at, now())
       where id = $1 and status in ('queued', 'running') and graph_ended_at is null`,
      [sessionId],
    );
    return rowCount === 1;
  }

  async cancelRequested(sessionId: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ requested: boolean }>(
      'select cancel_requested_at is not null as requested from public.build_sessions where id = $1',
      [sessionId],
    );
    return rows[0]?.requested === true;
  }

  /**
   * Sessions with work left that no live driver holds (DESIGN.md §4): `running` ones (their driver died or
   * stopped), `queued` ones older than `queuedAfterMs` (their start command was lost), and final ones whose
   * graph did not reach its end (the process died between the status and the final event). A session whose
   * lease is held is skipped here; the caller's own try-lock settles any race.
   */
  async adoptable(queuedAfterMs: number, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `select s.id from public.build_sessions s
       where s.graph_ended_at is null
         and (s.status <> 'queued' or s.updated_at < now() - make_interval(secs => $1::double precision / 1000))
         and not exists (
           select 1 from pg_catalog.pg_locks l
           where l.locktype = 'advisory'
             and l.database = (select oid from pg_catalog.pg_database where datname = current_database())
             and l.classid = $2::oid
             and l.objid = hashtext(s.id::text)::oid
             and l.objsubid = 2
         )
       order by s.updated_at
       limit $3`,
      [queuedAfterMs, SESSION_LOCK_CLASS, limit],
    );
    return rows.map((row) => row.id);
  }

  async savePlan(sessionId: string, plan: Plan): Promise<void> {
    await this.pool.query('update build_sessions set plan = $2 where id = $1', [sessionId, JSON.stringify(plan)]);
  }

  async saveEnvironment(sessionId: string, environment: EnvironmentInfo): Promise<void> {
    await this.pool.query('update build_sessions set environment = $2 where id = $1', [
      sessionId,
      JSON.stringify(environment),
    ]);
  }

  /** The first final status wins: a node run again after a crash does not overwrite it. */
  async finish(
    sessionId: string,
    result:
      { status: 'succeeded'; outputs: BuildOutputs } | { status: 'failed'; error: string } | { status: 'canceled' },
  ): Promise<void> {
    const [outputs, error] =
      result.status === 'succeeded'
        ? [JSON.stringify(result.outputs), null]
        : result.status === 'failed'
          ? [null, result.error]
          : [null, null];
    await this.pool.query(
      `update build_sessions set status = $2, outputs = coalesce($3::jsonb, outputs), error = $4
       where id = $1 and status in ('queued', 'running')`,
      [sessionId, result.status, outputs, error],
    );
  }

  /**
   * Records that the session is deleted (`owner`) or expired, unless it already is (the first reason and time
   * win), and returns where its teardown stands; null for an unknown session.
   */
  async markDeleted(sessionId: string, reason: DeletionReason): Promise<TeardownState | null> {
    await this.pool.query(
      `update public.build_sessions set deleted_at = now(), deletion_reason = $2
       where id = $1 and deleted_at is null`,
      [sessionId, reason],
    );
    return this.teardownState(sessionId);
  }

  async teardownState(sessionId: string): Promise<TeardownState | null> {
    const { rows } = await this.pool.query<{
      status: string;
      graph_ended: boolean;
      environment: unknown;
      deletion_reason: DeletionReason | null;
      deleted_at: Date | null;
      created_at: Date;
      teardown_completed: boolean;
      canceled_for_deletion: boolean;
    }>(
      `select status, graph_ended_at is not null as graph_ended, environment, deletion_reason, deleted_at,
         created_at, teardown_completed_at is not null as teardown_completed,
         (status = 'canceled' and cancel_requested_at is not null and cancel_requested_at >= deleted_at)
           is true as canceled_for_deletion
       from public.build_sessions where id = $1`,
      [sessionId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      status: SessionStatus.parse(row.status),
      graphEnded: row.graph_ended,
      environment: (row.environment as EnvironmentInfo | null) ?? null,
      reason: row.deletion_reason,
      deletedAt: row.deleted_at,
      createdAt: row.created_at,
      completed: row.teardown_completed,
      canceledForDeletion: row.canceled_for_deletion,
    };
  }

  async markTeardownCompleted(sessionId: string): Promise<void> {
    await this.pool.query(
      `update public.build_sessions set teardown_completed_at = coalesce(teardown_completed_at, now())
       where id = $1 and deleted_at is not null`,
      [sessionId],
    );
  }

  /**
   * The demo sweeper's claim (safe with several replicas): marks up to `limit` demo sessions older than the TTL
   * as expired, each by exactly one replica (`for update skip locked`), and returns their ids.
   */
  async claimExpiredDemos(ttlSeconds: number, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `with due as (
         select id from public.build_sessions
         where deleted_at is null and (options ->> 'demo') = 'true'
           and created_at < now() - make_interval(secs => $1::double precision)
         order by created_at
         limit $2
         for update skip locked
       )
       update public.build_sessions s set deleted_at = now(), deletion_reason = 'expired'
       from due where s.id = due.id
       returning s.id`,
      [ttlSeconds, limit],
    );
    return rows.map((row) => row.id);
  }

  /** Deleted sessions whose teardown has not ended `staleMs` after it was asked for (its command was lost). */
  async staleTeardowns(staleMs: number, limit: number): Promise<Array<{ id: string; reason: DeletionReason }>> {
    const { rows } = await this.pool.query<{ id: string; reason: DeletionReason }>(
      `select id, deletion_reason as reason from public.build_sessions
       where deleted_at is not null and teardown_completed_at is null
         and deleted_at < now() - make_interval(secs => $1::double precision / 1000)
       order by deleted_at
       limit $2`,
      [staleMs, limit],
    );
    return rows;
  }

  async shareToken(sessionId: string): Promise<string> {
    const { rows } = await this.pool.query<{ share_token: string }>(
      'select share_token from public.build_sessions where id = $1',
      [sessionId],
    );
    const token = rows[0]?.share_token;
    if (!token) throw new Error(`session ${sessionId} has no share token`);
    return token;
  }

  async markEnvironmentRemoved(sessionId: string): Promise<void> {
    await this.pool.query(
      'update build_sessions set environment_removed_at = coalesce(environment_removed_at, now()) where id = $1',
      [sessionId],
    );
  }
}
