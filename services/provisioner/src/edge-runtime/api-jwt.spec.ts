import { bearerToken, mintApiKey, signJwt, verifyApiJwt } from './api-jwt.js';

const secret = 'a-test-secret-that-is-long-enough-1234';
const now = Math.floor(Date.parse('2026-06-01T00:00:00Z') / 1000);

describe('verifyApiJwt', () => {
  it('accepts the environment keys and user tokens signed with its secret, and returns their claims', () => {
    const service = mintApiKey(secret, 'vibe_env_x', 'service_role', new Date('2026-01-01T00:00:00Z'));
    expect(verifyApiJwt(service, secret, now)).toEqual({
      ok: true,
      claims: expect.objectContaining({ role: 'service_role', ref: 'vibe_env_x', iss: 'supabase' }),
    });
    const user = signJwt(secret, { sub: 'u1', role: 'authenticated', exp: now + 60 });
    expect(verifyApiJwt(user, secret, now)).toMatchObject({ ok: true, claims: { sub: 'u1', role: 'authenticated' } });
  });

  it.each([
    ['another secret', signJwt('another-secret-that-is-long-enough-12', { role: 'anon' }), 'bad signature'],
    ['an expired token', signJwt(secret, { role: 'anon', exp: now - 60 }), 'expired'],
    ['a role the API does not know', signJwt(secret, { role: 'postgres' }), 'no role the API knows'],
    ['no role at all', signJwt(secret, { sub: 'u1' }), 'no role the API knows'],
    ['not a JWT', 'hello', 'not a JWT'],
  ])('refuses %s', (_label, token, reason) => {
    expect(verifyApiJwt(token, secret, now)).toEqual({ ok: false, reason });
  });

  it('refuses alg none and any algorithm a token picks for itself', () => {
    const [, payload] = signJwt(secret, { role: 'service_role' }).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}`;
    expect(verifyApiJwt(`${none}.`, secret, now)).toEqual({ ok: false, reason: 'not a JWT' });
    expect(verifyApiJwt(`${none}.x`, secret, now)).toEqual({ ok: false, reason: 'algorithm not accepted' });
    const hs512 = `${Buffer.from(JSON.stringify({ alg: 'HS512' })).toString('base64url')}.${payload}.abc`;
    expect(verifyApiJwt(hs512, secret, now)).toEqual({ ok: false, reason: 'algorithm not accepted' });
  });
});

describe('bearerToken', () => {
  it('reads "Bearer <token>" and nothing else', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer   abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
  });
});
