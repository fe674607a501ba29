import { type JetStreamContext, type Pool } from '@vibe/platform';
import { auditLine } from './audit-timeline.js';
import {
  compareWithBuildEvents,
  repairBuildEvents,
  replayIntoScratch,
  type ComparedRow,
  type ProjectionDiff,
} from './projection-check.js';
import { readEventStream } from './stream-reader.js';

/**
 * JetStream replay for audit (issue 7), run as `npm run vibe -- replay ...`. It lives in the realtime-bridge
 * because it rebuilds the bridge's projection with the bridge's own code, and only the bridge writes
 * `build_events` (DESIGN.md §1): `--rebuild` is the bridge repairing its projection.
 */
export interface ReplayIo {
  out(line: string): void;
}

/** Prints a session's audit timeline from the stream; resolves to the number of messages. */
export async function printAuditTimeline(ctx: JetStreamContext, sessionId: string, io: ReplayIo): Promise<number> {
  const started = performance.now();
  let messages = 0;
  for await (const message of readEventStream(ctx, ctx.topology.subjects.sessionEvents(sessionId))) {
    messages++;
    io.out(auditLine(message));
  }
  const elapsed = performance.now() - started;
  io.out(
    messages === 0
      ? `No events of session ${sessionId} in ${ctx.topology.streams.events}.`
      : `\n${messages} message(s) replayed from ${ctx.topology.streams.events} in ${elapsed.toFixed(0)} ms (${rate(messages, elapsed)}).`,
  );
  return messages;
}

export interface VerifyResult {
  diff: ProjectionDiff;
  repaired?: { inserted: number; updated: number; deleted: number };
  /** After a repair: the differences left (none, unless something else wrote meanwhile). */
  after?: ProjectionDiff;
}

/**
 * Rebuilds the projection from the stream into a scratch table and compares it with `build_events`; with
 * `rebuild`, repairs `build_events` and compares again.
 */
export async function verifyProjection(
  ctx: JetStreamContext,
  pool: Pool,
  options: { sessionId?: string; rebuild: boolean },
  io: ReplayIo,
): Promise<VerifyResult> {
  const client = await pool.connect();
  try {
    const stats = await replayIntoScratch(ctx, client, options.sessionId);
    const scope = options.sessionId ? `session ${options.sessionId}` : 'every session';
    io.out(
      `Replayed ${stats.messages} message(s) of ${scope} through stream seq ${stats.throughSeq} in ` +
        `${stats.elapsedMs.toFixed(0)} ms (${rate(stats.messages, stats.elapsedMs)})` +
        (stats.skipped ? `; ${stats.skipped} not an event (terminated by the projector too)` : ''),
    );
    const diff = await compareWithBuildEvents(client, options.sessionId, stats.throughSeq);
    report(diff, io);
    if (!options.rebuild || total(diff) === 0) return { diff };
    const repaired = await repairBuildEvents(client, diff);
    io.out(
      `Repaired build_events: ${repaired.inserted} inserted, ${repaired.updated} set back, ${repaired.deleted} deleted.`,
    );
    const after = await compareWithBuildEvents(client, options.sessionId, stats.throughSeq);
    io.out(total(after) === 0 ? 'build_events now matches the stream.' : 'Differences remain:');
    if (total(after) > 0) report(after, io);
    return { diff, repaired, after };
  } finally {
    client.release();
  }
}

export function total(diff: ProjectionDiff): number {
  return diff.missing.length + diff.altered.length + diff.extra.length;
}

function report(diff: ProjectionDiff, io: ReplayIo): void {
  if (total(diff) === 0) {
    io.out('build_events matches the stream: no row missing, altered or extra.');
    return;
  }
  io.out(
    `build_events differs from the stream: ${diff.missing.length} missing, ${diff.altered.length} altered, ` +
      `${diff.extra.length} extra.`,
  );
  for (const row of diff.missing) io.out(`  missing  ${describe(row)}`);
  for (const change of diff.altered) {
    io.out(`  altered  ${describe(change.stored)}`);
    for (const field of change.fields) {
      const key = field as keyof ComparedRow;
      io.out(`           ${field}: stream ${show(change.expected[key])} ≠ stored ${show(change.stored[key])}`);
    }
  }
  for (const row of diff.extra) io.out(`  extra    ${describe(row)}`);
}

function describe(row: ComparedRow): string {
  return `${row.id} session ${row.sessionId} seq ${row.seq ?? '-'} ${row.ts} ${row.type}: ${row.message}`;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function rate(count: number, elapsedMs: number): string {
  return elapsedMs > 0 ? `${Math.round((count * 1000) / elapsedMs)} events/s` : 'n/a';
}
