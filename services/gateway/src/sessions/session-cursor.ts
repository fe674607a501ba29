/**
 * The position of a session in a `GET /sessions` listing (newest first): its `created_at`, to the microsecond as
 * Postgres stores it, and its id, which orders sessions created in the same microsecond. Clients hold it as an
 * opaque string (`next` of a page, handed back as `cursor`).
 *
 * WIRE CONTRACT: clients may keep a cursor across releases. The `s1` format is base64url(`s1|<created_at ISO
 * 8601, UTC, microseconds>|<id>`); a new format gets a new prefix, and old cursors stay readable.
 */
export interface SessionCursor {
  createdAt: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

export function encodeSessionCursor(cursor: SessionCursor): string {
  return Buffer.from(`s1|${cursor.createdAt}|${cursor.id}`).toString('base64url');
}

/** The cursor a string encodes, or undefined when it is not one of ours. */
export function decodeSessionCursor(text: string): SessionCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return undefined;
  const [version, createdAt, id, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (version !== 's1' || rest.length > 0 || createdAt === undefined || id === undefined) return undefined;
  if (!ISO_UTC.test(createdAt) || Number.isNaN(Date.parse(createdAt)) || !UUID.test(id)) return undefined;
  return { createdAt, id: id.toLowerCase() };
}
