import { type PoolClient } from '@vibe/platform';
import { type JetStreamContext } from '@vibe/platform';
import { decodeEvent, toRow, type BuildEventRow } from '../projector/projection.js';
import { readEventBatches } from './stream-reader.js';

/** A `build_events` row as compared: the fields the projection writes. */
export interface ComparedRow {
  id: string;
  sessionId: string;
  ts: string;
  type: string;
  message: string;
  payload: unknown;
  seq: number | null;
}

export interface ProjectionDiff {
  /** In the stream, missing from `build_events` (a deleted row). */
  missing: ComparedRow[];
  /** In both, with different contents. */
  altered: Array<{ expected: ComparedRow; stored: ComparedRow; fields: string[] }>;
  /** In `build_events`, not in the stream (a row nobody projected). */
  extra: ComparedRow[];
}

export interface ReplayStats {
  /** Stream messages read. */
  messages: number;
  /** Messages that are not events (terminated by the projector too). */
  skipped: number;
  /** The last stream sequence compared: what the projector has settled, at most the stream's end. */
  throughSeq: number;
  elapsedMs: number;
}

/** The scratch table, private to the checking connection (`temp`): dropped when it disconnects. */
const SCRATCH = 'replayed_build_events';
const FIELDS = ['session_id', 'ts', 'type', 'message', 'payload'] as const;

/**
 * Rebuilds the projection of the stream (or of one session's subjects) into a scratch table, with the
 * projector's own decoding and redaction, up to the sequence the projector has settled (events after it may
 * simply not be projected yet).
 */
export async function replayIntoScratch(
  ctx: JetStreamContext,
  client: PoolClient,
  sessionId: string | undefined,
): Promise<ReplayStats> {
  const started = performance.now();
  await client.query(`drop table if exists pg_temp.${SCRATCH}`);
  await client.query(
    `create temp table ${SCRATCH} (id uuid primary key, session_id uuid, ts timestamptz, type text, message text,
       payload jsonb, seq bigint)`,
  );
  const throughSeq = await settledSeq(ctx);
  const subject = sessionId ? ctx.topology.subjects.sessionEvents(sessionId) : ctx.topology.subjects.allEvents;
  let messages = 0;
  let skipped = 0;
  let batch: BuildEventRow[] = [];
  // One insert in flight while the next batch is read and decoded: reading and writing overlap.
  let writing: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    await writing;
    if (batch.length === 0) return;
    const rows = JSON.stringify(batch);
    batch = [];
    // The first copy of an event wins, as in the projector (`on conflict do nothing`).
    writing = client.query(
      `insert into ${SCRATCH} (id, session_id, ts, type, message, payload, seq)
       select id, "sessionId", ts, type, message, payload, seq
       from jsonb_to_recordset($1::jsonb)
         as r(id uuid, "sessionId" uuid, ts timestamptz, type text, message text, payload jsonb, seq bigint)
       order by seq
       on conflict (id) do nothing`,
      [rows],
    );
    // Observed now, so that a failure is not an unhandled rejection; thrown by the next flush.
    writing.catch(() => undefined);
  };
  for await (const read of readEventBatches(ctx, subject, throughSeq)) {
    messages += read.length;
    for (const message of read) {
      const decoded = decodeEvent(message.data);
      if (!decoded.ok) {
        skipped++;
        continue;
      }
      batch.push(toRow(decoded.event, message.seq, decoded.clean).row);
    }
    if (batch.length >= 2000) await flush();
  }
  await flush();
  await writing;
  return { messages, skipped, throughSeq, elapsedMs: performance.now() - started };
}

/** Compares the scratch table with `build_events`, row by row: id, session, type, message, payload, ts. */
export async function compareWithBuildEvents(
  client: PoolClient,
  sessionId: string | undefined,
  throughSeq: number,
): Promise<ProjectionDiff> {
  const { rows } = await client.query<{
    expected: ComparedRow | null;
    stored: ComparedRow | null;
  }>(
    // Events of sessions that do not exist are never projected (the projector terminates them): not compared.
    `with expected as (
       select r.* from ${SCRATCH} r join public.build_sessions s on s.id = r.session_id
     ), stored as (
       select e.* from public.build_events e
       where (e.seq is null or e.seq <= $2) and ($1::uuid is null or e.session_id = $1)
     )
     select ${row('x')} as expected, ${row('b')} as stored
     from expected x full join stored b on b.id = x.id
     where x.id is null or b.id is null
        or ${FIELDS.map((field) => `x.${field} is distinct from b.${field}`).join(' or ')}
     order by coalesce(x.seq, b.seq), coalesce(x.id, b.id)`,
    [sessionId ?? null, throughSeq],
  );
  const diff: ProjectionDiff = { missing: [], altered: [], extra: [] };
  for (const { expected, stored } of rows) {
    if (expected && stored) diff.altered.push({ expected, stored, fields: differingFields(expected, stored) });
    else if (expected) diff.missing.push(expected);
    else if (stored) diff.extra.push(stored);
  }
  return diff;
}

/**
 * Makes `build_events` match the scratch table, in one transaction: missing rows inserted, altered rows set
 * back, extra rows deleted. Only rows the comparison covers are touched.
 */
export async function repairBuildEvents(
  client: PoolClient,
  diff: ProjectionDiff,
): Promise<{ inserted: number; updated: number; deleted: number }> {
  await client.query('begin');
  try {
    const restore = [...diff.missing, ...diff.altered.map((change) => change.expected)];
    let inserted = 0;
    let updated = 0;
    if (restore.length > 0) {
      const result = await client.query<{ inserted: boolean }>(
        `insert into public.build_events (id, session_id, ts, type, message, payload, seq)
         select r.id, r.session_id, r.ts, r.type, r.message, r.payload, r.seq
         from ${SCRATCH} r where r.id = any($1::uuid[])
         on conflict (id) do update set session_id = excluded.session_id, ts = excluded.ts, type = excluded.type,
           message = excluded.message, payload = excluded.payload, seq = excluded.seq
         returning (xmax = 0) as inserted`,
        [restore.map((row) => row.id)],
      );
      inserted = result.rows.filter((r) => r.inserted).length;
      updated = result.rows.length - inserted;
    }
    const deleted = diff.extra.length
      ? ((
          await client.query('delete from public.build_events where id = any($1::uuid[])', [
            diff.extra.map((row) => row.id),
          ])
        ).rowCount ?? 0)
      : 0;
    await client.query('commit');
    return { inserted, updated, deleted };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** The last sequence the projector has settled (acked or terminated), at most the stream's last. */
async function settledSeq(ctx: JetStreamContext): Promise<number> {
  const { streams, consumers } = ctx.topology;
  const last = (await ctx.jsm.streams.info(streams.events)).state.last_seq;
  try {
    const projector = await ctx.jsm.consumers.info(streams.events, consumers.projector);
    return Math.min(last, projector.ack_floor.stream_seq);
  } catch {
    // No projector consumer: nothing projects, so the whole stream is compared.
    return last;
  }
}

function row(alias: string): string {
  return `case when ${alias}.id is null then null else jsonb_build_object(
    'id', ${alias}.id, 'sessionId', ${alias}.session_id,
    'ts', to_char(${alias}.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'type', ${alias}.type, 'message', ${alias}.message, 'payload', ${alias}.payload, 'seq', ${alias}.seq) end`;
}

function differingFields(expected: ComparedRow, stored: ComparedRow): string[] {
  const fields: Array<keyof ComparedRow> = ['sessionId', 'ts', 'type', 'message', 'payload'];
  return fields.filter(
    (field) => JSON.stringify(sortKeys(expected[field])) !== JSON.stringify(sortKeys(stored[field])),
  );
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, item]) => [key, sortKeys(item)]),
    );
  }
  return value;
}
