import { createHash, createHmac, createPublicKey, timingSafeEqual, verify, type JsonWebKey } from 'node:crypto';
import { stableId } from '@vibe/contracts';

/**
 * Supabase-style JWTs (spec §3, DESIGN.md §6): HS256 with the project's JWT secret, and RS256 / ES256 with
 * public keys from the project's JWKS. Only what a JWT must prove is checked here (signature, expiry,
 * audience, issuer); who may do what with the claims is the caller's decision.
 */

/**
 * The Supabase CLI's local JWT secret, the default for local development only (README "Configuration").
 * A deployment sets SUPABASE_JWT_SECRET to its project's secret.
 */
export const LOCAL_DEV_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';

/** The claims of a verified Supabase access token. */
export interface SupabaseJwtClaims {
  /** The user's id (`auth.users.id`, `build_sessions.created_by`). */
  sub: string;
  aud: string | string[];
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat?: number;
  iss?: string;
  role?: string;
  email?: string;
  [claim: string]: unknown;
}

export interface JwtVerifyOptions {
  /** The HS256 secret. Without it, HS256 tokens are refused. */
  secret?: string;
  /** Public keys (a fetched JWKS document) for RS256 and ES256 tokens, chosen by `kid`. */
  jwks?: { keys: JsonWebKey[] };
  /** Required audience; Supabase signs user tokens for `authenticated`. */
  audience: string;
  issuer?: string;
  /** Leeway for `exp` and `nbf`, in seconds (default 5). */
  clockToleranceSeconds?: number;
  /** The current time in seconds since the epoch (tests). */
  now?: number;
}

export type JwtFailure = 'malformed' | 'algorithm' | 'signature' | 'expired' | 'not_yet_valid' | 'audience' | 'issuer';

/** Why a token was refused. The message never contains the token. */
export class JwtError extends Error {
  override readonly name = 'JwtError';
  constructor(
    readonly reason: JwtFailure,
    message: string,
  ) {
    super(message);
  }
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const ASYMMETRIC = { RS256: 'RSA', ES256: 'EC' } as const;

/** Verifies a token and returns its claims; throws a JwtError saying why it was refused. */
export function verifySupabaseJwt(token: string, options: JwtVerifyOptions): SupabaseJwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part))) {
    throw new JwtError('malformed', 'not a JWT (three base64url segments)');
  }
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  const header = decodeSegment(encodedHeader, 'header');
  if (header.crit !== undefined) throw new JwtError('malformed', 'critical header parameters are not supported');
  const signed = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const signature = Buffer.from(encodedSignature, 'base64url');

  const alg = header.alg;
  if (alg === 'HS256') {
    if (!options.secret) throw new JwtError('algorithm', 'HS256 tokens are not accepted here');
    const expected = createHmac('sha256', options.secret).update(signed).digest();
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new JwtError('signature', 'bad signature');
    }
  } else if (alg === 'RS256' || alg === 'ES256') {
    const jwk = findKey(options.jwks, alg, header.kid);
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const ok = verify('sha256', signed, alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, signature);
    if (!ok) throw new JwtError('signature', 'bad signature');
  } else {
    // `none`, HS384, PS256 and anything else: refused, so no token chooses a weaker check for itself.
    throw new JwtError('algorithm', `algorithm ${typeof alg === 'string' ? alg : '(missing)'} is not accepted`);
  }

  const claims = decodeSegment(encodedPayload, 'payload');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const leeway = options.clockToleranceSeconds ?? 5;
  if (typeof claims.exp !== 'number') throw new JwtError('malformed', 'exp is missing');
  if (now > claims.exp + leeway) throw new JwtError('expired', 'the token has expired');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now + leeway < claims.nbf)) {
    throw new JwtError('not_yet_valid', 'the token is not valid yet');
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(options.audience)) {
    throw new JwtError('audience', `the token is not for audience "${options.audience}"`);
  }
  if (options.issuer !== undefined && claims.iss !== options.issuer) {
    throw new JwtError('issuer', 'the token has another issuer');
  }
  if (typeof claims.sub !== 'string' || claims.sub === '') throw new JwtError('malformed', 'sub is missing');
  return claims as SupabaseJwtClaims;
}

/**
 * A development token for `sub`, as Supabase Auth would issue it (HS256, audience and role `authenticated`),
 * valid for `ttlSeconds`. For local use and tests: production tokens come from Supabase Auth.
 */
export function mintDevJwt(
  sub: string,
  secret: string,
  ttlSeconds = 3600,
  claims: Record<string, unknown> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: 'HS256', typ: 'JWT' });
  const payload = base64url({
    aud: 'authenticated',
    role: 'authenticated',
    iss: 'vibe-local',
    iat: now,
    exp: now + ttlSeconds,
    ...claims,
    sub,
  });
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** The name of the local development user: the CLI's and the viewer's default identity against a local gateway. */
export const LOCAL_DEV_USER = 'local-dev';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a JWT subject is a user id as Supabase Auth issues them (`auth.users.id`, a uuid). */
export function isUserId(sub: string): boolean {
  return UUID.test(sub);
}

/**
 * The user id of a development user: a uuid stays itself, a name ("alice") becomes a stable uuid derived from
 * it, so `vibe token alice` is the same user every time, on every machine.
 */
export function devUserId(user: string): string {
  const trimmed = user.trim();
  return isUserId(trimmed) ? trimmed.toLowerCase() : stableId('vibe-dev-user', trimmed);
}

/** The JWT header's `alg` and `kid`, unverified (to choose the key); undefined for what is not a JWT. */
export function peekJwtHeader(token: string): { alg?: unknown; kid?: unknown } | undefined {
  const [encodedHeader] = token.split('.');
  if (!encodedHeader || !SEGMENT.test(encodedHeader)) return undefined;
  try {
    return decodeSegment(encodedHeader, 'header');
  } catch {
    return undefined;
  }
}

/** Who may see a session: its creator, and holders of its share token (DESIGN.md §6). */
export interface SessionReaders {
  createdBy: string | null;
  shareToken: string;
}

/**
 * What a caller wants to do with a session. `read`: the session, its events, stream, drift alerts and Realtime
 * channel. `write`: anything that changes it or acts on it (cancel, a drift check).
 */
export type SessionAction = 'read' | 'write';

/** Who asks: a verified user (the `sub` of a verified JWT) and/or a share token, as presented. */
export interface SessionCaller {
  userId?: string | null;
  shareToken?: string | null;
}

export type SessionDecision = { granted: 'owner' } | { granted: 'share_token' } | { granted: false };

/**
 * THE access rule for a session and everything under it (DESIGN.md §6, spec §3.2): its creator may read and
 * write; a holder of its share token may only read, the token compared in constant time. An anonymous session
 * (no `created_by`) has no owner, so only its share token reaches it. An unknown session is refused exactly
 * like a foreign one, after the same comparison, so that neither the answer nor its timing tells them apart.
 */
export function decideSessionAccess(
  session: SessionReaders | undefined,
  caller: SessionCaller,
  action: SessionAction,
): SessionDecision {
  if (session?.createdBy && caller.userId && session.createdBy.toLowerCase() === caller.userId.toLowerCase()) {
    return { granted: 'owner' };
  }
  // Share tokens never authorize a write: they are not even compared for one.
  if (action === 'read' && caller.shareToken) {
    // Compared against a stand-in when the session is unknown, so both take the same time.
    const matches = sameSecret(caller.shareToken, session?.shareToken ?? UNKNOWN_SESSION_TOKEN);
    if (session && matches) return { granted: 'share_token' };
  }
  return { granted: false };
}

export interface ReadCredentials {
  /** A Supabase access token (the owner's JWT); a token that is not a user's JWT grants nothing. */
  accessToken?: string | null;
  shareToken?: string | null;
}

export type ReadAccess =
  | { granted: 'owner'; claims: SupabaseJwtClaims }
  | { granted: 'share_token' }
  /** `tokenError`: the access token presented was refused (expired, badly signed, ...). */
  | { granted: false; presented: boolean; tokenError?: JwtError };

/**
 * Whether raw credentials may read the session (its events, stream and Realtime channel): verifies the access
 * token (HS256 or the given JWKS, synchronously) and applies `decideSessionAccess`. A refused access token
 * does not hide a valid share token.
 */
export function authorizeSessionRead(
  session: SessionReaders | undefined,
  credentials: ReadCredentials,
  jwt: JwtVerifyOptions,
): ReadAccess {
  let tokenError: JwtError | undefined;
  let claims: SupabaseJwtClaims | undefined;
  if (credentials.accessToken) {
    try {
      claims = verifySupabaseJwt(credentials.accessToken, jwt);
    } catch (error) {
      if (!(error instanceof JwtError)) throw error;
      tokenError = error;
    }
  }
  const decision = decideSessionAccess(session, { userId: claims?.sub, shareToken: credentials.shareToken }, 'read');
  if (decision.granted === 'owner') return { granted: 'owner', claims: claims! };
  if (decision.granted === 'share_token') return decision;
  const presented = Boolean(credentials.accessToken || credentials.shareToken);
  return tokenError ? { granted: false, presented, tokenError } : { granted: false, presented };
}

const UNKNOWN_SESSION_TOKEN = 'no-session-has-this-share-token-000';

/** Compares two secrets (share tokens) in time that does not depend on where they differ, nor on their lengths. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', `the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwtError('malformed', `the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The JWKS key for a token: its `kid`, and a key type and algorithm that fit `alg` (no algorithm confusion). */
function findKey(jwks: JwtVerifyOptions['jwks'], alg: keyof typeof ASYMMETRIC, kid: unknown): JsonWebKey {
  if (!jwks) throw new JwtError('algorithm', `${alg} tokens are not accepted here`);
  const fits = (key: JsonWebKey) =>
    key.kty === ASYMMETRIC[alg] &&
    (key.alg === undefined || key.alg === alg) &&
    (key.use === undefined || key.use === 'sig') &&
    (alg !== 'ES256' || key.crv === 'P-256');
  const candidates = jwks.keys.filter((key) => fits(key) && (kid === undefined || key.kid === kid));
  const key = candidates.length === 1 ? candidates[0] : undefined;
  if (!key) throw new JwtError('signature', `no single ${alg} key${typeof kid === 'string' ? ` "${kid}"` : ''}`);
  return key;
}
