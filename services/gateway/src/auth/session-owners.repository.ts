import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, type Pool, type SessionReaders } from '@vibe/platform';

/** Who owns a session and its share token, for the access decision. Reads `build_sessions`. */
@Injectable()
export class SessionOwnersRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async find(sessionId: string): Promise<SessionReaders | undefined> {
    const { rows } = await this.pool.query<{ created_by: string | null; share_token: string }>(
      'select created_by, share_token from public.build_sessions where id = $1',
      [sessionId],
    );
    const row = rows[0];
    return row && { createdBy: row.created_by, shareToken: row.share_token };
  }
}
