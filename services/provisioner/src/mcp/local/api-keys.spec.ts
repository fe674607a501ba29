import { createHmac } from 'node:crypto';
import { ANON_KEY_LIFETIME_SECONDS, mintAnonKey } from './api-keys.js';

describe('mintAnonKey', () => {
  const secret = 'a-test-secret-that-is-long-enough-1234';
  const key = mintAnonKey(secret, 'vibe_env_abc', new Date('2026-01-02T03:04:05Z'));
  const [header, payload, signature] = key.split('.');

  it('is an HS256 JWT with role anon, signed with the secret', () => {
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    const iat = Date.parse('2026-01-02T03:04:05Z') / 1000;
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toEqual({
      iss: 'supabase',
      ref: 'vibe_env_abc',
      role: 'anon',
      iat,
      exp: iat + ANON_KEY_LIFETIME_SECONDS,
    });
    expect(signature).toBe(createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url'));
  });

  it('does not verify with another secret', () => {
    expect(signature).not.toBe(createHmac('sha256', 'other').update(`${header}.${payload}`).digest('base64url'));
  });
});
