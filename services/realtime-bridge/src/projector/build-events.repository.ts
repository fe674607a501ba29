import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, type Pool } from '@vibe/platform';
import { type BuildEventRow } from './projection.js';

/** `build_events`, written only here. */
@Injectable()
export class BuildEventsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * Inserts the row unless one with its id exists (a redelivery or a re-published event), so projecting
   * twice is a no-op. Returns whether a row was written. One statement: committed when it returns.
   */
  async insert(row: BuildEventRow): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `insert into public.build_events (id, session_id, ts, type, message, payload, seq)
       values ($1, $2, $3, $4, $5, $6::jsonb, $7)
       on conflict (id) do nothing`,
      [row.id, row.sessionId, row.ts, row.type, row.message, JSON.stringify(row.payload), row.seq],
    );
    return rowCount === 1;
  }
}
