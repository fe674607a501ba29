/**
 * Authentication at the gateway (issue 9, spec §3): Supabase JWTs verified with the project's HS256 secret or its
 * JWKS (served here by a loopback HTTP server, as Supabase serves a project's keys), and everything else refused
 * with a 401 that says why and never echoes the token. Also the two switches: anonymous builds (off by default)
 * and the development token endpoint (off by default). Gateways run in this process, on one control-plane
 * database and NATS namespace.
 */
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { devUserId, LOCAL_DEV_USER, mintDevJwt } from '@vibe/platform';
import { aUser, LENIENT_LIMITS, signedIn, TEST_JWT_SECRET, tokenFor } from '../support/auth.js';
import { createControlPlaneDatabase, createNamespace, type TestDatabase } from '../support/index.js';
import { startJwksServer, userClaims, type JwksServer } from '../support/jwks.js';
import { request, startGateway, type TestGateway } from './support.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const hs = (header: object, claims: object, secret = TEST_JWT_SECRET) => {
  const body = `${b64(header)}.${b64(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
};
const vibe = JSON.stringify({ vibeText: 'A marketplace for vintage cameras', template: 'marketplace' });

describe('gateway authentication: Supabase JWTs, and nothing else', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let control: pg.Client;
  let jwks: JwksServer;
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_tokens');
    namespace = createNamespace('tok');
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    jwks = await startJwksServer();
  });

  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await jwks?.close();
    await control?.end();
    await namespace?.cleanup();
    await db?.drop();
  });

  async function gateway(env: Record<string, string> = {}): Promise<TestGateway> {
    const started = await startGateway({
      DATABASE_URL: db.url,
      NATS_NAMESPACE: namespace.namespace,
      ...LENIENT_LIMITS,
      ...env,
    });
    gateways.push(started);
    return started;
  }

  const sessionCount = async () =>
    (await control.query<{ n: number }>('select count(*)::int as n from build_sessions')).rows[0]!.n;

  async function create(gw: TestGateway, headers: Record<string, string>) {
    return request(`${gw.url}/sessions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: vibe,
    });
  }

  async function ownerOf(sessionId: string): Promise<string | null> {
    const { rows } = await control.query<{ created_by: string | null }>(
      'select created_by from build_sessions where id = $1',
      [sessionId],
    );
    return rows[0]!.created_by;
  }

  describe('HS256 with SUPABASE_JWT_SECRET', () => {
    let gw: TestGateway;
    const user = aUser();
    const now = () => Math.floor(Date.now() / 1000);
    const valid = () => ({ sub: user, aud: 'authenticated', role: 'authenticated', exp: now() + 60 });

    beforeAll(async () => {
      gw = await gateway();
    });

    it('accepts a valid user token, and its user becomes the owner (created_by)', async () => {
      const created = await create(gw, signedIn(user));
      expect(created.status).toBe(201);
      expect(await ownerOf((JSON.parse(created.text) as { sessionId: string }).sessionId)).toBe(user);
    });

    const refused: Array<[string, () => string, RegExp]> = [
      ['an expired token', () => mintDevJwt(user, TEST_JWT_SECRET, -60), /expired/],
      ['a token signed with another secret', () => mintDevJwt(user, 'x'.repeat(48)), /bad signature/],
      ['a token for another audience', () => hs({ alg: 'HS256' }, { ...valid(), aud: 'anon' }), /audience/],
      [
        'a token without an audience (an anon key)',
        () => hs({ alg: 'HS256' }, { ...valid(), aud: undefined }),
        /audience/,
      ],
      ['alg none, unsigned', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(valid())}.`, /not a JWT/],
      ['alg none, with a signature', () => `${b64({ alg: 'none' })}.${b64(valid())}.c2lnbmF0dXJl`, /algorithm none/],
      ['alg NONE', () => hs({ alg: 'NONE' }, valid()), /algorithm NONE/],
      ['HS384', () => hs({ alg: 'HS384' }, valid()), /algorithm HS384/],
      ['RS256 when no JWKS is configured', () => jwks.sign('RS256', valid()), /RS256 tokens are not accepted/],
      [
        'a tampered payload',
        () => {
          const [header, , signature] = tokenFor(user).split('.');
          return `${header}.${b64({ ...valid(), sub: aUser() })}.${signature}`;
        },
        /bad signature/,
      ],
      ['a token not valid yet', () => hs({ alg: 'HS256' }, { ...valid(), nbf: now() + 600 }), /not valid yet/],
      [
        'a service token (sub is not a user)',
        () => hs({ alg: 'HS256' }, { ...valid(), sub: 'service_role' }),
        /not a user/,
      ],
      ['a token without exp', () => hs({ alg: 'HS256' }, { ...valid(), exp: undefined }), /exp is missing/],
      ['garbage', () => 'eyJhbGciOi.garbage.x', /not|JSON/],
    ];

    it.each(refused)('refuses %s with 401, writing nothing, never echoing the token', async (_what, token, why) => {
      const bearer = token();
      const before = await sessionCount();
      const created = await create(gw, { authorization: `Bearer ${bearer}` });
      expect(created.status).toBe(401);
      const body = JSON.parse(created.text) as { message: string };
      expect(body.message).toMatch(/^authorization: /);
      expect(body.message).toMatch(why);
      expect(created.text).not.toContain(bearer);
      expect(await sessionCount()).toBe(before);
    });

    it.each(refused)('refuses %s on reads and writes of a session it would own', async (_what, token) => {
      const created = JSON.parse((await create(gw, signedIn(user))).text) as { sessionId: string };
      const headers = { authorization: `Bearer ${token()}` };
      for (const path of [`/sessions?id=${created.sessionId}`, `/events?session_id=${created.sessionId}`]) {
        expect([path, (await request(`${gw.url}${path}`, { headers })).status]).toEqual([path, 401]);
      }
      const cancel = await request(`${gw.url}/sessions/${created.sessionId}/cancel`, { method: 'POST', headers });
      expect(cancel.status).toBe(401);
    });

    it('refuses a request without any token (anonymous builds are off by default), writing nothing', async () => {
      const before = await sessionCount();
      const created = await create(gw, {});
      expect(created.status).toBe(401);
      expect(JSON.parse(created.text)).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.stringMatching(/^authorization: sign in: .*Authorization: Bearer/),
      });
      expect(await sessionCount()).toBe(before);
    });
  });

  describe('SUPABASE_JWT_ISSUER', () => {
    it('requires the configured issuer', async () => {
      const issuer = 'https://abcdefghijklmnopqrst.supabase.co/auth/v1';
      const gw = await gateway({ SUPABASE_JWT_ISSUER: issuer });
      const user = aUser();
      expect((await create(gw, signedIn(user))).status).toBe(401);
      const right = mintDevJwt(user, TEST_JWT_SECRET, 60, { iss: issuer });
      expect((await create(gw, { authorization: `Bearer ${right}` })).status).toBe(201);
    });
  });

  describe('RS256 / ES256 with SUPABASE_JWKS_URL', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await gateway({ SUPABASE_JWKS_URL: jwks.url });
    });

    it('accepts tokens signed by the project keys, fetching the key set once for many requests', async () => {
      const before = jwks.fetches();
      for (const alg of ['RS256', 'ES256'] as const) {
        const user = aUser();
        const created = await create(gw, { authorization: `Bearer ${jwks.sign(alg, userClaims(user))}` });
        expect([alg, created.status]).toEqual([alg, 201]);
        expect(await ownerOf((JSON.parse(created.text) as { sessionId: string }).sessionId)).toBe(user);
      }
      const user = aUser();
      const owned = JSON.parse(
        (await create(gw, { authorization: `Bearer ${jwks.sign('ES256', userClaims(user))}` })).text,
      ) as { sessionId: string };
      const reads = await Promise.all(
        Array.from({ length: 20 }, () =>
          request(`${gw.url}/sessions?id=${owned.sessionId}`, {
            headers: { authorization: `Bearer ${jwks.sign('RS256', userClaims(user))}` },
          }),
        ),
      );
      expect(reads.map((read) => read.status)).toEqual(Array<number>(20).fill(200));
      expect(jwks.fetches() - before).toBe(1);
      // HS256 still works beside the JWKS.
      expect((await create(gw, signedIn(aUser()))).status).toBe(201);
    });

    it('refuses keys it does not publish, other audiences, expired tokens and HS256 signed with a public key', async () => {
      const stranger = await startJwksServer();
      try {
        const user = aUser();
        const past = Math.floor(Date.now() / 1000) - 120;
        for (const token of [
          stranger.sign('RS256', userClaims(user)),
          jwks.sign('ES256', userClaims(user, { aud: 'anon' })),
          jwks.sign('RS256', userClaims(user, { exp: past })),
        ]) {
          const created = await create(gw, { authorization: `Bearer ${token}` });
          expect(created.status).toBe(401);
          expect(created.text).not.toContain(token);
        }
      } finally {
        await stranger.close();
      }
    });

    it('follows a key rotation within the key set TTL', async () => {
      const rotating = await gateway({ SUPABASE_JWKS_URL: jwks.url, SUPABASE_JWKS_TTL_SECONDS: '1' });
      expect(
        (await create(rotating, { authorization: `Bearer ${jwks.sign('ES256', userClaims(aUser()))}` })).status,
      ).toBe(201);
      jwks.rotate('ES256', { retire: true });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const created = await create(rotating, { authorization: `Bearer ${jwks.sign('ES256', userClaims(aUser()))}` });
      expect(created.status).toBe(201);
    });

    it('answers 503 (not 401) while it cannot fetch any key set', async () => {
      const cold = await gateway({ SUPABASE_JWKS_URL: `${jwks.url.replace(/\/auth\/.*/, '')}/nothing` });
      const created = await create(cold, { authorization: `Bearer ${jwks.sign('RS256', userClaims(aUser()))}` });
      expect(created.status).toBe(503);
      expect(JSON.parse(created.text)).toMatchObject({
        message: expect.stringMatching(/JWKS unavailable\); retry later$/),
      });
    });
  });

  describe('the demo switch ALLOW_ANONYMOUS_BUILDS', () => {
    it('lets anyone build; the session has no owner and only its share token reaches it, read-only', async () => {
      const gw = await gateway({ ALLOW_ANONYMOUS_BUILDS: 'true' });
      const created = await create(gw, {});
      expect(created.status).toBe(201);
      const { sessionId, shareToken } = JSON.parse(created.text) as { sessionId: string; shareToken: string };
      expect(await ownerOf(sessionId)).toBeNull();
      expect((await request(`${gw.url}/sessions?id=${sessionId}`)).status).toBe(401);
      expect((await request(`${gw.url}/sessions?id=${sessionId}`, { headers: signedIn(aUser()) })).status).toBe(404);
      const shared = await request(`${gw.url}/sessions?id=${sessionId}`, { headers: { 'x-share-token': shareToken } });
      expect(shared.status).toBe(200);
      expect(shared.text).not.toContain(shareToken);
      const cancel = await request(`${gw.url}/sessions/${sessionId}/cancel`, {
        method: 'POST',
        headers: { 'x-share-token': shareToken },
      });
      expect(cancel.status).toBe(401);
      // Signed-in users still own what they build.
      const user = aUser();
      const owned = JSON.parse((await create(gw, signedIn(user))).text) as { sessionId: string };
      expect(await ownerOf(owned.sessionId)).toBe(user);
      // A bad token is still refused: the switch lets the anonymous in, not the forged.
      expect((await create(gw, { authorization: `Bearer ${mintDevJwt(user, 'z'.repeat(40))}` })).status).toBe(401);
    });
  });

  describe('development tokens (DEV_TOKENS)', () => {
    it('are not served by default', async () => {
      const gw = await gateway();
      const minted = await request(`${gw.url}/auth/dev-token`, { method: 'POST' });
      expect(minted.status).toBe(404);
      expect(minted.text).not.toMatch(/eyJ/);
    });

    it('when enabled, sign the page in as the local development user, who then owns its builds', async () => {
      const gw = await gateway({ DEV_TOKENS: 'true' });
      const minted = await request(`${gw.url}/auth/dev-token`, { method: 'POST' });
      expect(minted.status).toBe(200);
      expect(minted.headers.get('cache-control')).toBe('no-store');
      const body = JSON.parse(minted.text) as { accessToken: string; user: { id: string }; expiresIn: number };
      expect(body).toMatchObject({ tokenType: 'bearer', expiresIn: 3600, user: { id: devUserId(LOCAL_DEV_USER) } });
      const created = await create(gw, { authorization: `Bearer ${body.accessToken}` });
      expect(created.status).toBe(201);
      expect(await ownerOf((JSON.parse(created.text) as { sessionId: string }).sessionId)).toBe(
        devUserId(LOCAL_DEV_USER),
      );
    });
  });
});
