import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The JWTs of a local environment's API, as Supabase's gateway and PostgREST read them: HS256 with the
 * environment's JWT secret, the database role in `role` (`anon`, `authenticated`, `service_role`). The anon
 * and service-role keys are such tokens, as are users' access tokens. Pure.
 */
export type ApiRole = 'anon' | 'authenticated' | 'service_role';
export const API_ROLES: readonly ApiRole[] = ['anon', 'authenticated', 'service_role'];

export interface ApiClaims {
  role: ApiRole;
  sub?: string;
  exp?: number;
  [claim: string]: unknown;
}

/** Ten years, as Supabase's legacy keys. */
export const API_KEY_LIFETIME_SECONDS = 10 * 365 * 24 * 60 * 60;

/**
 * A key of the environment (`service_role` for the Edge Functions' SUPABASE_SERVICE_ROLE_KEY): never
 * returned by a tool, never written to an event or a log.
 */
export function mintApiKey(secret: string, ref: string, role: ApiRole, issuedAt: Date): string {
  const iat = Math.floor(issuedAt.getTime() / 1000);
  return signJwt(secret, { iss: 'supabase', ref, role, iat, exp: iat + API_KEY_LIFETIME_SECONDS });
}

export function signJwt(secret: string, claims: Record<string, unknown>): string {
  const header = segment({ alg: 'HS256', typ: 'JWT' });
  const payload = segment(claims);
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

export type ApiJwtResult = { ok: true; claims: ApiClaims } | { ok: false; reason: string };

const PART = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a bearer token: HS256 only (no `none`, no algorithm the token picks for itself), a good signature,
 * not expired (`exp`, 5 s leeway), and a role the API knows. The reason never contains the token.
 */
export function verifyApiJwt(token: string, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): ApiJwtResult {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => PART.test(part))) return { ok: false, reason: 'not a JWT' };
  const [header, payload, signature] = parts as [string, string, string];
  const decodedHeader = decode(header);
  if (decodedHeader?.alg !== 'HS256') return { ok: false, reason: 'algorithm not accepted' };
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad signature' };
  const claims = decode(payload);
  if (!claims) return { ok: false, reason: 'unreadable claims' };
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || nowSeconds > claims.exp + 5)) {
    return { ok: false, reason: 'expired' };
  }
  if (typeof claims.role !== 'string' || !(API_ROLES as readonly string[]).includes(claims.role)) {
    return { ok: false, reason: 'no role the API knows' };
  }
  return { ok: true, claims: claims as ApiClaims };
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(authorization: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1] ?? null;
}

function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decode(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
