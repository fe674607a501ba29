/**
 * Query rows as plain JSON values, so that a result reads the same from the ledger (jsonb), from NATS and in
 * the caller: timestamps as ISO strings, bytea as Postgres' hex text (`\x…`), bigint as a decimal string,
 * nested arrays and objects (json columns, arrays) converted the same way. Pure.
 */
export function toJsonRows(rows: readonly Record<string, unknown>[]): Array<Record<string, unknown>> {
  return rows.map((row) => toJsonValue(row) as Record<string, unknown>);
}

export function toJsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = toJsonValue(item);
    return out;
  }
  return value;
}
