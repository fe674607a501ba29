import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, withTransaction, type Pool } from '@vibe/platform';
import { type CreateSessionRequest, type SessionStatus, type SessionView, type Template } from '@vibe/contracts';

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
    const { rows } = await this.pool.query<SessionRow & { share_token: string }>(
      `select id, status, template, vibe_text, options, environment, outputs, error, created_at, updated_at,
              share_token
       from public.build_sessions
       where id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    const view = toSessionView(row);
    return options.withShareToken ? { ...view, shareToken: row.share_token } : view;
  }
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
