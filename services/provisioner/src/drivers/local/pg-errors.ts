import { isTransientPgError, pgErrorCode } from '@vibe/platform';
import { PermanentFailure } from '../driver.js';

interface PgErrorFields {
  message?: unknown;
  detail?: unknown;
  hint?: unknown;
  position?: unknown;
  where?: unknown;
}

/**
 * A Postgres error as one line that says what was wrong: the server's message, its SQLSTATE, where in the
 * query it happened (line and column, when the server gave a position) and the server's detail and hint.
 * Pure; the caller redacts.
 */
export function describePgError(error: unknown, query?: string): string {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as PgErrorFields;
  const message = typeof fields.message === 'string' && fields.message ? fields.message : String(error);
  const parts = [message];
  const code = pgErrorCode(error);
  const at = query !== undefined ? lineAndColumn(query, fields.position) : null;
  const context = [code ? `SQLSTATE ${code}` : null, at].filter(Boolean).join(', ');
  if (context) parts.push(`(${context})`);
  if (typeof fields.detail === 'string' && fields.detail) parts.push(`detail: ${fields.detail}`);
  if (typeof fields.hint === 'string' && fields.hint) parts.push(`hint: ${fields.hint}`);
  return parts.join(' ');
}

/** Postgres reports a 1-based character position in the query text. */
function lineAndColumn(query: string, position: unknown): string | null {
  const offset = typeof position === 'string' || typeof position === 'number' ? Number(position) : NaN;
  if (!Number.isInteger(offset) || offset < 1 || offset > query.length + 1) return null;
  const before = Array.from(query)
    .slice(0, offset - 1)
    .join('');
  const lines = before.split('\n');
  return `line ${lines.length}, column ${Array.from(lines[lines.length - 1] ?? '').length + 1}`;
}

/**
 * A Postgres error that retrying cannot fix becomes a PermanentFailure that says what failed and why (with
 * the position in `query` when given). Transient errors, failures already described, and errors that are not
 * Postgres' pass through unchanged for the caller to classify.
 */
export function asFailure(error: unknown, what: string, query?: string): unknown {
  const code = pgErrorCode(error);
  if (error instanceof PermanentFailure || code === undefined || isTransientPgError(error)) return error;
  return new PermanentFailure(`${what} failed: ${describePgError(error, query)}`, code);
}
