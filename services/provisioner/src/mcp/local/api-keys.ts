import { createHmac } from 'node:crypto';

/**
 * The anon key of a local environment: an HS256 JWT with `role: anon`, as Supabase's legacy anon key is,
 * signed with the environment's JWT secret. It is meant for browsers (RLS decides what it may do); the
 * service-role key is never minted here. Pure.
 */
export const ANON_KEY_LIFETIME_SECONDS = 10 * 365 * 24 * 60 * 60;

export function mintAnonKey(secret: string, ref: string, issuedAt: Date): string {
  const iat = Math.floor(issuedAt.getTime() / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({ iss: 'supabase', ref, role: 'anon', iat, exp: iat + ANON_KEY_LIFETIME_SECONDS }),
  );
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
