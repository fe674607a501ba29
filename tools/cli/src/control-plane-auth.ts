/**
 * The control plane's Supabase Auth settings (spec §3.1) as a pure check: what the Management API's
 * `GET /v1/projects/{ref}/config/auth` answers, against the policy this deployment configured, setting by setting;
 * and the `PATCH` body that brings the differing ones in line. No I/O here (control-plane-auth-command.ts does it).
 *
 * Field names are the Management API's (`mailer_autoconfirm`: true means sign-ups are confirmed without an email,
 * so false means email confirmation is on; `uri_allow_list`: the redirect URLs, comma-separated; `site_url`: the
 * default redirect, itself always allowed; `external_email_enabled`: email/password sign-in).
 */

export interface AuthPolicy {
  /** CONTROL_PLANE_SITE_URL: where Auth sends users by default (and the one redirect always allowed). */
  siteUrl: string;
  /** CONTROL_PLANE_REDIRECT_URLS: every other redirect URL allowed, nothing more (empty: only the site URL). */
  redirectUrls: string[];
}

/** One setting's verdict. `patch` is what `--apply` sends for it; absent when it cannot be fixed through the API. */
export interface SettingResult {
  setting: string;
  expected: string;
  actual: string;
  ok: boolean;
  patch?: Record<string, unknown>;
  /** Why it differs, or what to do when the API cannot fix it. */
  note?: string;
}

/** A redirect URL Supabase accepts and that names a host: `https://app.example.com/**`, `https://*.example.com`. */
const REDIRECT_URL =
  /^https?:\/\/(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?(\/\S*)?$/i;

/** Reasons a configured redirect URL is refused, by entry; empty when all are fine. */
export function invalidRedirectUrls(urls: readonly string[]): string[] {
  return urls.flatMap((url) => {
    if (url.includes(',')) return [`"${url}": must not contain a comma (the list is comma-separated)`];
    if (!REDIRECT_URL.test(url)) {
      return [`"${url}": must be an http(s) URL with a host of its own (a wildcard only as its first label)`];
    }
    const host = /^https?:\/\/(?:\*\.)?([^/:]+)/i.exec(url)![1]!;
    if (url.includes('://*.') && !host.includes('.')) return [`"${url}": a wildcard must stay inside one domain`];
    return [];
  });
}

/** Splits `uri_allow_list` as the API stores it (comma-separated, blanks ignored). */
export function parseAllowList(value: unknown): string[] {
  if (Array.isArray(value))
    return value
      .map(String)
      .map((url) => url.trim())
      .filter(Boolean);
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
}

const show = (value: unknown): string => (value === undefined || value === null ? '(unset)' : JSON.stringify(value));
const withoutSlash = (url: string) => url.replace(/\/+$/, '');

/** The Auth settings of spec §3.1 against the policy: email sign-in on, confirmation on, site URL, redirect list. */
export function checkAuthConfig(policy: AuthPolicy, config: Record<string, unknown>): SettingResult[] {
  const results: SettingResult[] = [];
  const boolean = (setting: string, field: string, expected: boolean, meaning: string) => {
    const actual = config[field];
    results.push({
      setting: `${setting} (${field})`,
      expected: `${expected} (${meaning})`,
      actual: show(actual),
      ok: actual === expected,
      patch: { [field]: expected },
    });
  };
  boolean('email sign-in', 'external_email_enabled', true, 'email/password enabled');
  boolean('email confirmation', 'mailer_autoconfirm', false, 'confirmation required');

  const site = config.site_url;
  results.push({
    setting: 'site URL (site_url)',
    expected: show(policy.siteUrl),
    actual: show(site),
    ok: typeof site === 'string' && withoutSlash(site) === withoutSlash(policy.siteUrl),
    patch: { site_url: policy.siteUrl },
  });

  const expected = [...new Set(policy.redirectUrls)].sort();
  const actual = [...new Set(parseAllowList(config.uri_allow_list))].sort();
  const extra = actual.filter((url) => !expected.includes(url));
  const missing = expected.filter((url) => !actual.includes(url));
  const notes = [
    extra.length ? `not on the configured list: ${extra.join(', ')}` : '',
    missing.length ? `missing: ${missing.join(', ')}` : '',
  ].filter(Boolean);
  results.push({
    setting: 'redirect URLs (uri_allow_list)',
    expected: expected.length ? expected.join(',') : '(none beyond the site URL)',
    actual: actual.length ? actual.join(',') : '(none beyond the site URL)',
    ok: extra.length === 0 && missing.length === 0,
    patch: { uri_allow_list: expected.join(',') },
    ...(notes.length ? { note: notes.join('; ') } : {}),
  });
  return results;
}

/** A key of the project as `GET /v1/projects/{ref}/api-keys` lists it. */
export interface ProjectApiKey {
  name: string;
  type?: string | null;
  api_key?: string | null;
}

/** The `role` claim of a JWT-shaped key (legacy anon / service_role keys), or undefined. */
export function jwtRole(key: string): string | undefined {
  const parts = key.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { role?: unknown };
    return typeof claims.role === 'string' ? claims.role : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spec §3.1 "no service-role key is ever exposed to browsers": the key the gateway hands browsers (SUPABASE_ANON_KEY:
 * the viewer's `GET /config.json` serves it as its Realtime key) must be one of the project's publishable keys
 * (the legacy anon key or a `publishable` one), never a service-role or secret key. Unset is fine: the viewer then
 * uses the local Realtime endpoint and no Supabase key reaches a browser. The key itself is never printed.
 */
export function checkBrowserKey(browserKey: string | undefined, keys: readonly ProjectApiKey[]): SettingResult {
  const setting = 'no service key where browsers reach (SUPABASE_ANON_KEY, served by the gateway to the viewer)';
  const expected = "unset, or the project's anon / publishable key";
  if (!browserKey) return { setting, expected, actual: '(unset: no Supabase key reaches a browser)', ok: true };
  const role = jwtRole(browserKey);
  const match = keys.find((key) => key.api_key === browserKey);
  const secret =
    role === 'service_role' ||
    browserKey.startsWith('sb_secret_') ||
    (match !== undefined && (match.name === 'service_role' || match.type === 'secret'));
  const fix = 'set SUPABASE_ANON_KEY to the anon (publishable) key; the API cannot change this';
  if (secret) {
    return {
      setting,
      expected,
      actual: `a service-role / secret key${match ? ` (the project's "${match.name}")` : ''}`,
      ok: false,
      note: fix,
    };
  }
  const publishable = match !== undefined && (match.name === 'anon' || match.type === 'publishable');
  if (!publishable) {
    return {
      setting,
      expected,
      actual: `a key that is not one of the project's publishable keys${role ? ` (role ${role})` : ''}`,
      ok: false,
      note: fix,
    };
  }
  return { setting, expected, actual: `the project's "${match.name}" key`, ok: true };
}

/** The PATCH body of every differing setting that the API can fix; empty when there is nothing to send. */
export function patchOf(results: readonly SettingResult[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const result of results) if (!result.ok && result.patch) Object.assign(patch, result.patch);
  return patch;
}

/** One line per setting: `ok` or `MISMATCH`, then expected and actual (and the note). */
export function formatResult(result: SettingResult): string {
  const verdict = result.ok ? 'ok      ' : 'MISMATCH';
  const note = result.note ? ` (${result.note})` : '';
  return `  ${verdict}  ${result.setting}: expected ${result.expected}; actual ${result.actual}${note}`;
}
