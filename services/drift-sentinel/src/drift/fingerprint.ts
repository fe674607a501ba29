import { createHash } from 'node:crypto';
import type { DriftFinding } from './diff.js';

/** JSON with object keys sorted, so equal values give equal text. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * "The same drift" (PERSISTED in drift_alerts.fingerprint): the same kind of deviation of the same resource,
 * as bad and in the same observed state. A drift that stays keeps its one open alert; a drift that turns
 * into another (a policy loosened further, a lint added) is a new alert, and the old one is resolved.
 */
export function fingerprint(finding: Pick<DriftFinding, 'type' | 'resource' | 'severity' | 'observed'>): string {
  const text = stableJson([finding.type, finding.resource, finding.severity, finding.observed]);
  return createHash('sha256').update(text).digest('hex').slice(0, 40);
}
