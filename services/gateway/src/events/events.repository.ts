import { Inject, Injectable } from '@nestjs/common';
import { type BuildEventView, type EventCursor } from '@vibe/contracts';
import { PG_POOL, type Pool } from '@vibe/platform';

interface EventRow {
  id: string | null;
  ts: Date | null;
  /** The ts as stored, to the microsecond, for the cursor. */
  ts_exact: string | null;
  seq: string | null;
  type: string | null;
  message: string | null;
  payload: Record<string, unknown> | null;
}

/** A page of a session's timeline, and the cursor of its last event. */
export interface EventPage {
  events: BuildEventView[];
  last: EventCursor | undefined;
}

/** Reads `build_events`, the realtime-bridge's projection of the event stream. */
@Injectable()
export class EventsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * A session's events in timeline order (ts, then the stream sequence for equal ts, then the id), or
   * undefined when the session does not exist. One query reads both, so "no session" and "no events (yet)"
   * are told apart from the same snapshot.
   *
   * `after` and `limit` page by stream sequence, the order the events were published and projected in: ts
   * comes from each producer's clock and can be a millisecond behind an event published before it, so a
   * ts-ordered cursor could skip such an event. A page holds the `limit` events that follow the cursor's
   * sequence (a row without one, which only a hand-made row lacks, counts as 0), shown in timeline order;
   * `last` is its event with the highest sequence, where the next page starts.
   */
  async listForSession(
    sessionId: string,
    options: { after?: EventCursor; limit?: number } = {},
  ): Promise<EventPage | undefined> {
    const { after, limit } = options;
    const { rows } = await this.pool.query<EventRow>(
      `select e.id, e.ts, to_char(e.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ts_exact,
              e.seq, e.type, e.message, e.payload
       from public.build_sessions s
       left join lateral (
         select * from public.build_events e
         where e.session_id = s.id and ($2::bigint is null or coalesce(e.seq, 0) > $2)
         order by coalesce(e.seq, 0), e.ts, e.id
         limit $3
       ) e on true
       where s.id = $1
       order by e.ts asc, e.seq asc nulls last, e.id asc`,
      [sessionId, after ? (after.seq ?? 0) : null, limit ?? null],
    );
    if (rows.length === 0) return undefined;
    const present = rows.filter((row) => row.id !== null);
    const seqOf = (row: EventRow) => Number(row.seq ?? 0);
    const lastRow = present.reduce<EventRow | undefined>(
      (last, row) => (last === undefined || seqOf(row) >= seqOf(last) ? row : last),
      undefined,
    );
    return {
      events: present.map((row) => ({
        id: row.id!,
        sessionId,
        ts: row.ts!.toISOString(),
        type: row.type!,
        message: row.message!,
        payload: row.payload ?? {},
      })),
      last: lastRow && {
        ts: lastRow.ts_exact!,
        seq: lastRow.seq === null ? null : Number(lastRow.seq),
        id: lastRow.id!,
      },
    };
  }
}
