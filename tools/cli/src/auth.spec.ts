import { devUserId, LOCAL_DEV_JWT_SECRET, LOCAL_DEV_USER, verifySupabaseJwt } from '@vibe/platform';
import { gatewayToken, isLocalGateway, tokenCommand, TokenUsageError } from './auth.js';

const verify = (token: string, secret = LOCAL_DEV_JWT_SECRET) =>
  verifySupabaseJwt(token, { secret, audience: 'authenticated' });

describe('gatewayToken', () => {
  it('sends VIBE_TOKEN when it is set, to any gateway', () => {
    expect(gatewayToken('https://api.example.com', { VIBE_TOKEN: ' abc.def.ghi ' })).toEqual({
      token: 'abc.def.ghi',
      source: 'VIBE_TOKEN',
    });
  });

  it('mints a token of the local user (VIBE_USER, default local-dev) for a gateway on this machine', () => {
    const local = gatewayToken('http://127.0.0.1:3000', {});
    expect(local.source).toBe('local');
    expect(verify(local.token!).sub).toBe(devUserId(LOCAL_DEV_USER));
    const alice = gatewayToken('http://localhost:3000', { VIBE_USER: 'alice' });
    expect(verify(alice.token!).sub).toBe(devUserId('alice'));
    const secret = 's'.repeat(40);
    expect(verify(gatewayToken('http://[::1]:3000', { SUPABASE_JWT_SECRET: secret }).token!, secret).sub).toBe(
      devUserId(LOCAL_DEV_USER),
    );
  });

  it('sends nothing to a remote gateway without VIBE_TOKEN (no token made from a local secret leaves the machine)', () => {
    expect(gatewayToken('https://api.example.com', {})).toEqual({ source: 'none' });
    expect(isLocalGateway('http://127.0.0.1.example.com')).toBe(false);
  });
});

describe('tokenCommand (vibe token <user>)', () => {
  it('mints a token for a named user, the same user every time, for --ttl seconds', () => {
    const { token, note } = tokenCommand(['alice', '--ttl', '120'], {});
    const claims = verify(token);
    expect(claims).toMatchObject({ sub: devUserId('alice'), aud: 'authenticated', role: 'authenticated' });
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(120);
    expect(note).toContain(devUserId('alice'));
    expect(note).not.toContain(token);
  });

  it('refuses a missing user and a bad ttl', () => {
    expect(() => tokenCommand([], {})).toThrow(TokenUsageError);
    expect(() => tokenCommand(['a', 'b'], {})).toThrow(TokenUsageError);
    expect(() => tokenCommand(['alice', '--ttl', '0'], {})).toThrow(/--ttl/);
  });
});
