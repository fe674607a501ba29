/**
 * Limits and the HTTP edge of the gateway (issue 9): per-address and per-user rate limits (429 with Retry-After),
 * the cap on a user's queued and running builds (429), the body and vibe limits (413, 400), security headers and
 * the CORS allowlist. Gateways run in this process on one control-plane database and NATS namespace; no
 * orchestrator runs, so sessions stay queued (active) until the test says otherwise.
 */
import pg from 'pg';
import { VIBE_TEXT_MAX_LENGTH } from '@vibe/contracts';
import { connectJetStream, type JetStreamContext } from '@vibe/platform';
import { aUser, LENIENT_LIMITS, signedIn } from '../support/auth.js';
import { createControlPlaneDatabase, createNamespace, NATS_URL, type TestDatabase } from '../support/index.js';
import { request, startGateway, type TestGateway } from './support.js';

const vibe = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ vibeText: 'A marketplace for vintage cameras', template: 'marketplace', ...overrides });

describe('gateway limits and HTTP edge', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let control: pg.Client;
  let nats: JetStreamContext;
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_limits');
    namespace = createNamespace('lim');
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    nats = await connectJetStream(NATS_URL, namespace.namespace, 'limits-test');
  });

  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await nats?.nc.close();
    await control?.end();
    await namespace?.cleanup();
    await db?.drop();
  });

  async function gateway(env: Record<string, string> = {}): Promise<TestGateway> {
    const started = await startGateway({ DATABASE_URL: db.url, NATS_NAMESPACE: namespace.namespace, ...env });
    gateways.push(started);
    return started;
  }

  const create = (gw: TestGateway, headers: Record<string, string>, body = vibe()) =>
    request(`${gw.url}/sessions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    });

  const sessionCount = async () =>
    (await control.query<{ n: number }>('select count(*)::int as n from build_sessions')).rows[0]!.n;
  const commandCount = async () => (await nats.jsm.streams.info(nats.topology.streams.buildCommands)).state.messages;

  describe('per-address rate limit', () => {
    it('answers 429 with Retry-After and a clear message after the burst, on any route, and recovers', async () => {
      const gw = await gateway({
        ...LENIENT_LIMITS,
        RATE_LIMIT_ADDRESS_BURST: '5',
        RATE_LIMIT_ADDRESS_PER_MINUTE: '60',
      });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await request(`${gw.url}/config.json`)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      for (const path of ['/config.json', '/no-such-route', `/sessions?id=${aUser()}`]) {
        const limited = await request(`${gw.url}${path}`, { headers: signedIn(aUser()) });
        expect([path, limited.status, limited.headers.get('retry-after')]).toEqual([path, 429, '1']);
        expect(JSON.parse(limited.text)).toEqual({
          statusCode: 429,
          error: 'Too Many Requests',
          message: 'rate limit: too many requests from your address; retry in 1 s',
        });
      }
      // A limited POST is refused before its body is read, so it writes nothing.
      const before = await sessionCount();
      expect((await create(gw, signedIn(aUser()))).status).toBe(429);
      expect(await sessionCount()).toBe(before);
      // Probes and scrapes are never limited.
      for (let i = 0; i < 20; i++) expect((await request(`${gw.url}/health/live`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await request(`${gw.url}/config.json`)).status).toBe(200);
    });

    it('keys on the connection address: X-Forwarded-For is believed only from trusted proxies', async () => {
      const limits = { ...LENIENT_LIMITS, RATE_LIMIT_ADDRESS_BURST: '2', RATE_LIMIT_ADDRESS_PER_MINUTE: '1' };
      const direct = await gateway(limits);
      const spoofed = [];
      for (let i = 0; i < 4; i++) {
        spoofed.push(
          (await request(`${direct.url}/config.json`, { headers: { 'x-forwarded-for': `10.0.0.${i}` } })).status,
        );
      }
      expect(spoofed).toEqual([200, 200, 429, 429]);

      const proxied = await gateway({ ...limits, TRUSTED_PROXY_HOPS: '1' });
      const as = (client: string) =>
        request(`${proxied.url}/config.json`, { headers: { 'x-forwarded-for': client } }).then((r) => r.status);
      expect([await as('203.0.113.1'), await as('203.0.113.1'), await as('203.0.113.1')]).toEqual([200, 200, 429]);
      // Another client behind the same proxy has a bucket of its own; what a client prepends itself is ignored.
      expect(await as('203.0.113.2')).toBe(200);
      expect(await as('198.51.100.7, 203.0.113.1')).toBe(429);
    });
  });

  describe('per-user rate limit', () => {
    it('limits each signed-in user on their own, with a message that says so', async () => {
      const gw = await gateway({ ...LENIENT_LIMITS, RATE_LIMIT_USER_BURST: '3', RATE_LIMIT_USER_PER_MINUTE: '30' });
      const [alice, bob] = [aUser(), aUser()];
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await request(`${gw.url}/sessions?id=${aUser()}`, { headers: signedIn(alice) })).status);
      expect(statuses).toEqual([404, 404, 404, 429]);
      const limited = await request(`${gw.url}/sessions?id=${aUser()}`, { headers: signedIn(alice) });
      expect(limited.headers.get('retry-after')).toBe('2');
      expect(JSON.parse(limited.text)).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'rate limit: too many requests for your user; retry in 2 s',
      });
      const before = await sessionCount();
      expect((await create(gw, signedIn(alice))).status).toBe(429);
      expect(await sessionCount()).toBe(before);
      expect((await request(`${gw.url}/sessions?id=${aUser()}`, { headers: signedIn(bob) })).status).toBe(404);
    });
  });

  describe('concurrent builds per user (MAX_ACTIVE_BUILDS_PER_USER, default 3)', () => {
    it('answers the 4th queued or running build 429, writing nothing, until one finishes', async () => {
      const gw = await gateway({
        RATE_LIMIT_ADDRESS_BURST: '1000',
        RATE_LIMIT_USER_BURST: '1000',
      });
      expect(gw.config.MAX_ACTIVE_BUILDS_PER_USER).toBe(3);
      const [alice, bob] = [aUser(), aUser()];
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const created = await create(gw, signedIn(alice));
        expect(created.status).toBe(201);
        ids.push((JSON.parse(created.text) as { sessionId: string }).sessionId);
      }
      await control.query(`update build_sessions set status = 'running' where id = $1`, [ids[0]]);
      const [sessions, commands] = [await sessionCount(), await commandCount()];
      const refused = await create(gw, signedIn(alice));
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text)).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message:
          'builds: you have 3 build(s) queued or running, the most allowed at once is 3; wait for one to finish (or cancel one) and retry',
      });
      expect([await sessionCount(), await commandCount()]).toEqual([sessions, commands]);
      // Others are not held back by alice's builds.
      expect((await create(gw, signedIn(bob))).status).toBe(201);
      // A finished build frees its place.
      await control.query(`update build_sessions set status = 'succeeded' where id = $1`, [ids[0]]);
      expect((await create(gw, signedIn(alice))).status).toBe(201);
    });

    it('holds under parallel requests of one user: exactly the cap is created', async () => {
      const gw = await gateway({ RATE_LIMIT_ADDRESS_BURST: '1000', RATE_LIMIT_USER_BURST: '1000' });
      const carol = aUser();
      const statuses = await Promise.all(
        Array.from({ length: 12 }, () => create(gw, signedIn(carol)).then((r) => r.status)),
      );
      expect(statuses.filter((status) => status === 201)).toHaveLength(3);
      expect(statuses.filter((status) => status === 429)).toHaveLength(9);
      const { rows } = await control.query<{ n: number }>(
        'select count(*)::int as n from build_sessions where created_by = $1',
        [carol],
      );
      expect(rows[0]!.n).toBe(3);
    });

    it('gives anonymous builds (demo switch) one shared allowance', async () => {
      await control.query(`update build_sessions set status = 'succeeded' where created_by is null`);
      const gw = await gateway({
        ALLOW_ANONYMOUS_BUILDS: 'true',
        MAX_ACTIVE_BUILDS_PER_USER: '2',
        ...{ RATE_LIMIT_ADDRESS_BURST: '1000' },
      });
      expect([(await create(gw, {})).status, (await create(gw, {})).status]).toEqual([201, 201]);
      const refused = await create(gw, {});
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text).message).toMatch(
        /^builds: anonymous callers have 2 build\(s\) queued or running/,
      );
    });
  });

  describe('bodies and vibes', () => {
    it('answers a body over 64 KiB 413, and a vibe over the limit or with a NUL 400, writing nothing', async () => {
      const gw = await gateway(LENIENT_LIMITS);
      const before = await sessionCount();
      const big = await create(gw, signedIn(aUser()), vibe({ vibeText: 'x'.repeat(70_000) }));
      expect([big.status, JSON.parse(big.text).message]).toEqual([413, 'body: larger than the limit of 65536 bytes']);
      const long = await create(gw, signedIn(aUser()), vibe({ vibeText: 'x'.repeat(VIBE_TEXT_MAX_LENGTH + 1) }));
      expect([long.status, JSON.parse(long.text).message]).toEqual([
        400,
        `vibeText: vibeText must be at most ${VIBE_TEXT_MAX_LENGTH} characters`,
      ]);
      // Found by the fuzz test: Postgres text cannot hold NUL, which was a 500; now a 400 that names the field.
      const nul = await create(gw, signedIn(aUser()), vibe({ vibeText: 'a shop\u0000' }));
      expect([nul.status, JSON.parse(nul.text).message]).toEqual([
        400,
        'vibeText: vibeText must not contain NUL characters',
      ]);
      expect(await sessionCount()).toBe(before);
    });
  });

  describe('security headers', () => {
    it('are on every answer: API, errors, the stream; the viewer page keeps its own CSP; no HSTS over plain HTTP', async () => {
      const gw = await gateway(LENIENT_LIMITS);
      const owner = aUser();
      const created = JSON.parse((await create(gw, signedIn(owner))).text) as { sessionId: string; shareToken: string };
      const answers = {
        json: await request(`${gw.url}/sessions?id=${created.sessionId}`, { headers: signedIn(owner) }),
        unauthorized: await request(`${gw.url}/sessions?id=${created.sessionId}`),
        notFound: await request(`${gw.url}/nope`),
        stream: await request(`${gw.url}/sessions/${created.sessionId}/stream`, {
          headers: { 'x-share-token': created.shareToken },
        }),
      };
      for (const [name, answer] of Object.entries(answers)) {
        expect([name, answer.headers.get('x-content-type-options'), answer.headers.get('x-frame-options')]).toEqual([
          name,
          'nosniff',
          'DENY',
        ]);
        expect([name, answer.headers.get('referrer-policy')]).toEqual([name, 'no-referrer']);
        expect([name, answer.headers.get('content-security-policy')]).toEqual([
          name,
          expect.stringMatching(/^default-src 'none';.*frame-ancestors 'none'/),
        ]);
        expect([name, answer.headers.get('strict-transport-security')]).toEqual([name, null]);
      }
      expect(answers.stream.status).toBe(200);
      const page = await request(`${gw.url}/`);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    });

    it('add HSTS when the gateway is served over TLS (HSTS_MAX_AGE_SECONDS)', async () => {
      const gw = await gateway({ ...LENIENT_LIMITS, HSTS_MAX_AGE_SECONDS: '31536000' });
      const answer = await request(`${gw.url}/config.json`);
      expect(answer.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    });
  });

  describe('CORS', () => {
    const preflight = (gw: TestGateway, origin: string) =>
      request(`${gw.url}/sessions`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });

    it('allows no origin by default', async () => {
      const gw = await gateway(LENIENT_LIMITS);
      expect((await preflight(gw, 'https://app.example')).headers.get('access-control-allow-origin')).toBeNull();
      const read = await request(`${gw.url}/config.json`, { headers: { origin: 'https://app.example' } });
      expect(read.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('allows exactly the configured origins, with the API headers, never credentials', async () => {
      const gw = await gateway({ ...LENIENT_LIMITS, CORS_ORIGINS: 'https://app.example,http://localhost:5173' });
      const allowed = await preflight(gw, 'https://app.example');
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization.*content-type.*x-share-token/);
      expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
      expect((await preflight(gw, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
      expect(
        (await preflight(gw, 'https://app.example.evil.example')).headers.get('access-control-allow-origin'),
      ).toBeNull();
      const owner = aUser();
      const created = JSON.parse((await create(gw, signedIn(owner))).text) as { sessionId: string };
      const read = await request(`${gw.url}/events?session_id=${created.sessionId}`, {
        headers: { ...signedIn(owner), origin: 'http://localhost:5173' },
      });
      expect(read.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      expect(read.headers.get('access-control-expose-headers')).toContain('x-next-cursor');
    });
  });
});
