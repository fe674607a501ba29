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

/**
 * Whether `redact(JSON.parse(json))` may differ from `JSON.parse(json)`. False only when the text holds nothing
 * any secret pattern or secret key name needs, and no value sits deeper than `redact` descends: then the parsed
 * value can be stored as it is, without the copy `redact` makes (the projector and replay check every event).
 * JSON escapes can spell a pattern in other characters (`\u0065yJ…`, `:\/\/`), so text with `\u` or `\/`
 * is a maybe.
 */
export function jsonMayHoldSecret(json: string): boolean {
  return MAYBE_SECRET_JSON.test(json) || !nestedAtMost(json, MAX_DEPTH);
}

const MAYBE_SECRET_JSON = new RegExp(`${MAYBE_SECRET.source}|${SECRET_KEY.source}|\\\\[u/]`, 'i');

/** Whether no array or object of the JSON text is nested deeper than `limit` (brackets in strings skipped). */
function nestedAtMost(json: string, limit: number): boolean {
  // Most events open fewer brackets than that in all: counted natively, without a pass in JavaScript.
  let opened = 0;
  for (let i = json.indexOf('{'); i !== -1 && opened <= limit; i = json.indexOf('{', i + 1)) opened++;
  for (let i = json.indexOf('['); i !== -1 && opened <= limit; i = json.indexOf('[', i + 1)) opened++;
  if (opened <= limit) return true;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return false;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return true;
}

const [QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [...'"\\{}[]'].map((c) =>
  c.charCodeAt(0),
);

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

/** Values nested deeper than this are replaced whole (a guard against cycles and runaway depth). */
const MAX_DEPTH = 20;

function redactValue(value: unknown, depth: number, report: { changed: boolean }): unknown {
  if (depth > MAX_DEPTH) {
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
