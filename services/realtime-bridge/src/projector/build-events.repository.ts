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

  /**
   * Inserts the rows, in one statement (committed when it returns), skipping ids already stored or repeated
   * in `rows`: the batched form of `insert`, with the same effect as inserting them one by one. One row that
   * cannot be stored (its session missing) fails them all; the caller then settles them one at a time.
   */
  async insertMany(rows: BuildEventRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const { rowCount } = await this.pool.query(
      `insert into public.build_events (id, session_id, ts, type, message, payload, seq)
       select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
       on conflict (id) do nothing`,
      [
        rows.map((row) => row.id),
        rows.map((row) => row.sessionId),
        rows.map((row) => row.ts),
        rows.map((row) => row.type),
        rows.map((row) => row.message),
        rows.map((row) => JSON.stringify(row.payload)),
        rows.map((row) => row.seq),
      ],
    );
    return rowCount ?? 0;
  }
}
