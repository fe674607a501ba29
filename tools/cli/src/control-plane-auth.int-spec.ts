/**
 * `npm run vibe -- control-plane auth --check|--apply` (issue 12, spec §3.1) as a user runs it (the built CLI, a
 * process of its own), against the local stand-in for Supabase's Management API that the cloud driver's tests use.
 * The stand-in's parent project plays the control plane. `npm test` builds first.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  startFakeManagementApi,
  type FakeManagementApi,
} from '../../../services/provisioner/test/fake-management-api.js';

const ROOT = path.resolve(__dirname, '../../..');
const SITE = 'https://app.example.com';
const REDIRECTS = ['https://app.example.com/auth/callback', 'http://localhost:3000/**'];

describe('control-plane auth, against the Management API stand-in', () => {
  let fake: FakeManagementApi;

  beforeAll(async () => {
    fake = await startFakeManagementApi();
  });

  afterAll(async () => {
    await fake?.close();
  });

  beforeEach(() => {
    fake.reset();
    // As a fresh project is often left: sign-ups confirmed without an email, a wide redirect list, the default site.
    fake.setAuthConfig(fake.parentRef, {
      site_url: 'http://localhost:3000',
      uri_allow_list: 'https://app.example.com/auth/callback,https://*.vercel.app/**',
      mailer_autoconfirm: true,
      external_email_enabled: true,
    });
  });

  function env(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const all: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      SUPABASE_API_URL: fake.url,
      SUPABASE_ACCESS_TOKEN: fake.token,
      CONTROL_PLANE_PROJECT_REF: fake.parentRef,
      CONTROL_PLANE_SITE_URL: SITE,
      CONTROL_PLANE_REDIRECT_URLS: REDIRECTS.join(', '),
      SUPABASE_ANON_KEY: fake.parentKeys.anon,
      ...overrides,
    };
    return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
  }

  function vibe(args: string[], environment: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'tools/cli/dist/main.js'), ...args], {
        cwd: ROOT,
        env: environment,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, output }));
    });
  }

  const line = (output: string, setting: string) => output.split('\n').find((text) => text.includes(setting)) ?? '';
  const calls = () => fake.requests.map((request) => `${request.method} ${request.path}`);

  it('--check prints every setting, expected against actual, and exits 1 on a mismatch, changing nothing', async () => {
    const before = fake.authConfig(fake.parentRef);
    const { code, output } = await vibe(['control-plane', 'auth', '--check'], env());

    expect(code).toBe(1);
    expect(line(output, '(mailer_autoconfirm)')).toMatch(
      /MISMATCH .*expected false \(confirmation required\); actual true/,
    );
    expect(line(output, '(site_url)')).toMatch(
      /MISMATCH .*expected "https:\/\/app\.example\.com"; actual "http:\/\/localhost:3000"/,
    );
    const redirects = line(output, '(uri_allow_list)');
    expect(redirects).toMatch(/MISMATCH/);
    expect(redirects).toContain('not on the configured list: https://*.vercel.app/**');
    expect(redirects).toContain('missing: http://localhost:3000/**');
    expect(line(output, '(external_email_enabled)')).toMatch(/^\s+ok\s/);
    expect(line(output, 'no service key where browsers reach')).toMatch(/^\s+ok\s.*the project's "anon" key/);
    expect(output).toContain('3 setting(s) differ');

    expect(calls()).toEqual([
      `GET /v1/projects/${fake.parentRef}/config/auth`,
      `GET /v1/projects/${fake.parentRef}/api-keys`,
    ]);
    expect(fake.requests.every((request) => request.authorization === `Bearer ${fake.token}`)).toBe(true);
    expect(fake.authConfig(fake.parentRef)).toEqual(before);
    expect(output).not.toContain(fake.token);
    expect(output).not.toContain(fake.parentKeys.anon);
  });

  it('--apply patches exactly what differs, reports each change, and a --check afterwards passes', async () => {
    const applied = await vibe(['control-plane', 'auth', '--apply'], env());

    expect(applied.code).toBe(0);
    expect(applied.output).toMatch(/changed\s+email confirmation \(mailer_autoconfirm\): true -> false/);
    expect(applied.output).toMatch(/changed\s+site URL \(site_url\)/);
    expect(applied.output).toMatch(/changed\s+redirect URLs \(uri_allow_list\)/);
    expect(applied.output).toContain('Every setting is as configured.');
    const patches = fake.requests.filter((request) => request.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.path).toBe(`/v1/projects/${fake.parentRef}/config/auth`);
    // Only the differing settings: email sign-in was already on and is not sent.
    expect(patches[0]!.body).toEqual({
      mailer_autoconfirm: false,
      site_url: SITE,
      uri_allow_list: [...REDIRECTS].sort().join(','),
    });
    expect(fake.authConfig(fake.parentRef)).toMatchObject({
      mailer_autoconfirm: false,
      site_url: SITE,
      uri_allow_list: [...REDIRECTS].sort().join(','),
      external_email_enabled: true,
    });
    expect(applied.output).not.toContain(fake.token);

    fake.reset();
    const checked = await vibe(['control-plane', 'auth', '--check'], env());
    expect(checked.code).toBe(0);
    expect(checked.output).not.toContain('MISMATCH');
    expect(calls().filter((call) => call.startsWith('PATCH'))).toEqual([]);

    // Nothing left to do: a second --apply sends no PATCH.
    fake.reset();
    const again = await vibe(['control-plane', 'auth', '--apply'], env());
    expect(again.code).toBe(0);
    expect(again.output).toContain('Nothing to patch.');
    expect(calls().filter((call) => call.startsWith('PATCH'))).toEqual([]);
  });

  it('flags a service-role key in what the gateway gives browsers, which --apply cannot fix, without printing it', async () => {
    const leaky = env({ SUPABASE_ANON_KEY: fake.parentKeys.serviceRole });
    const checked = await vibe(['control-plane', 'auth', '--check'], leaky);
    expect(checked.code).toBe(1);
    expect(line(checked.output, 'no service key where browsers reach')).toMatch(
      /MISMATCH .*actual a service-role \/ secret key.*set SUPABASE_ANON_KEY to the anon/,
    );

    fake.reset();
    const applied = await vibe(['control-plane', 'auth', '--apply'], leaky);
    expect(applied.code).toBe(1);
    expect(applied.output).toContain('1 setting(s) still differ');
    // The Auth settings were fixed; the key is the operator's to change.
    expect(fake.authConfig(fake.parentRef)).toMatchObject({ mailer_autoconfirm: false, site_url: SITE });
    for (const output of [checked.output, applied.output]) {
      expect(output).not.toContain(fake.parentKeys.serviceRole);
      expect(output).not.toContain(fake.token);
    }
  });

  it('names a missing or malformed setting before any request, and never prints a refused token', async () => {
    const missing = await vibe(['control-plane', 'auth', '--check'], env({ CONTROL_PLANE_SITE_URL: undefined }));
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('CONTROL_PLANE_SITE_URL: required');
    const wide = await vibe(['control-plane', 'auth', '--check'], env({ CONTROL_PLANE_REDIRECT_URLS: 'https://*/**' }));
    expect(wide.code).toBe(2);
    expect(wide.output).toContain('CONTROL_PLANE_REDIRECT_URLS: "https://*/**"');
    const both = await vibe(['control-plane', 'auth', '--check', '--apply'], env());
    expect(both.code).toBe(2);
    expect(both.output).toContain('one of --check or --apply');
    expect(fake.requests).toEqual([]);

    const wrongToken = `sbp_${'0'.repeat(40)}`;
    const refused = await vibe(['control-plane', 'auth', '--check'], env({ SUPABASE_ACCESS_TOKEN: wrongToken }));
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(
      /GET \/v1\/projects\/[a-z]{20}\/config\/auth: 401: Unauthorized \(is SUPABASE_ACCESS_TOKEN valid/,
    );
    expect(refused.output).not.toContain(wrongToken);
  });
});
