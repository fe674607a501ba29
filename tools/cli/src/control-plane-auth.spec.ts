import {
  checkAuthConfig,
  checkBrowserKey,
  invalidRedirectUrls,
  jwtRole,
  parseAllowList,
  patchOf,
} from './control-plane-auth.js';

const jwt = (claims: object) =>
  ['{"alg":"HS256"}', JSON.stringify(claims), 'sig'].map((part) => Buffer.from(part).toString('base64url')).join('.');

describe('control-plane Auth settings (spec §3.1)', () => {
  const policy = { siteUrl: 'https://app.example.com', redirectUrls: ['https://app.example.com/auth/callback'] };
  const secure = {
    external_email_enabled: true,
    mailer_autoconfirm: false,
    site_url: 'https://app.example.com/',
    uri_allow_list: ' https://app.example.com/auth/callback ,',
  };

  it('given the configured settings, finds nothing to patch', () => {
    const results = checkAuthConfig(policy, secure);
    expect(results.map((r) => [r.setting, r.ok])).toEqual([
      ['email sign-in (external_email_enabled)', true],
      ['email confirmation (mailer_autoconfirm)', true],
      ['site URL (site_url)', true],
      ['redirect URLs (uri_allow_list)', true],
    ]);
    expect(patchOf(results)).toEqual({});
  });

  it('given auto-confirmed sign-ups and an extra redirect, patches exactly those', () => {
    const results = checkAuthConfig(policy, {
      ...secure,
      mailer_autoconfirm: true,
      uri_allow_list: 'https://app.example.com/auth/callback,https://evil.example.net/**',
    });
    expect(results.filter((r) => !r.ok).map((r) => r.setting)).toEqual([
      'email confirmation (mailer_autoconfirm)',
      'redirect URLs (uri_allow_list)',
    ]);
    expect(results[3]!.note).toBe('not on the configured list: https://evil.example.net/**');
    expect(patchOf(results)).toEqual({
      mailer_autoconfirm: false,
      uri_allow_list: 'https://app.example.com/auth/callback',
    });
  });

  it('given unset settings, reports them as unset and expected', () => {
    const results = checkAuthConfig({ siteUrl: 'https://a.example.com', redirectUrls: [] }, {});
    expect(results.every((r) => !r.ok || r.setting.startsWith('redirect'))).toBe(true);
    expect(results[0]!.actual).toBe('(unset)');
    expect(results[3]).toMatchObject({ ok: true, expected: '(none beyond the site URL)' });
  });

  it('reads the allow-list as a comma-separated string or an array', () => {
    expect(parseAllowList('a, b,,c')).toEqual(['a', 'b', 'c']);
    expect(parseAllowList(['a ', 'b'])).toEqual(['a', 'b']);
    expect(parseAllowList(null)).toEqual([]);
  });

  it.each([
    ['https://app.example.com/**', true],
    ['https://*.example.com/auth', true],
    ['http://localhost:3000/**', true],
    ['https://*/**', false],
    ['*', false],
    ['https://*.com', false],
    ['ftp://files.example.com', false],
    ['https://a.example.com,https://b.example.com', false],
  ])('accepts %s as a redirect URL: %s', (url, ok) => {
    expect(invalidRedirectUrls([url])).toHaveLength(ok ? 0 : 1);
  });

  describe('the key browsers get', () => {
    const anon = jwt({ role: 'anon', ref: 'x' });
    const service = jwt({ role: 'service_role', ref: 'x' });
    const keys = [
      { name: 'anon', type: 'legacy', api_key: anon },
      { name: 'service_role', type: 'legacy', api_key: `${service.slice(0, 12)}···` },
    ];

    it('passes when unset or the anon key', () => {
      expect(checkBrowserKey(undefined, keys).ok).toBe(true);
      expect(checkBrowserKey(anon, keys)).toMatchObject({ ok: true, actual: `the project's "anon" key` });
    });

    it('fails on a service-role JWT, a secret key, or a key of another project, without quoting it', () => {
      for (const key of [service, 'sb_secret_abc123', jwt({ role: 'anon', ref: 'other' })]) {
        const result = checkBrowserKey(key, keys);
        expect(result.ok).toBe(false);
        expect(JSON.stringify(result)).not.toContain(key);
        expect(result.patch).toBeUndefined();
      }
      expect(jwtRole(service)).toBe('service_role');
      expect(jwtRole('sb_publishable_x')).toBeUndefined();
    });
  });
});
