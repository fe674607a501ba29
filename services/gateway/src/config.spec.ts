import { loadConfig } from '@vibe/platform';
import { GatewayConfig } from './config.js';

describe('GatewayConfig', () => {
  it('listens on 3000 unless PORT says otherwise', () => {
    expect(loadConfig(GatewayConfig, {}).PORT).toBe(3000);
    expect(loadConfig(GatewayConfig, { PORT: '8080' }).PORT).toBe(8080);
  });

  it('refuses a bad value, naming the variable', () => {
    expect(() => loadConfig(GatewayConfig, { PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig(GatewayConfig, { NATS_NAMESPACE: 'a.b' })).toThrow(/NATS_NAMESPACE/);
  });
});

describe('GatewayConfig (Realtime for the viewer page)', () => {
  it('points the page at the local bridge unless Supabase is configured', () => {
    const config = loadConfig(GatewayConfig, {});
    expect(config.REALTIME_URL).toBe('http://127.0.0.1:3004');
    expect(config.SUPABASE_URL).toBeUndefined();
    expect(() => loadConfig(GatewayConfig, { REALTIME_URL: 'bridge' })).toThrow(/REALTIME_URL/);
    expect(() => loadConfig(GatewayConfig, { SUPABASE_JWT_SECRET: 'short' })).toThrow(/SUPABASE_JWT_SECRET/);
  });
});

describe('GatewayConfig (authentication, limits, browsers)', () => {
  it('is closed by default: no anonymous builds, no dev tokens, no CORS origin, no HSTS', () => {
    const config = loadConfig(GatewayConfig, {});
    expect(config).toMatchObject({
      ALLOW_ANONYMOUS_BUILDS: false,
      DEV_TOKENS: false,
      CORS_ORIGINS: [],
      HSTS_MAX_AGE_SECONDS: 0,
      TRUSTED_PROXY_HOPS: 0,
      MAX_ACTIVE_BUILDS_PER_USER: 3,
    });
    expect(config.SUPABASE_JWKS_URL).toBeUndefined();
    expect(config.SUPABASE_JWT_ISSUER).toBeUndefined();
  });

  it('takes the switches as true or false only', () => {
    expect(loadConfig(GatewayConfig, { ALLOW_ANONYMOUS_BUILDS: 'true' }).ALLOW_ANONYMOUS_BUILDS).toBe(true);
    expect(() => loadConfig(GatewayConfig, { ALLOW_ANONYMOUS_BUILDS: 'yes' })).toThrow(/ALLOW_ANONYMOUS_BUILDS/);
  });

  it('serves dev tokens only with the local JWT secret, so they never pass a real project', () => {
    expect(loadConfig(GatewayConfig, { DEV_TOKENS: 'true' }).DEV_TOKENS).toBe(true);
    expect(() => loadConfig(GatewayConfig, { DEV_TOKENS: 'true', SUPABASE_JWT_SECRET: 'p'.repeat(40) })).toThrow(
      /DEV_TOKENS/,
    );
  });

  it('reads CORS origins as exact origins, and refuses paths and wildcards', () => {
    expect(
      loadConfig(GatewayConfig, { CORS_ORIGINS: 'https://a.example, http://localhost:5173/' }).CORS_ORIGINS,
    ).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(() => loadConfig(GatewayConfig, { CORS_ORIGINS: 'https://a.example/app' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig(GatewayConfig, { CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
  });

  it('needs a URL for the JWKS and whole positive numbers for the limits', () => {
    expect(() => loadConfig(GatewayConfig, { SUPABASE_JWKS_URL: 'keys' })).toThrow(/SUPABASE_JWKS_URL/);
    expect(() => loadConfig(GatewayConfig, { RATE_LIMIT_USER_BURST: '0' })).toThrow(/RATE_LIMIT_USER_BURST/);
    expect(() => loadConfig(GatewayConfig, { MAX_ACTIVE_BUILDS_PER_USER: '1.5' })).toThrow(/MAX_ACTIVE_BUILDS/);
  });
});
