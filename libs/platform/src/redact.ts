/**
 * The one redaction function: used for audit payloads, logs and error messages. It removes values whose
 * key names a secret, and secret-looking values wherever they appear (JWTs, passwords in connection
 * strings, bearer tokens, Supabase keys, OpenAI keys).
 */
const SECRET_KEY = /pass(word)?|secret|token|api[_-]?key|service[_-]?role|authorization|cookie|private[_-]?key|jwt/i;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b/g;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
const SUPABASE_KEY = /\b(sbp|sb_secret|sb_publishable)_[A-Za-z0-9_-]{8,}\b/g;
// OpenAI API keys: `sk-...`, `sk-proj-...`, `sk-svcacct-...`, `sk-admin-...`.
const OPENAI_KEY = /\bsk-[A-Za-z0-9_-]{20,}/g;
const PASSWORD_PARAM = /(\bpassword\s*=\s*)('[^']*'|"[^"]*"|\S+)/gi;

export const REDACTED = '[redacted]';

/**
 * Something every pattern above needs (case-insensitive, so a superset): most text has none of it and is
 * returned after this one scan instead of six (the projector redacts every event it stores).
 */
const MAYBE_SECRET = /eyJ|:\/\/|bearer|sbp_|sb_secret_|sb_publishable_|sk-|password/i;

export function redactText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  return text
    .replace(JWT, REDACTED)
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(SUPABASE_KEY, REDACTED)
    .replace(OPENAI_KEY, REDACTED)
    .replace(PASSWORD_PARAM, `$1${REDACTED}`);
}

export function redact<T>(value: T): T {
  return redactValue(value, 0, { changed: false }) as T;
}

/** `redact`, and whether it took anything out (a copy either way). */
export function redactReporting<T>(value: T): { value: T; changed: boolean } {
  const report = { changed: false };
  return { value: redactValue(value, 0, report) as T, changed: report.changed };
}

function redactValue(value: unknown, depth: number, report: { changed: boolean }): unknown {
  if (depth > 20) {
    if (value !== REDACTED) report.changed = true;
    return REDACTED;
  }
  if (typeof value === 'string') {
    const text = redactText(value);
    if (text !== value) report.changed = true;
    return text;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, report));
  if (value !== null && typeof value === 'object') {
    if (value instanceof Date) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_KEY.test(key) && item !== null && item !== undefined) {
        if (item !== REDACTED) report.changed = true;
        out[key] = REDACTED;
      } else {
        out[key] = redactValue(item, depth + 1, report);
      }
    }
    return out;
  }
  return value;
}
