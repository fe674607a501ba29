import { Inject, Injectable } from '@nestjs/common';
import { type SessionStatus } from '@vibe/contracts';
import { PG_POOL, type Pool } from '@vibe/platform';

/** What a session handed over (`build_sessions.outputs.frontend`, issue 12). Reads `build_sessions`. */
@Injectable()
export class HandoverRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** The session's status and its types file (null when its build handed none over); undefined when unknown. */
  async types(id: string): Promise<{ status: SessionStatus; types: string | null } | undefined> {
    const { rows } = await this.pool.query<{ status: SessionStatus; types: string | null }>(
      `select status, outputs -> 'frontend' ->> 'types' as types from public.build_sessions where id = $1`,
      [id],
    );
    return rows[0];
  }
}
