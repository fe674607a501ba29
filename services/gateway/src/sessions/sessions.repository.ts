import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, withTransaction, type Pool } from '@vibe/platform';
import {
  type CreateSessionRequest,
  type SessionDeletion,
  type SessionList,
  type SessionStatus,
  type SessionView,
  type Template,
} from '@vibe/contracts';
import { encodeSessionCursor, type SessionCursor } from './session-cursor.js';

interface SessionRow {
  id: string;
  status: SessionStatus;
  template: Template;
  vibe_text: string;
  options: Record<string, unknown> | null;
  environment: Record<string, unknown> | null;
  outputs: Record<string, unknown> | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** `build_sessions`: the gateway creates rows and reads them; their later states belong to the orchestrator. */
@Injectable()
export class SessionsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * Inserts a queued session owned by `createdBy` and returns its id and share token (which only its creator is
   * told), unless the owner already has `maxActive` sessions queued or running: then nothing is written and the
   * count is returned. A transaction-scoped advisory lock per owner makes the count and the insert one step, so
   * parallel requests of one user cannot together exceed the cap.
   */
  async insertQueued(
    request: CreateSessionRequest,
    createdBy: string | null,
    maxActive: number,
  ): Promise<{ id: string; shareToken: string } | { active: number }> {
    return withTransaction(this.pool, async (client) => {
      await client.query(`select pg_advisory_xact_lock(hashtextextended('vibe.active-builds:' || $1, 0))`, [
        createdBy ?? 'anonymous',
      ]);
      const { rows: counted } = await client.query<{ active: number }>(
        `select count(*)::int as active from public.build_sessions
         where created_by is not distinct from $1::uuid and status in ('queued', 'running')`,
        [createdBy],
      );
      const active = counted[0]!.active;
      if (active >= maxActive) return { active };
      const { rows } = await client.query<{ id: string; share_token: string }>(
        `insert into public.build_sessions (status, template, vibe_text, options, created_by)
         values ('queued', $1, $2, $3::jsonb, $4)
         returning id, share_token`,
        [request.template, request.vibeText, JSON.stringify(request.options), createdBy],
      );
      return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
    });
  }

  /** Removes a session whose build was never queued; a session someone already picked up stays. */
  async deleteQueued(id: string): Promise<void> {
    await this.pool.query(`delete from public.build_sessions where id = $1 and status = 'queued'`, [id]);
  }

  /** The session; its share token only when asked (for its owner: the AuthGuard decides who that is). */
  async find(id: string, options: { withShareToken?: boolean } = {}): Promise<SessionView | undefined> {
    const { rows } = await this.pool.query<SessionRow & DeletionColumns & { share_token: string }>(
      `select id, status, template, vibe_text, options, environment, outputs, error, created_at, updated_at,
              share_token, deleted_at, deletion_reason, teardown_completed_at
       from public.build_sessions
       where id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    // `deletion` only once the session was deleted: a live session reads as it always did.
    const deletion = toDeletion(row);
    const view = deletion ? { ...toSessionView(row), deletion } : toSessionView(row);
    return options.withShareToken ? { ...view, shareToken: row.share_token } : withoutShareLink(view);
  }

  /**
   * A page of one user's sessions, newest first (`created_at`, then id, descending): those after `after` when
   * given, only those in `status` when given, deleted ones only when asked. Reads `limit + 1` rows to know whether
   * a next page exists; the cursor of the last row returned is `next`.
   */
  async listForOwner(
    owner: string,
    options: { limit: number; after?: SessionCursor; status?: SessionStatus; includeDeleted: boolean },
  ): Promise<SessionList> {
    const where = ['created_by = $1', 'created_at is not null'];
    const values: unknown[] = [owner];
    if (options.status) {
      values.push(options.status);
      where.push(`status = $${values.length}`);
    }
    if (!options.includeDeleted) where.push('deleted_at is null');
    if (options.after) {
      values.push(options.after.createdAt, options.after.id);
      where.push(`(created_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
    }
    values.push(options.limit + 1);
    const { rows } = await this.pool.query<SessionListRow>(
      `select id, status, template, vibe_text, options, environment ->> 'ref' as environment_ref, error,
              created_at, updated_at, deleted_at, deletion_reason, teardown_completed_at,
              to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position
       from public.build_sessions
       where ${where.join(' and ')}
       order by created_at desc, id desc
       limit $${values.length}`,
      values,
    );
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      sessions: page.map((row) => ({
        id: row.id,
        status: row.status,
        template: row.template,
        vibeText: row.vibe_text,
        options: row.options ?? {},
        environmentRef: row.environment_ref,
        error: row.error,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        deletion: toDeletion(row),
      })),
      next: rows.length > options.limit && last ? encodeSessionCursor({ createdAt: last.position, id: last.id }) : null,
    };
  }
}

interface DeletionColumns {
  deleted_at: Date | null;
  deletion_reason: SessionDeletion['reason'] | null;
  teardown_completed_at: Date | null;
}

interface SessionListRow extends DeletionColumns {
  id: string;
  status: SessionStatus;
  template: Template;
  vibe_text: string;
  options: Record<string, unknown> | null;
  environment_ref: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  /** created_at to the microsecond, UTC: the cursor's position. */
  position: string;
}

function toDeletion(row: DeletionColumns): SessionDeletion | null {
  if (!row.deleted_at) return null;
  return {
    reason: row.deletion_reason ?? 'owner',
    requestedAt: row.deleted_at.toISOString(),
    completedAt: row.teardown_completed_at?.toISOString() ?? null,
  };
}

function toSessionView(row: SessionRow): SessionView {
  return {
    id: row.id,
    status: row.status,
    template: row.template,
    vibeText: row.vibe_text,
    options: row.options ?? {},
    environment: row.environment,
    outputs: row.outputs,
    error: row.error,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * The session as someone other than its owner reads it: the share link of its outputs (`frontend.shareUrl`)
 * holds the share token, which only the owner is shown.
 */
function withoutShareLink(view: SessionView): SessionView {
  const frontend = view.outputs?.frontend;
  if (typeof frontend !== 'object' || frontend === null || !('shareUrl' in frontend)) return view;
  const { shareUrl: _, ...rest } = frontend as Record<string, unknown>;
  return { ...view, outputs: { ...view.outputs, frontend: rest } };
}
