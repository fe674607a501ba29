import { parseArgs } from 'node:util';
import { redactText } from '@vibe/platform';
import {
  checkAuthConfig,
  checkBrowserKey,
  formatResult,
  invalidRedirectUrls,
  patchOf,
  type AuthPolicy,
  type ProjectApiKey,
  type SettingResult,
} from './control-plane-auth.js';

/** A command line or configuration that cannot be run as given; the message names what to change. */
export class ControlPlaneUsageError extends Error {}

export const CONTROL_PLANE_USAGE = `  npm run vibe -- control-plane auth --check|--apply [--project-ref <ref>]
                                           the control plane's Supabase Auth settings (spec §3.1) through the
                                           Management API: email confirmation on, redirect URLs limited to
                                           CONTROL_PLANE_REDIRECT_URLS, site URL CONTROL_PLANE_SITE_URL, no
                                           service key in what the gateway gives browsers. --check exits 1 on a
                                           mismatch; --apply patches what differs (SUPABASE_ACCESS_TOKEN,
                                           CONTROL_PLANE_PROJECT_REF, SUPABASE_API_URL)`;

interface Settings {
  apiUrl: string;
  token: string;
  projectRef: string;
  policy: AuthPolicy;
  browserKey: string | undefined;
}

/** What the command needs from the environment, checked before any request; a problem names its variable. */
export function loadSettings(env: NodeJS.ProcessEnv, projectRefFlag?: string): Settings {
  const problems: string[] = [];
  const token = env.SUPABASE_ACCESS_TOKEN?.trim();
  if (!token) problems.push('SUPABASE_ACCESS_TOKEN: required (a Supabase personal access token; never printed)');
  const projectRef = (projectRefFlag ?? env.CONTROL_PLANE_PROJECT_REF ?? '').trim();
  if (!/^[a-z]{20}$/.test(projectRef)) {
    problems.push(
      `${projectRefFlag !== undefined ? '--project-ref' : 'CONTROL_PLANE_PROJECT_REF'}: the control plane's project ref ` +
        `(20 lower-case letters)${projectRef ? `, not "${projectRef.slice(0, 40)}"` : ', required'}`,
    );
  }
  const apiUrl = (env.SUPABASE_API_URL?.trim() || 'https://api.supabase.com').replace(/\/+$/, '');
  if (!URL.canParse(apiUrl) || !/^https?:$/.test(new URL(apiUrl).protocol)) {
    problems.push(`SUPABASE_API_URL: an http(s) URL, not "${apiUrl.slice(0, 80)}"`);
  }
  const siteUrl = env.CONTROL_PLANE_SITE_URL?.trim() ?? '';
  if (!siteUrl) problems.push('CONTROL_PLANE_SITE_URL: required (where Auth sends users by default)');
  else if (invalidRedirectUrls([siteUrl]).length > 0 || siteUrl.includes('*')) {
    problems.push(`CONTROL_PLANE_SITE_URL: an http(s) URL without wildcards, not "${siteUrl.slice(0, 80)}"`);
  }
  const redirectUrls = (env.CONTROL_PLANE_REDIRECT_URLS ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  for (const problem of invalidRedirectUrls(redirectUrls)) problems.push(`CONTROL_PLANE_REDIRECT_URLS: ${problem}`);
  if (problems.length > 0) throw new ControlPlaneUsageError(problems.join('\n'));
  return {
    apiUrl,
    token: token!,
    projectRef,
    policy: { siteUrl, redirectUrls },
    browserKey: env.SUPABASE_ANON_KEY?.trim() || undefined,
  };
}

/** A Management API request that did not succeed; the message has the status and the API's words, no token. */
export class ManagementApiRequestError extends Error {}

async function api<T>(settings: Settings, method: 'GET' | 'PATCH', path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${settings.apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${settings.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new ManagementApiRequestError(
      `${method} ${path}: the Management API at ${settings.apiUrl} did not answer (${redactText(String(error))})`,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: the text as it came
    }
    const hint = response.status === 401 || response.status === 403 ? ' (is SUPABASE_ACCESS_TOKEN valid for it?)' : '';
    throw new ManagementApiRequestError(
      `${method} ${path}: ${response.status}: ${redactText(message).split(settings.token).join('[redacted]')}${hint}`,
    );
  }
  return (text ? JSON.parse(text) : null) as T;
}

async function readSettings(settings: Settings): Promise<SettingResult[]> {
  const config = await api<Record<string, unknown>>(settings, 'GET', `/v1/projects/${settings.projectRef}/config/auth`);
  const results = checkAuthConfig(settings.policy, config ?? {});
  const keys = settings.browserKey
    ? await api<ProjectApiKey[]>(settings, 'GET', `/v1/projects/${settings.projectRef}/api-keys`)
    : [];
  results.push(checkBrowserKey(settings.browserKey, Array.isArray(keys) ? keys : []));
  return results;
}

/**
 * `control-plane auth --check|--apply`. --check prints every setting, expected against actual, and answers 1 when
 * one differs. --apply patches the differing settings the API can change (one PATCH), reads them back, reports
 * each change and answers 1 only when something still differs (a key in the gateway's configuration, which only
 * its operator can change). The access token goes in the Authorization header only.
 */
export async function controlPlaneCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const [area, ...rest] = args;
  if (area !== 'auth')
    throw new ControlPlaneUsageError(`control-plane needs "auth" (the only area), not "${area ?? ''}"`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      check: { type: 'boolean', default: false },
      apply: { type: 'boolean', default: false },
      'project-ref': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new ControlPlaneUsageError(`unexpected argument "${positionals[0]}"`);
  if (values.check === values.apply)
    throw new ControlPlaneUsageError('control-plane auth needs one of --check or --apply');
  const settings = loadSettings(env, values['project-ref']);

  out(`Auth settings of the control plane (project ${settings.projectRef}, Management API ${settings.apiUrl}):`);
  const before = await readSettings(settings);
  if (values.check) {
    for (const result of before) out(formatResult(result));
    const mismatches = before.filter((result) => !result.ok).length;
    out(
      mismatches === 0
        ? 'Every setting is as configured.'
        : `${mismatches} setting(s) differ; \`npm run vibe -- control-plane auth --apply\` patches those the API can change.`,
    );
    return mismatches === 0 ? 0 : 1;
  }

  const patch = patchOf(before);
  if (Object.keys(patch).length === 0) {
    out('Nothing to patch.');
  } else {
    await api(settings, 'PATCH', `/v1/projects/${settings.projectRef}/config/auth`, patch);
    for (const result of before.filter((r) => !r.ok && r.patch)) {
      out(`  changed   ${result.setting}: ${result.actual} -> ${result.expected}`);
    }
  }
  const after = await readSettings(settings);
  for (const result of after) out(formatResult(result));
  const left = after.filter((result) => !result.ok).length;
  out(
    left === 0
      ? 'Every setting is as configured.'
      : `${left} setting(s) still differ (the API cannot change them: see the note).`,
  );
  return left === 0 ? 0 : 1;
}
