/**
 * Which secrets a response gives away (spec §9.3 "never return secrets in responses"): the environment's own
 * (service-role key, JWT secret; exact matches), and anything shaped like one (a JWT whose role is
 * service_role, a Supabase secret key, a connection string with a password). Returns the names found,
 * never the values. Pure.
 */
export interface KnownSecret {
  name: string;
  value: string;
}

const JWT = /eyJ[A-Za-z0-9_-]{5,}\.([A-Za-z0-9_-]{5,})\.[A-Za-z0-9_-]{5,}/g;
const SECRET_KEY = /\bsb_secret_[A-Za-z0-9_-]{8,}/;
const CONNECTION_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:[^\s@/]+@/i;

export function findSecrets(text: string, known: readonly KnownSecret[]): string[] {
  const found = new Set<string>();
  for (const secret of known) {
    if (secret.value.length >= 8 && text.includes(secret.value)) found.add(secret.name);
  }
  for (const match of text.matchAll(JWT)) {
    if (jwtRole(match[1]!) === 'service_role') found.add('service_role_jwt');
  }
  if (SECRET_KEY.test(text)) found.add('supabase_secret_key');
  if (CONNECTION_PASSWORD.test(text)) found.add('connection_string_password');
  return [...found].sort();
}

function jwtRole(payload: string): string | null {
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && typeof (claims as { role?: unknown }).role === 'string'
      ? (claims as { role: string }).role
      : null;
  } catch {
    return null;
  }
}
