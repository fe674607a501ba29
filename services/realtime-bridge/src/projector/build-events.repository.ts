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
   *
   * The rows go as one JSON document: `JSON.stringify` is native, where seven array parameters were built and
   * escaped in JavaScript (a payload's JSON escaped again inside a text array). Measured with a client inserting
   * 50,000 rows in batches of 500: the client's CPU 357-517 ms before, 198-237 ms after; Postgres' the same
   * (issue 11).
   */
  async insertMany(rows: BuildEventRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const { rowCount } = await this.pool.query(
      `insert into public.build_events (id, session_id, ts, type, message, payload, seq)
       select id, "sessionId", ts, type, message, payload, seq
       from jsonb_to_recordset($1::jsonb)
         as r(id uuid, "sessionId" uuid, ts timestamptz, type text, message text, payload jsonb, seq bigint)
       on conflict (id) do nothing`,
      [JSON.stringify(rows)],
    );
    return rowCount ?? 0;
  }
}
