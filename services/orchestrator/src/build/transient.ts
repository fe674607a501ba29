import { isTransientPgError, ProvisionError } from '@vibe/platform';

/** Names of the NATS client's errors that mean "not reachable right now" (@nats-io v3). */
const NATS_UNAVAILABLE = new Set([
  'TimeoutError',
  'NoResponders',
  'RequestError',
  'ConnectionError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'JetStreamNotEnabled',
]);

/**
 * Whether a failure inside a build node is worth retrying: Postgres or NATS unavailable for a while, or a
 * provisioner that did not answer in time or answered with a transient error. Everything else (a bad plan,
 * a refused statement, a bug) fails the build. The error's causes are looked at too.
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (depth > 5 || error === null || typeof error !== 'object') return false;
  if (error instanceof ProvisionError) return error.transient;
  if (isTransientPgError(error)) return true;
  const name = 'name' in error && typeof error.name === 'string' ? error.name : '';
  if (NATS_UNAVAILABLE.has(name)) return true;
  // JetStream answers 503 while it is starting or has lost its quorum.
  if (name === 'JetStreamApiError' && 'status' in error && error.status === 503) return true;
  return 'cause' in error && isTransientError(error.cause, depth + 1);
}
