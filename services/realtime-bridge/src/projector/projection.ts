import { BuildEvent, encodeCursor } from '@vibe/contracts';
import { backoff, jsonMayHoldSecret, pgErrorCode, redactReporting } from '@vibe/platform';
import { type EventBroadcast } from '../realtime/realtime-sink.js';

/** A `build_events` row. */
export interface BuildEventRow {
  id: string;
  sessionId: string;
  ts: string;
  type: string;
  message: string;
  payload: Record<string, unknown>;
  /** JetStream stream sequence: the publish order, the tie-breaker for equal ts. */
  seq: number;
}

/**
 * A message decoded: the event, and `clean` when its text holds nothing redaction would take out (then `toRow`
 * skips the copy that redaction makes; see `jsonMayHoldSecret`).
 */
export type Decoded = { ok: true; event: BuildEvent; clean: boolean } | { ok: false; reason: string };

const decoder = new TextDecoder();

/** Parses a message of the events stream at the edge. A message that fails here can never succeed. */
export function decodeEvent(data: Uint8Array): Decoded {
  let text: string;
  let raw: unknown;
  try {
    text = decoder.decode(data);
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = BuildEvent.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    return { ok: false, reason: `not a BuildEvent: ${problems.join('; ').slice(0, 500)}` };
  }
  return { ok: true, event: parsed.data, clean: !jsonMayHoldSecret(text) };
}

/**
 * The row for an event. Producers redact before publishing; the projection redacts again because
 * `build_events` must never hold a secret (DESIGN.md §6), and says when it found one (a producer bug).
 * `clean` (from `decodeEvent`) says the event's text holds nothing to take out: stored as it is.
 */
export function toRow(event: BuildEvent, seq: number, clean = false): { row: BuildEventRow; redacted: boolean } {
  const stored = { message: event.message, payload: event.payload as Record<string, unknown> };
  const { value, changed } = clean ? { value: stored, changed: false } : redactReporting(stored);
  return {
    row: { id: event.id, sessionId: event.sessionId, ts: event.ts, type: event.type, seq, ...value },
    redacted: changed,
  };
}

/**
 * What to do with a message whose insert failed. Only failures that can never pass are terminated: the
 * session does not exist (foreign key), or Postgres cannot hold the data (class 22, e.g. a NUL character).
 * Everything else (a connection lost, a server restarting, anything unforeseen) comes back after a delay.
 */
export function dispositionForFailure(error: unknown, deliveryCount: number): { term: string } | { nak: number } {
  const code = pgErrorCode(error);
  if (code === '23503') return { term: 'its session does not exist' };
  if (code?.startsWith('22')) return { term: `Postgres cannot store it (${code})` };
  return { nak: backoff(deliveryCount) };
}

/** The broadcast of a projected event: the row as stored (redacted), its version, and its cursor. */
export function toBroadcast(row: BuildEventRow, version: number): EventBroadcast {
  return {
    sessionId: row.sessionId,
    payload: {
      id: row.id,
      sessionId: row.sessionId,
      version,
      ts: row.ts,
      type: row.type,
      message: row.message,
      payload: row.payload,
      cursor: encodeCursor({ ts: row.ts, seq: row.seq, id: row.id }),
    },
  };
}
