import { parseArgs } from 'node:util';
import { devUserId, LOCAL_DEV_JWT_SECRET, LOCAL_DEV_USER, mintDevJwt } from '@vibe/platform';

/** Hosts that are this machine: a gateway there is a local one, which takes tokens minted with the local secret. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The secret local tokens are signed with: SUPABASE_JWT_SECRET when set (as the local gateway reads it), else the local default. */
export function localJwtSecret(env: NodeJS.ProcessEnv = process.env): string {
  return env.SUPABASE_JWT_SECRET?.trim() || LOCAL_DEV_JWT_SECRET;
}

export function isLocalGateway(gatewayUrl: string): boolean {
  return URL.canParse(gatewayUrl) && LOOPBACK_HOSTS.has(new URL(gatewayUrl).hostname);
}

export interface GatewayToken {
  /** The bearer token to send, if any. */
  token?: string;
  /** Where it came from: VIBE_TOKEN, minted for the local user against a local gateway, or none. */
  source: 'VIBE_TOKEN' | 'local' | 'none';
  /** The user it was minted for (source `local`). */
  user?: { name: string; id: string };
}

/**
 * The token the CLI sends to the gateway: VIBE_TOKEN when set (a Supabase access token, or one from
 * `vibe token`); otherwise, for a gateway on this machine, a token minted for the local user (VIBE_USER, default
 * `local-dev`) with the local secret; otherwise none (the gateway then answers 401 and says to sign in).
 */
export function gatewayToken(gatewayUrl: string, env: NodeJS.ProcessEnv = process.env): GatewayToken {
  const given = env.VIBE_TOKEN?.trim();
  if (given) return { token: given, source: 'VIBE_TOKEN' };
  if (!isLocalGateway(gatewayUrl)) return { source: 'none' };
  const name = env.VIBE_USER?.trim() || LOCAL_DEV_USER;
  const id = devUserId(name);
  return { token: mintDevJwt(id, localJwtSecret(env), 3600), source: 'local', user: { name, id } };
}

/**
 * `vibe token <user> [--ttl <seconds>]`: a development JWT for the user (a uuid, or a name turned into a stable
 * uuid), signed with the local secret, as Supabase Auth would issue it (audience and role `authenticated`).
 * Returns the token (for stdout) and a note (for stderr).
 */
export function tokenCommand(args: string[], env: NodeJS.ProcessEnv = process.env): { token: string; note: string } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ttl: { type: 'string', default: '3600' } },
  });
  const [user, ...extra] = positionals;
  if (!user?.trim() || extra.length > 0) throw new TokenUsageError('token needs one user: vibe token <user>');
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 24 * 3600) {
    throw new TokenUsageError('--ttl must be whole seconds, from 1 to 604800 (7 days)');
  }
  const id = devUserId(user);
  const secret = localJwtSecret(env);
  const which = secret === LOCAL_DEV_JWT_SECRET ? 'the local development secret' : 'SUPABASE_JWT_SECRET';
  return {
    token: mintDevJwt(id, secret, ttl),
    note: `token for user ${user.trim()} (${id}), valid ${ttl} s, signed with ${which}`,
  };
}

export class TokenUsageError extends Error {
  override readonly name = 'TokenUsageError';
}
