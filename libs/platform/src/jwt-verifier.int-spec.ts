import { newId } from '@vibe/contracts';
import { startJwksServer, userClaims, type JwksServer } from '../../../test/support/jwks.js';
import { JwtError, LOCAL_DEV_JWT_SECRET, mintDevJwt } from './auth.js';
import { JwksUnavailableError, JwtVerifier, type JwtVerifierOptions } from './jwt-verifier.js';

/** The verifier against a JWKS served over HTTP on 127.0.0.1, as Supabase serves a project's keys. */
describe('JwtVerifier with a JWKS endpoint', () => {
  let jwks: JwksServer;
  const user = newId();

  beforeEach(async () => {
    jwks = await startJwksServer();
  });

  afterEach(async () => {
    await jwks.close();
  });

  const verifier = (options: Partial<JwtVerifierOptions> = {}) =>
    new JwtVerifier({ jwksUrl: jwks.url, audience: 'authenticated', jwksMinRefreshMs: 0, ...options });

  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof JwtError) return error.reason;
      throw error;
    }
    throw new Error('expected a refusal');
  };

  it('verifies RS256 and ES256 tokens with the fetched keys, fetching them once while they are fresh', async () => {
    const v = verifier();
    expect((await v.verify(jwks.sign('RS256', userClaims(user)))).sub).toBe(user);
    expect((await v.verify(jwks.sign('ES256', userClaims(user)))).sub).toBe(user);
    await Promise.all(Array.from({ length: 20 }, () => v.verify(jwks.sign('ES256', userClaims(user)))));
    expect(jwks.fetches()).toBe(1);
  });

  it('fetches the keys once for many requests that wait for them together', async () => {
    const v = verifier();
    await Promise.all(Array.from({ length: 20 }, () => v.verify(jwks.sign('RS256', userClaims(user)))));
    expect(jwks.fetches()).toBe(1);
  });

  it('fetches them again after the TTL', async () => {
    const v = verifier({ jwksTtlMs: 200 });
    await v.verify(jwks.sign('RS256', userClaims(user)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await v.verify(jwks.sign('RS256', userClaims(user)));
    expect(jwks.fetches()).toBe(2);
  });

  it('follows a key rotation: a token with a new kid fetches the set again', async () => {
    const v = verifier();
    await v.verify(jwks.sign('RS256', userClaims(user)));
    jwks.rotate('RS256', { retire: true });
    expect((await v.verify(jwks.sign('RS256', userClaims(user)))).sub).toBe(user);
    expect(jwks.fetches()).toBe(2);
  });

  it('does not let made-up kids hammer the endpoint: one refetch per interval', async () => {
    const v = verifier({ jwksMinRefreshMs: 60_000 });
    await v.verify(jwks.sign('RS256', userClaims(user)));
    const stranger = await startJwksServer();
    try {
      for (let i = 0; i < 5; i++) {
        expect(await refusal(v.verify(stranger.sign('RS256', userClaims(user))))).toBe('signature');
      }
    } finally {
      await stranger.close();
    }
    expect(jwks.fetches()).toBe(1);
  });

  it('refuses tokens signed by other keys, for another audience or issuer, expired, or alg none', async () => {
    const v = verifier({ issuer: 'https://project.supabase.co/auth/v1' });
    const issuer = { iss: 'https://project.supabase.co/auth/v1' };
    expect((await v.verify(jwks.sign('ES256', userClaims(user, issuer)))).sub).toBe(user);
    const stranger = await startJwksServer();
    try {
      expect(await refusal(v.verify(stranger.sign('ES256', userClaims(user, issuer))))).toBe('signature');
    } finally {
      await stranger.close();
    }
    expect(await refusal(v.verify(jwks.sign('ES256', userClaims(user, { ...issuer, aud: 'anon' }))))).toBe('audience');
    expect(await refusal(v.verify(jwks.sign('ES256', userClaims(user, { iss: 'https://evil/auth/v1' }))))).toBe(
      'issuer',
    );
    const past = Math.floor(Date.now() / 1000) - 120;
    expect(await refusal(v.verify(jwks.sign('RS256', userClaims(user, { ...issuer, exp: past }))))).toBe('expired');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(userClaims(user))).toString('base64url')}.`;
    expect(await refusal(v.verify(none))).toBe('malformed');
    // HS256 without a configured secret: refused, and the key set is not consulted for it.
    expect(await refusal(v.verify(mintDevJwt(user, LOCAL_DEV_JWT_SECRET)))).toBe('algorithm');
  });

  it('verifies HS256 with the secret beside the JWKS, without fetching the keys', async () => {
    const v = verifier({ secret: LOCAL_DEV_JWT_SECRET });
    expect((await v.verify(mintDevJwt(user, LOCAL_DEV_JWT_SECRET))).sub).toBe(user);
    expect(jwks.fetches()).toBe(0);
  });

  it('keeps verifying with the keys it has while the endpoint is down, and says when it has none', async () => {
    const v = verifier({ jwksTtlMs: 1 });
    await v.verify(jwks.sign('RS256', userClaims(user)));
    jwks.answer(503);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await v.verify(jwks.sign('RS256', userClaims(user)))).sub).toBe(user);
    expect(jwks.fetches()).toBe(2);

    const cold = verifier();
    await expect(cold.verify(jwks.sign('RS256', userClaims(user)))).rejects.toThrow(JwksUnavailableError);
    await expect(cold.verify(jwks.sign('RS256', userClaims(user)))).rejects.toThrow(/503/);
  });

  it('treats a document that is not a key set as an outage', async () => {
    const v = new JwtVerifier({ jwksUrl: `${jwks.url}/nothing-here`, audience: 'authenticated' });
    await expect(v.verify(jwks.sign('RS256', userClaims(user)))).rejects.toThrow(JwksUnavailableError);
  });
});
