import { LOCAL_DEV_JWT_SECRET, loadConfig } from '@vibe/platform';
import { BridgeConfig, realtimeMode } from './config.js';

describe('BridgeConfig', () => {
  it('listens on 3004 unless PORT says otherwise', () => {
    expect(loadConfig(BridgeConfig, {}).PORT).toBe(3004);
    expect(loadConfig(BridgeConfig, { PORT: '8080' }).PORT).toBe(8080);
  });

  it('refuses a bad value, naming the variable', () => {
    expect(() => loadConfig(BridgeConfig, { PORT: '-1' })).toThrow(/PORT/);
    expect(() => loadConfig(BridgeConfig, { SUPABASE_JWT_SECRET: 'short' })).toThrow(/SUPABASE_JWT_SECRET/);
    expect(() => loadConfig(BridgeConfig, { SUPABASE_URL: 'not a url', SUPABASE_SERVICE_ROLE_KEY: 'k' })).toThrow(
      /SUPABASE_URL/,
    );
  });

  it('serves its own Realtime unless Supabase is configured, and wants both Supabase settings', () => {
    const local = loadConfig(BridgeConfig, {});
    expect(realtimeMode(local)).toBe('local');
    expect(local.SUPABASE_JWT_SECRET).toBe(LOCAL_DEV_JWT_SECRET);
    expect(
      realtimeMode(loadConfig(BridgeConfig, { SUPABASE_URL: 'https://p.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'k' })),
    ).toBe('supabase');
    expect(() => loadConfig(BridgeConfig, { SUPABASE_URL: 'https://p.supabase.co' })).toThrow(
      /SUPABASE_SERVICE_ROLE_KEY/,
    );
    expect(realtimeMode(loadConfig(BridgeConfig, { SUPABASE_URL: ' ', SUPABASE_SERVICE_ROLE_KEY: '' }))).toBe('local');
  });
});
