/**
 * The position of an event in a session's stream: `(ts, seq, id)` of the last event a client has. Clients hold
 * it as an opaque string and hand it back as `GET /events?session_id=…&after=<cursor>` or as the
 * `Last-Event-ID` of `GET /sessions/:id/stream`; the Realtime broadcast of each event carries it too. What
 * follows a cursor is decided by `seq`, the JetStream stream sequence (publish order); ts and id say which
 * event it was.
 *
 * WIRE CONTRACT: cursors are kept by clients across releases. The `v1` format is
 * base64url(`v1|<ts ISO 8601>|<seq or empty>|<id>`); a new format gets a new prefix, and old cursors stay
 * readable.
 */
export interface EventCursor {
  /** The event's timestamp as stored (ISO 8601; microseconds allowed). */
  ts: string;
  /** Stream sequence; null for a row without one, which sorts after every sequence of the same ts. */
  seq: number | null;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(`v1|${cursor.ts}|${cursor.seq ?? ''}|${cursor.id}`).toString('base64url');
}

/** The cursor a string encodes, or undefined when it is not one of ours. */
export function decodeCursor(text: string): EventCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return undefined;
  const [version, ts, seq, id, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (version !== 'v1' || rest.length > 0 || ts === undefined || seq === undefined || id === undefined) {
    return undefined;
  }
  if (!ISO.test(ts) || Number.isNaN(Date.parse(ts)) || !UUID.test(id)) return undefined;
  if (seq !== '' && !/^\d{1,15}$/.test(seq)) return undefined;
  return { ts, seq: seq === '' ? null : Number(seq), id };
}
