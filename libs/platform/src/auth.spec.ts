import { createHmac, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import {
  authorizeSessionRead,
  bearerToken,
  decideSessionAccess,
  devUserId,
  isUserId,
  JwtError,
  LOCAL_DEV_JWT_SECRET,
  mintDevJwt,
  peekJwtHeader,
  sameSecret,
  verifySupabaseJwt,
  type JwtVerifyOptions,
  type SessionCaller,
  type SessionReaders,
} from './auth.js';

const SECRET = LOCAL_DEV_JWT_SECRET;
const USER = '6f1c3f1e-2a7b-4c1d-9e0f-0a1b2c3d4e5f';
const NOW = 2_000_000_000;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with any header and claims, HMAC-signed with `secret` (or with the signature given). */
function hs256(claims: Record<string, unknown>, secret = SECRET, header: Record<string, unknown> = { alg: 'HS256' }) {
  const body = `${b64(header)}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
const userClaims = (overrides: Record<string, unknown> = {}) => ({
  sub: USER,
  aud: 'authenticated',
  role: 'authenticated',
  exp: NOW + 60,
  ...overrides,
});
const options = (overrides: Partial<JwtVerifyOptions> = {}): JwtVerifyOptions => ({
  secret: SECRET,
  audience: 'authenticated',
  now: NOW,
  ...overrides,
});
const refusal = (token: string, opts: JwtVerifyOptions = options()) => {
  try {
    verifySupabaseJwt(token, opts);
  } catch (error) {
    if (error instanceof JwtError) return error.reason;
    throw error;
  }
  throw new Error('expected the token to be refused');
};

describe('verifySupabaseJwt (HS256)', () => {
  it('returns the claims of a valid token', () => {
    expect(verifySupabaseJwt(hs256(userClaims({ email: 'a@b.c' })), options())).toMatchObject({
      sub: USER,
      email: 'a@b.c',
    });
  });

  it('refuses alg "none", with or without a signature', () => {
    const unsigned = `${b64({ alg: 'none' })}.${b64(userClaims())}`;
    expect(() => verifySupabaseJwt(`${unsigned}.`, options())).toThrow(JwtError);
    expect(refusal(`${unsigned}.c2ln`)).toBe('algorithm');
    expect(refusal(hs256(userClaims(), SECRET, { alg: 'None' }))).toBe('algorithm');
  });

  it('refuses another secret, a tampered payload and a truncated signature', () => {
    expect(refusal(hs256(userClaims(), 'another-secret-another-secret-another'))).toBe('signature');
    const [header, , signature] = hs256(userClaims()).split('.');
    expect(refusal(`${header}.${b64(userClaims({ sub: 'someone-else' }))}.${signature}`)).toBe('signature');
    expect(refusal(`${header}.${b64(userClaims())}.${signature!.slice(0, 20)}`)).toBe('signature');
  });

  it('refuses an expired token, and one not valid yet, within the leeway', () => {
    expect(refusal(hs256(userClaims({ exp: NOW - 6 })))).toBe('expired');
    expect(verifySupabaseJwt(hs256(userClaims({ exp: NOW - 4 })), options()).sub).toBe(USER);
    expect(refusal(hs256(userClaims({ nbf: NOW + 60 })))).toBe('not_yet_valid');
    expect(refusal(hs256(userClaims({ exp: undefined })))).toBe('malformed');
  });

  it('checks the audience (a string or a list) and the issuer when asked', () => {
    expect(refusal(hs256(userClaims({ aud: 'anon' })))).toBe('audience');
    expect(verifySupabaseJwt(hs256(userClaims({ aud: ['x', 'authenticated'] })), options()).sub).toBe(USER);
    expect(refusal(hs256(userClaims({ iss: 'https://evil/auth/v1' })), options({ issuer: 'https://p/auth/v1' }))).toBe(
      'issuer',
    );
  });

  it('refuses what is not a JWT, without echoing it', () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', 'a b.c.d', `${b64('x')}.${b64(userClaims())}.sig`]) {
      expect(refusal(token)).toBe('malformed');
    }
    try {
      verifySupabaseJwt('secret-looking.value.here', options());
    } catch (error) {
      expect(String(error)).not.toContain('secret-looking');
    }
  });

  it('refuses HS256 when no secret is configured (only a JWKS)', () => {
    expect(refusal(hs256(userClaims()), options({ secret: undefined, jwks: { keys: [] } }))).toBe('algorithm');
  });
});

describe('verifySupabaseJwt (RS256 / ES256 through a JWKS)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = (key: KeyObject, kid: string): JsonWebKey => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig' });
  const jwks = { keys: [jwk(rsa.publicKey, 'rsa-1'), jwk(ec.publicKey, 'ec-1')] };

  function signed(alg: 'RS256' | 'ES256', kid: string, claims: Record<string, unknown>, key: KeyObject) {
    const body = `${b64({ alg, kid, typ: 'JWT' })}.${b64(claims)}`;
    const signature = sign('sha256', Buffer.from(body), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
    return `${body}.${signature.toString('base64url')}`;
  }

  it('accepts RS256 and ES256 tokens signed by a key of the set', () => {
    const opts = options({ secret: undefined, jwks });
    expect(verifySupabaseJwt(signed('RS256', 'rsa-1', userClaims(), rsa.privateKey), opts).sub).toBe(USER);
    expect(verifySupabaseJwt(signed('ES256', 'ec-1', userClaims(), ec.privateKey), opts).sub).toBe(USER);
  });

  it('refuses a foreign key, an unknown kid and a kid of the wrong key type', () => {
    const opts = options({ jwks });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(refusal(signed('RS256', 'rsa-1', userClaims(), stranger.privateKey), opts)).toBe('signature');
    expect(refusal(signed('RS256', 'rsa-9', userClaims(), rsa.privateKey), opts)).toBe('signature');
    expect(refusal(signed('ES256', 'rsa-1', userClaims(), ec.privateKey), opts)).toBe('signature');
  });

  it('refuses an HS256 token "signed" with the public key when only a JWKS is configured', () => {
    const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(refusal(hs256(userClaims(), publicPem), options({ secret: undefined, jwks }))).toBe('algorithm');
  });

  it('refuses asymmetric tokens when no JWKS is configured', () => {
    expect(refusal(signed('RS256', 'rsa-1', userClaims(), rsa.privateKey))).toBe('algorithm');
  });
});

describe('mintDevJwt', () => {
  it('mints a token that verifies as the user, for the audience authenticated, expiring after the ttl', () => {
    const token = mintDevJwt(USER, SECRET, 120, { email: 'dev@example.com' });
    const claims = verifySupabaseJwt(token, { secret: SECRET, audience: 'authenticated' });
    expect(claims).toMatchObject({ sub: USER, role: 'authenticated', email: 'dev@example.com' });
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeGreaterThan(110);
    expect(refusal(token, { secret: SECRET, audience: 'authenticated', now: claims.exp + 10 })).toBe('expired');
  });
});

describe('sameSecret and bearerToken', () => {
  it('tells equal secrets from different ones, of any length', () => {
    expect(sameSecret('tok_abc', 'tok_abc')).toBe(true);
    expect(sameSecret('tok_abc', 'tok_abd')).toBe(false);
    expect(sameSecret('tok_ab', 'tok_abc')).toBe(false);
    expect(sameSecret('', 'tok_abc')).toBe(false);
  });

  it('reads a bearer token', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer  xyz ')).toBe('xyz');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('authorizeSessionRead', () => {
  const session = { createdBy: USER, shareToken: 'share-token-of-the-session-000000' };
  const jwt = { secret: SECRET, audience: 'authenticated' };
  const other = '0b7d2c1e-1111-4c1d-9e0f-0a1b2c3d4e5f';

  it("grants the owner's JWT and the session's share token", () => {
    expect(authorizeSessionRead(session, { accessToken: mintDevJwt(USER, SECRET) }, jwt)).toMatchObject({
      granted: 'owner',
      claims: { sub: USER },
    });
    expect(authorizeSessionRead(session, { shareToken: session.shareToken }, jwt)).toEqual({ granted: 'share_token' });
    // An anon key as access token (what supabase-js sends without a signed-in user) does not hide the share token.
    expect(authorizeSessionRead(session, { accessToken: 'anon-key', shareToken: session.shareToken }, jwt)).toEqual({
      granted: 'share_token',
    });
  });

  it("refuses another user's JWT, a wrong share token, nothing at all, and an unknown session alike", () => {
    expect(authorizeSessionRead(session, { accessToken: mintDevJwt(other, SECRET) }, jwt)).toEqual({
      granted: false,
      presented: true,
    });
    expect(authorizeSessionRead(session, { shareToken: `${session.shareToken}x` }, jwt)).toEqual({
      granted: false,
      presented: true,
    });
    expect(authorizeSessionRead(session, {}, jwt)).toEqual({ granted: false, presented: false });
    expect(authorizeSessionRead(undefined, { shareToken: session.shareToken }, jwt)).toEqual({
      granted: false,
      presented: true,
    });
    expect(
      authorizeSessionRead({ ...session, createdBy: null }, { accessToken: mintDevJwt(USER, SECRET) }, jwt),
    ).toEqual({ granted: false, presented: true });
  });

  it('says why an access token was refused', () => {
    const expired = mintDevJwt(USER, SECRET, -60);
    const access = authorizeSessionRead(session, { accessToken: expired }, jwt);
    expect(access).toMatchObject({ granted: false, tokenError: { reason: 'expired' } });
  });
});

describe('decideSessionAccess', () => {
  const owner = USER;
  const other = '0b7d2c1e-2222-4c1d-9e0f-0a1b2c3d4e5f';
  const shareToken = 'share-token-of-the-session-000000';
  const session: SessionReaders = { createdBy: owner, shareToken };
  const anonymous: SessionReaders = { createdBy: null, shareToken };

  // given(session).when(caller, action).then(decision): the whole rule as a table.
  it.each<[string, SessionReaders | undefined, SessionCaller, 'read' | 'write', false | 'owner' | 'share_token']>([
    ['the owner reads', session, { userId: owner }, 'read', 'owner'],
    ['the owner writes', session, { userId: owner }, 'write', 'owner'],
    ['the owner, whatever the case of the id', session, { userId: owner.toUpperCase() }, 'write', 'owner'],
    ['a share-token holder reads', session, { shareToken }, 'read', 'share_token'],
    ['a share-token holder does not write', session, { shareToken }, 'write', false],
    ['another user does not read', session, { userId: other }, 'read', false],
    ['another user with the share token reads', session, { userId: other, shareToken }, 'read', 'share_token'],
    ['another user with the share token does not write', session, { userId: other, shareToken }, 'write', false],
    ['a wrong share token does not read', session, { shareToken: `${shareToken}x` }, 'read', false],
    ['nobody reads', session, {}, 'read', false],
    ['an unknown session is refused to its share token', undefined, { shareToken }, 'read', false],
    ['an unknown session is refused to a user', undefined, { userId: owner }, 'write', false],
    ['an anonymous session has no owner', anonymous, { userId: owner }, 'read', false],
    ['an anonymous session is read with its share token', anonymous, { shareToken }, 'read', 'share_token'],
    ['an anonymous session is never written', anonymous, { userId: owner, shareToken }, 'write', false],
  ])('%s', (_case, given, caller, action, granted) => {
    expect(decideSessionAccess(given, caller, action)).toEqual({ granted });
  });
});

describe('development users and token headers', () => {
  it('derives a stable uuid from a name, and keeps a uuid as it is', () => {
    const alice = devUserId('alice');
    expect(isUserId(alice)).toBe(true);
    expect(devUserId(' alice ')).toBe(alice);
    expect(devUserId('bob')).not.toBe(alice);
    expect(devUserId(USER.toUpperCase())).toBe(USER);
    expect(isUserId('service_role')).toBe(false);
  });

  it('peeks at a header without trusting it, and at nothing for what is not a JWT', () => {
    expect(peekJwtHeader(mintDevJwt(USER, SECRET))).toMatchObject({ alg: 'HS256' });
    expect(peekJwtHeader('not a jwt')).toBeUndefined();
    expect(peekJwtHeader(`${b64('x')}.y.z`)).toBeUndefined();
  });
});
