import { loadConfig } from '@vibe/platform';
import { GatewayConfig } from '../config.js';
import { contentSecurityPolicy, viewerConfig } from './viewer.controller.js';

describe('viewerConfig', () => {
  it('points the page at the local bridge, or at Supabase with its (public) anon key when configured', () => {
    const closed = { devTokens: false, anonymousBuilds: false };
    expect(viewerConfig(loadConfig(GatewayConfig, { REALTIME_URL: 'http://bridge.local:3004' }))).toEqual({
      realtime: { mode: 'local', url: 'http://bridge.local:3004', apiKey: 'local' },
      auth: closed,
    });
    expect(
      viewerConfig(loadConfig(GatewayConfig, { SUPABASE_URL: 'https://p.supabase.co', SUPABASE_ANON_KEY: 'anon-key' })),
    ).toEqual({ realtime: { mode: 'supabase', url: 'https://p.supabase.co', apiKey: 'anon-key' }, auth: closed });
  });

  it('tells the page how it may sign in: dev tokens and anonymous builds only when switched on', () => {
    const config = loadConfig(GatewayConfig, { DEV_TOKENS: 'true', ALLOW_ANONYMOUS_BUILDS: 'true' });
    expect(viewerConfig(config).auth).toEqual({ devTokens: true, anonymousBuilds: true });
  });
});

describe('contentSecurityPolicy', () => {
  it('allows this origin and the Realtime origin (http and its WebSocket), nothing inline, no framing', () => {
    const csp = contentSecurityPolicy('https://p.supabase.co');
    expect(csp).toContain("connect-src 'self' https://p.supabase.co wss://p.supabase.co");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(contentSecurityPolicy('http://127.0.0.1:3004')).toContain('ws://127.0.0.1:3004');
  });
});
