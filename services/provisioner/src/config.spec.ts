import { ConfigError } from '@vibe/platform';
import { driverKind, loadProvisionerConfig } from './config.js';

describe('provisioner config', () => {
  it('defaults to port 3002, the local admin connection and the vibe_env_ prefix', () => {
    const config = loadProvisionerConfig({});
    expect(config.PORT).toBe(3002);
    expect(config.ENV_DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(config.ENV_DB_PREFIX).toBe('vibe_env_');
  });

  it.each(['Vibe_', 'vibe-env', 'vibe env', '_vibe', 'x'.repeat(32)])(
    'refuses the prefix %p, naming the field',
    (prefix) => {
      expect(() => loadProvisionerConfig({ ENV_DB_PREFIX: prefix })).toThrow(ConfigError);
      expect(() => loadProvisionerConfig({ ENV_DB_PREFIX: prefix })).toThrow(/ENV_DB_PREFIX/);
    },
  );

  it('reads PORT as a number', () => {
    expect(loadProvisionerConfig({ PORT: '0' }).PORT).toBe(0);
  });

  it('uses the local driver unless a Supabase access token is set', () => {
    expect(driverKind(loadProvisionerConfig({}))).toBe('local');
    expect(driverKind(loadProvisionerConfig({ SUPABASE_ACCESS_TOKEN: 'sbp_x' }))).toBe('supabase');
    expect(driverKind(loadProvisionerConfig({ SUPABASE_ACCESS_TOKEN: '' }))).toBe('local');
  });

  it('starts the official server without docs, and refuses a feature list with it', () => {
    expect(loadProvisionerConfig({}).SUPABASE_MCP_FEATURES).toEqual([
      'database',
      'development',
      'functions',
      'debugging',
    ]);
    expect(() => loadProvisionerConfig({ SUPABASE_MCP_FEATURES: 'database,docs' })).toThrow(/SUPABASE_MCP_FEATURES/);
  });

  it('wants {ref} in ENV_API_URL and 32 characters of ENV_JWT_SECRET', () => {
    expect(loadProvisionerConfig({}).ENV_API_URL).toBe('http://127.0.0.1:54321/env/{ref}');
    expect(() => loadProvisionerConfig({ ENV_API_URL: 'http://127.0.0.1:54321' })).toThrow(/ENV_API_URL/);
    expect(() => loadProvisionerConfig({ ENV_JWT_SECRET: 'short' })).toThrow(/ENV_JWT_SECRET/);
  });
  it('describes the cloud driver: parent project, organization, project URL, with checks that name the field', () => {
    const config = loadProvisionerConfig({});
    expect([config.SUPABASE_API_URL, config.SUPABASE_PROJECT_URL, config.SUPABASE_REGION]).toEqual([
      'https://api.supabase.com',
      'https://{ref}.supabase.co',
      'us-east-1',
    ]);
    expect(config.SUPABASE_PARENT_PROJECT_REF).toBeUndefined();
    expect(
      loadProvisionerConfig({ SUPABASE_PARENT_PROJECT_REF: 'abcdefghijklmnopqrst' }).SUPABASE_PARENT_PROJECT_REF,
    ).toBe('abcdefghijklmnopqrst');
    expect(() => loadProvisionerConfig({ SUPABASE_PARENT_PROJECT_REF: 'not-a-ref' })).toThrow(
      /SUPABASE_PARENT_PROJECT_REF/,
    );
    expect(() => loadProvisionerConfig({ SUPABASE_PROJECT_URL: 'https://x.supabase.co' })).toThrow(
      /SUPABASE_PROJECT_URL/,
    );
  });

  it('bounds the local Edge Functions runtime', () => {
    const config = loadProvisionerConfig({});
    expect([config.EDGE_RUNTIME_MAX_WORKERS, config.EDGE_RUNTIME_IDLE_MS, config.EDGE_RUNTIME_MEMORY_MB]).toEqual([
      8, 60_000, 150,
    ]);
    expect(() => loadProvisionerConfig({ EDGE_RUNTIME_MAX_WORKERS: '0' })).toThrow(/EDGE_RUNTIME_MAX_WORKERS/);
    expect(config.EDGE_RUNTIME_SPARES).toBe(2);
    expect(loadProvisionerConfig({ EDGE_RUNTIME_SPARES: '0' }).EDGE_RUNTIME_SPARES).toBe(0);
    for (const spares of ['-1', '17', '1.5', 'two']) {
      expect(() => loadProvisionerConfig({ EDGE_RUNTIME_SPARES: spares })).toThrow(/EDGE_RUNTIME_SPARES/);
    }
    expect(loadProvisionerConfig({ ENV_API_PORT: '' }).ENV_API_PORT).toBeUndefined();
  });
});
