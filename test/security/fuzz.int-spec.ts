/**
 * Hostile input, generated (issue 9): thousands of bodies for POST /sessions and of parameters, paths and
 * credentials for the session and query endpoints, sent to a real gateway (this process, its own control-plane
 * database and NATS namespace). Whatever arrives: never a 5xx, never a crash (the gateway is healthy afterwards
 * and logged no unexpected error), and a request that is not accepted writes nothing (no session row, no build
 * command). fast-check shrinks a failure to the smallest input that shows it.
 */
import fc from 'fast-check';
import pg from 'pg';
import { encodeCursor, newId } from '@vibe/contracts';
import { connectJetStream, mintDevJwt, type JetStreamContext } from '@vibe/platform';
import { aUser, LENIENT_LIMITS, signedIn, tokenFor } from '../support/auth.js';
import { createControlPlaneDatabase, createNamespace, NATS_URL, type TestDatabase } from '../support/index.js';
import { request, startGateway, type TestGateway } from './support.js';

/** Runs per property; the two main properties send a few thousand requests together. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);

describe('the gateway under generated hostile input', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let gateway: TestGateway;
  let control: pg.Client;
  let nats: JetStreamContext;
  const owner = aUser();
  let owned: { id: string; shareToken: string };

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_fuzz');
    namespace = createNamespace('fz');
    gateway = await startGateway({ DATABASE_URL: db.url, NATS_NAMESPACE: namespace.namespace, ...LENIENT_LIMITS });
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    nats = await connectJetStream(NATS_URL, namespace.namespace, 'fuzz-test');
    const { rows } = await control.query<{ id: string; share_token: string }>(
      `insert into build_sessions (status, template, vibe_text, created_by) values ('running', 'saas', 'x', $1)
       returning id, share_token`,
      [owner],
    );
    owned = { id: rows[0]!.id, shareToken: rows[0]!.share_token };
  });

  afterAll(async () => {
    await gateway?.close();
    await nats?.nc.close();
    await control?.end();
    await namespace?.cleanup();
    await db?.drop();
  });

  /** What a request can have written: session rows, and build commands on the stream. */
  async function written(): Promise<{ sessions: number; commands: number }> {
    const { rows } = await control.query<{ n: number }>('select count(*)::int as n from build_sessions');
    const info = await nats.jsm.streams.info(nats.topology.streams.buildCommands);
    return { sessions: rows[0]!.n, commands: info.state.messages };
  }

  // --- Generators ---------------------------------------------------------------------------------------------

  /** Strings a hostile client would try: unicode, control characters, SQL, paths, huge ones, secrets. */
  const nasty = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 10 }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      "'; drop table build_sessions; --",
      '../../etc/passwd',
      '%00',
      '{"$ne":null}',
      'null',
      'true',
      '-1',
      '1e309',
      '🔥'.repeat(50),
      'sk-abcdefghijklmnopqrstuvwxyz0123456789',
      'x'.repeat(5000),
    ),
  );

  /** The owner's credentials, minted once (so they can be recognised below). */
  const ownerAuth = signedIn(owner);
  const credentials = fc.oneof(
    fc.constant({}),
    fc.constant(ownerAuth),
    fc.constant(ownerAuth),
    fc.constant(ownerAuth),
    fc.constant(signedIn(aUser())),
    fc.constant({ 'x-share-token': 'placeholder' }),
    nasty.map((value) => ({ authorization: `Bearer ${value.replace(/[^\x20-\x7e]/g, '')}` })),
    nasty.map((value) => ({ 'x-share-token': value.replace(/[^\x20-\x7e]/g, '') })),
    fc.constant({ authorization: `Bearer ${mintDevJwt(owner, 'wrong-secret-wrong-secret-wrong-secret')}` }),
    fc.constant({ authorization: `Bearer ${tokenFor(owner, -10)}` }),
  );

  /** Bodies around the valid shape (most fields right, one wrong) and far from it. */
  const almostValid = fc.record(
    {
      vibeText: fc.oneof(
        fc.string({ minLength: 1, maxLength: 200 }),
        nasty,
        fc.integer(),
        fc.constant(null),
        fc.string({ minLength: 3990, maxLength: 4010 }),
      ),
      template: fc.oneof(fc.constantFrom('marketplace', 'saas'), nasty, fc.constant(null)),
      options: fc.oneof(
        fc.record(
          {
            enableAnalytics: fc.oneof(fc.boolean(), nasty),
            enableDriftSentinel: fc.oneof(fc.boolean(), fc.integer()),
            environmentMode: fc.oneof(fc.constantFrom('branch', 'project'), nasty),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
      createdBy: fc.uuid(),
      constructor: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );

  /** Valid bodies, so that acceptance (201, and exactly one row and one command) is exercised too. */
  const valid = fc.record(
    {
      vibeText: fc.string({ minLength: 1, maxLength: 300 }).filter((text) => text.trim() !== ''),
      template: fc.constantFrom('marketplace', 'saas'),
      options: fc.record(
        {
          enableAnalytics: fc.boolean(),
          enableDriftSentinel: fc.boolean(),
          environmentMode: fc.constantFrom('branch', 'project'),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['vibeText', 'template'] },
  );

  const body = fc.oneof(
    { arbitrary: valid.map((value) => JSON.stringify(value)), weight: 3 },
    { arbitrary: almostValid.map((value) => JSON.stringify(value)), weight: 5 },
    { arbitrary: fc.constant(JSON.stringify({ vibeText: 'x'.repeat(70_000), template: 'saas' })), weight: 1 },
    { arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)), weight: 2 },
    { arbitrary: nasty, weight: 1 },
    {
      arbitrary: fc.constant('{"vibeText": "a", "template": "saas", "options": {"a": {"b": {"c": ['.repeat(200)),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom(
        '{"__proto__": {"enableAnalytics": true}, "vibeText": "a shop", "template": "saas"}',
        '{"vibeText": "a shop", "template": "saas", "options": {"__proto__": {"environmentMode": "cluster"}}}',
        '{"vibeText": "a shop", "vibeText": "", "template": "saas"}',
        `{"vibeText": "${'\\u0000'.repeat(10)}", "template": "marketplace"}`,
      ),
      weight: 1,
    },
  );

  const contentType = fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 6 },
    {
      arbitrary: fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
        'multipart/form-data',
        '',
      ),
      weight: 1,
    },
  );

  const cursorLike = fc.oneof(
    nasty,
    fc.constant(encodeCursor({ ts: '2030-01-01T00:00:00.000000Z', seq: 1, id: newId() })),
    fc.constant(encodeCursor({ ts: 'not a time', seq: -5, id: 'x' })),
    fc.base64String({ maxLength: 80 }),
  );
  const idLike = fc.oneof(fc.constant('OWNED'), fc.uuid().map(String), nasty, fc.constant(newId().toUpperCase()));
  const queryValue = fc.oneof(
    idLike,
    cursorLike,
    fc.integer().map(String),
    fc.constantFrom('open', 'resolved', '0', '1001'),
  );
  const query = fc.dictionary(
    fc.oneof(
      fc.constantFrom('id', 'session_id', 'after', 'limit', 'status', 'share_token'),
      fc.string({ maxLength: 8 }),
    ),
    fc.oneof(queryValue, fc.array(queryValue, { maxLength: 3 })),
    { maxKeys: 4 },
  );

  const ROUTES = [
    { method: 'GET', path: () => '/sessions' },
    { method: 'GET', path: () => '/events' },
    { method: 'GET', path: (id: string) => `/sessions/${id}/drift` },
    { method: 'GET', path: (id: string) => `/sessions/${id}/stream` },
    { method: 'POST', path: (id: string) => `/sessions/${id}/cancel` },
    // Signed in as someone other than the owner below: the owner's check would wait for a sentinel (none here).
    { method: 'POST', path: (id: string) => `/sessions/${id}/drift-check` },
  ] as const;

  const resolve = (value: string) => (value === 'OWNED' ? owned.id : value);

  function queryString(params: Record<string, string | string[]>): string {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      for (const item of [value].flat()) search.append(key, resolve(item));
    }
    const text = search.toString();
    return text ? `?${text}` : '';
  }

  function withShareToken(headers: Record<string, string>): Record<string, string> {
    return headers['x-share-token'] === 'placeholder' ? { 'x-share-token': owned.shareToken } : headers;
  }

  // --- Properties ---------------------------------------------------------------------------------------------

  it(`POST /sessions: ${RUNS} generated bodies, content types and credentials, never a 5xx, nothing written unless 201`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, contentType, credentials, async (text, type, headers) => {
        const before = await written();
        const response = await request(`${gateway.url}/sessions`, {
          method: 'POST',
          headers: { ...withShareToken(headers), ...(type ? { 'content-type': type } : {}) },
          body: text,
        });
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        expect(response.status).toBeLessThan(500);
        const after = await written();
        if (response.status === 201) {
          expect(after).toEqual({ sessions: before.sessions + 1, commands: before.commands + 1 });
        } else {
          expect(after).toEqual(before);
        }
      }),
      { numRuns: RUNS },
    );
    // The generators reach the interesting answers, not only one kind of refusal.
    expect([...seen.keys()].sort()).toEqual(expect.arrayContaining([201, 400, 401, 413, 415]));
  });

  it(`the session and query endpoints: ${RUNS} generated paths, parameters and credentials, never a 5xx, nothing written unless accepted`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), idLike, query, credentials, async (route, id, params, headers) => {
        const segment = encodeURIComponent(resolve(id));
        const sent =
          route.path('x').endsWith('/drift-check') && headers === ownerAuth
            ? signedIn(aUser())
            : withShareToken(headers);
        const before = await written();
        const response = await request(`${gateway.url}${route.path(segment)}${queryString(params)}`, {
          method: route.method,
          headers: sent,
        });
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        expect([route.method, route.path(segment), response.status < 500]).toEqual([
          route.method,
          route.path(segment),
          true,
        ]);
        const after = await written();
        // An accepted cancel records its command (once: a repeat is a duplicate of the same command id); nothing
        // else writes.
        const accepted = route.method === 'POST' && response.status === 202;
        expect(after.sessions).toBe(before.sessions);
        expect(after.commands - before.commands).toBe(accepted ? after.commands - before.commands : 0);
        expect(after.commands - before.commands).toBeLessThanOrEqual(1);
      }),
      { numRuns: RUNS },
    );
    expect([...seen.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 401, 404]));
  });

  it('is still healthy afterwards, and logged no unexpected error', async () => {
    expect((await request(`${gateway.url}/health`)).status).toBe(200);
    expect(gateway.log.lines.filter((line) => /^error /.test(line))).toEqual([]);
  });
});
