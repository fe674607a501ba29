/**
 * Signing in, for tests: users are uuids, their tokens are development JWTs signed with the secret the services
 * under test verify with (SUPABASE_JWT_SECRET as the test process sees it, which the stacks inherit, else the
 * local default), exactly as Supabase Auth would issue them.
 */
import { newId } from '@vibe/contracts';
import { LOCAL_DEV_JWT_SECRET, mintDevJwt } from '@vibe/platform';

export const TEST_JWT_SECRET = process.env.SUPABASE_JWT_SECRET?.trim() || LOCAL_DEV_JWT_SECRET;

/** A new user id (what `auth.users.id` would be). */
export function aUser(): string {
  return newId();
}

/** A valid access token of the user, for `ttlSeconds`. */
export function tokenFor(userId: string, ttlSeconds = 3600): string {
  return mintDevJwt(userId, TEST_JWT_SECRET, ttlSeconds);
}

/** `Authorization: Bearer <token of the user>`. */
export function signedIn(userId: string): Record<string, string> {
  return { authorization: `Bearer ${tokenFor(userId)}` };
}

/**
 * Rate limits and the build cap, out of the way of tests that poll the API quickly or run builds in parallel as
 * one user (the limits have tests of their own, with the defaults and with tight settings).
 */
export const LENIENT_LIMITS: Record<string, string> = {
  RATE_LIMIT_ADDRESS_PER_MINUTE: '1000000',
  RATE_LIMIT_ADDRESS_BURST: '100000',
  RATE_LIMIT_USER_PER_MINUTE: '1000000',
  RATE_LIMIT_USER_BURST: '100000',
  MAX_ACTIVE_BUILDS_PER_USER: '1000',
};
