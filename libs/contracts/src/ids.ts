import { createHash, randomUUID } from 'node:crypto';

/**
 * A name-based (version 5 style, SHA-1) UUID: the same session and key always give the same id. Event and
 * command ids are derived this way so that a node that runs again after a crash publishes the same ids,
 * which JetStream's duplicate window and the projection's `on conflict do nothing` both drop.
 */
export function stableId(sessionId: string, key: string): string {
  const hash = createHash('sha1').update(`${sessionId}\u0000${key}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function newId(): string {
  return randomUUID();
}
