/**
 * Who may see and do what (issue 9, spec §3.2, DESIGN.md §6): two users, a session's share token, and nobody,
 * against every route the gateway registers and against the Realtime channel `build:{sessionId}` of the
 * realtime-bridge. The gateway, the bridge and a drift sentinel run in this process against their own
 * control-plane database and NATS namespace. The table is data: a route the gateway registers without a row here
 * fails the first test, so a new route cannot ship without a decision about who may call it.
 */
import pg from 'pg';
import { newId } from '@vibe/contracts';
import { mintDevJwt } from '@vibe/platform';
import { BridgeConfig } from '../../services/realtime-bridge/src/config.js';
import { RealtimeBridgeModule } from '../../services/realtime-bridge/src/realtime-bridge.module.js';
import { SentinelConfig } from '../../services/drift-sentinel/src/config.js';
import { DriftSentinelModule } from '../../services/drift-sentinel/src/drift-sentinel.module.js';
import { startApp, type StartedApp } from '../support/app.js';
import { aUser, LENIENT_LIMITS, signedIn, TEST_JWT_SECRET, tokenFor } from '../support/auth.js';
import { createControlPlaneDatabase, createNamespace, NATS_URL, type TestDatabase } from '../support/index.js';
import { joinBuild, type BuildChannel } from '../support/realtime.js';
import { request, startGateway, type TestGateway } from './support.js';

/** The callers of the table. */
const CALLERS = ['owner', 'other', 'shareHeader', 'shareQuery', 'otherWithShare', 'wrongShare', 'nobody'] as const;
type CallerName = (typeof CALLERS)[number];

interface Target {
  id: string;
  shareToken: string;
}

/** What a caller sends: headers, and a query parameter. */
function credentials(caller: CallerName, target: Target, users: { owner: string; other: string }) {
  switch (caller) {
    case 'owner':
      return { headers: signedIn(users.owner), query: '' };
    case 'other':
      return { headers: signedIn(users.other), query: '' };
    case 'shareHeader':
      return { headers: { 'x-share-token': target.shareToken }, query: '' };
    case 'shareQuery':
      return { headers: {}, query: `share_token=${encodeURIComponent(target.shareToken)}` };
    case 'otherWithShare':
      return { headers: { ...signedIn(users.other), 'x-share-token': target.shareToken }, query: '' };
    case 'wrongShare':
      return { headers: { 'x-share-token': 'not-the-share-token-of-this-session' }, query: '' };
    case 'nobody':
      return { headers: {}, query: '' };
    default: {
      const unknown: never = caller;
      throw new Error(`unknown caller ${String(unknown)}`);
    }
  }
}

/** One route: how to call it on a session, and the status each caller gets. */
interface Row {
  call: (id: string) => { method: string; path: string; body?: object };
  expect: Record<CallerName, number>;
}

const everyone = (status: number): Record<CallerName, number> =>
  Object.fromEntries(CALLERS.map((caller) => [caller, status])) as Record<CallerName, number>;

/** Owner and share-token holders read; a foreign user or a wrong token gets 404; no credentials 401. */
const READ = (ok: number): Record<CallerName, number> => ({
  owner: ok,
  other: 404,
  shareHeader: ok,
  shareQuery: ok,
  otherWithShare: ok,
  wrongShare: 404,
  nobody: 401,
});

/** Only the owner; a share token (alone) is not even considered, with another user's JWT it is 404. */
const WRITE = (ok: number): Record<CallerName, number> => ({
  owner: ok,
  other: 404,
  shareHeader: 401,
  shareQuery: 401,
  otherWithShare: 404,
  wrongShare: 401,
  nobody: 401,
});

const vibe = { vibeText: 'A marketplace for vintage cameras', template: 'marketplace' };

/** THE TABLE: every route of the gateway. */
const TABLE: Record<string, Row> = {
  'POST /sessions': {
    call: () => ({ method: 'POST', path: '/sessions', body: vibe }),
    // Any signed-in user creates their own sessions; a share token is no sign-in.
    expect: { ...everyone(401), owner: 201, other: 201, otherWithShare: 201 },
  },
  'GET /sessions': { call: (id) => ({ method: 'GET', path: `/sessions?id=${id}` }), expect: READ(200) },
  'GET /events': { call: (id) => ({ method: 'GET', path: `/events?session_id=${id}` }), expect: READ(200) },
  'GET /sessions/{id}/stream': { call: (id) => ({ method: 'GET', path: `/sessions/${id}/stream` }), expect: READ(200) },
  // Issue 12: the generated types, read like the session (409 here: the target's build has not succeeded).
  'GET /sessions/{id}/types': { call: (id) => ({ method: 'GET', path: `/sessions/${id}/types` }), expect: READ(409) },
  'GET /sessions/{id}/drift': { call: (id) => ({ method: 'GET', path: `/sessions/${id}/drift` }), expect: READ(200) },
  'POST /sessions/{id}/cancel': {
    call: (id) => ({ method: 'POST', path: `/sessions/${id}/cancel` }),
    expect: WRITE(202),
  },
  // Issue 12: only the owner deletes (the teardown is queued: 202).
  'DELETE /sessions/{id}': { call: (id) => ({ method: 'DELETE', path: `/sessions/${id}` }), expect: WRITE(202) },
  'POST /sessions/{id}/drift-check': {
    call: (id) => ({ method: 'POST', path: `/sessions/${id}/drift-check` }),
    // The owner gets through to the sentinel, which cannot check a queued build (409).
    expect: WRITE(409),
  },
  'GET /': { call: () => ({ method: 'GET', path: '/' }), expect: everyone(200) },
  'GET /viewer.js': { call: () => ({ method: 'GET', path: '/viewer.js' }), expect: everyone(200) },
  'GET /viewer.css': { call: () => ({ method: 'GET', path: '/viewer.css' }), expect: everyone(200) },
  'GET /vendor/supabase.js': { call: () => ({ method: 'GET', path: '/vendor/supabase.js' }), expect: everyone(200) },
  'GET /config.json': { call: () => ({ method: 'GET', path: '/config.json' }), expect: everyone(200) },
  'GET /openapi.json': { call: () => ({ method: 'GET', path: '/openapi.json' }), expect: everyone(200) },
  'GET /docs': { call: () => ({ method: 'GET', path: '/docs' }), expect: everyone(200) },
  'GET /health': { call: () => ({ method: 'GET', path: '/health' }), expect: everyone(200) },
  'GET /health/live': { call: () => ({ method: 'GET', path: '/health/live' }), expect: everyone(200) },
  'GET /metrics': { call: () => ({ method: 'GET', path: '/metrics' }), expect: everyone(200) },
  // Served only with DEV_TOKENS (off here, as by default): absent for everyone.
  'POST /auth/dev-token': { call: () => ({ method: 'POST', path: '/auth/dev-token' }), expect: everyone(404) },
};

/** The routes of one session: a foreign user gets 404 there, its owner does not. */
const SESSION_ROUTES = Object.entries(TABLE).filter(([, row]) => row.expect.other === 404 && row.expect.owner !== 404);

describe('the access table: two users, a share token and nobody, against every route and the Realtime join', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let gateway: TestGateway;
  let bridge: StartedApp;
  let sentinel: StartedApp;
  let control: pg.Client;
  const users = { owner: aUser(), other: aUser() };
  const open: BuildChannel[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_access');
    namespace = createNamespace('acc');
    const common = { DATABASE_URL: db.url, NATS_URL, NATS_NAMESPACE: namespace.namespace, PORT: '0' };
    gateway = await startGateway({ ...common, ...LENIENT_LIMITS });
    bridge = await startApp(RealtimeBridgeModule.forRoot(BridgeConfig.parse(common)));
    sentinel = await startApp(DriftSentinelModule.forRoot(SentinelConfig.parse({ ...common, DRIFT_SCHEDULE: 'off' })));
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
  });

  afterAll(async () => {
    await Promise.all(
      open.map(async (channel) => {
        await channel.close();
        await channel.client.realtime.disconnect();
      }),
    );
    await gateway?.close();
    await bridge?.app.close();
    await sentinel?.app.close();
    await control?.end();
    await namespace?.cleanup();
    await db?.drop();
  });

  /** A session as the gateway writes it: queued, owned by `createdBy` (null: an anonymous build). */
  async function aSession(createdBy: string | null = users.owner): Promise<Target> {
    const { rows } = await control.query<{ id: string; share_token: string }>(
      `insert into build_sessions (status, template, vibe_text, created_by) values ('queued', 'marketplace', 'a shop', $1)
       returning id, share_token`,
      [createdBy],
    );
    return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
  }

  async function callAs(caller: CallerName, row: Row, target: Target) {
    const { method, path, body } = row.call(target.id);
    const { headers, query } = credentials(caller, target, users);
    const url = `${gateway.url}${path}${query ? `${path.includes('?') ? '&' : '?'}${query}` : ''}`;
    return request(url, {
      method,
      headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  }

  it('has a row for every route the gateway registers, and no row for a route it does not', () => {
    const registered = gateway.routes();
    expect(registered.length).toBeGreaterThan(15);
    expect({
      withoutRow: registered.filter((route) => !(route in TABLE)),
      notRegistered: Object.keys(TABLE).filter((route) => !registered.includes(route)),
    }).toEqual({ withoutRow: [], notRegistered: [] });
  });

  it('answers every caller on every route as the table says', async () => {
    const target = await aSession();
    const actual: Record<string, Record<string, number>> = {};
    for (const [route, row] of Object.entries(TABLE)) {
      actual[route] = {};
      for (const caller of CALLERS) actual[route][caller] = (await callAs(caller, row, target)).status;
    }
    const expected = Object.fromEntries(Object.entries(TABLE).map(([route, row]) => [route, row.expect]));
    expect(actual).toEqual(expected);
  });

  it('reaches an anonymous session (demo switch) by its share token only, read-only', async () => {
    const target = await aSession(null);
    const actual: Record<string, Record<string, number>> = {};
    const sessionRoutes = SESSION_ROUTES;
    for (const [route, row] of sessionRoutes) {
      actual[route] = {};
      for (const caller of CALLERS) actual[route][caller] = (await callAs(caller, row, target)).status;
    }
    // Nobody owns it: the would-be owner is just another user.
    const expected = Object.fromEntries(
      sessionRoutes.map(([route, row]) => [route, { ...row.expect, owner: row.expect.other }]),
    );
    expect(actual).toEqual(expected);
  });

  it('answers a foreign session exactly like an unknown one (404, same body but for the id)', async () => {
    const foreign = await aSession(users.other);
    const unknown = { id: newId(), shareToken: foreign.shareToken };
    expect(SESSION_ROUTES.map(([route]) => route)).toHaveLength(8);
    for (const [route, row] of SESSION_ROUTES) {
      const a = await callAs('owner', row, foreign);
      const b = await callAs('owner', row, unknown);
      expect([route, a.status, a.text.replace(foreign.id, '<id>')]).toEqual([
        route,
        404,
        b.text.replace(unknown.id, '<id>'),
      ]);
    }
  });

  it("tells the share token to the session's owner only", async () => {
    const created = await request(`${gateway.url}/sessions`, {
      method: 'POST',
      headers: { ...signedIn(users.owner), 'content-type': 'application/json' },
      body: JSON.stringify(vibe),
    });
    const { sessionId, shareToken } = JSON.parse(created.text) as { sessionId: string; shareToken: string };
    const { rows } = await control.query('select created_by, share_token from build_sessions where id = $1', [
      sessionId,
    ]);
    expect(rows).toEqual([{ created_by: users.owner, share_token: shareToken }]);
    const target = { id: sessionId, shareToken };
    const owner = await callAs('owner', TABLE['GET /sessions']!, target);
    expect(JSON.parse(owner.text)).toMatchObject({ id: sessionId, shareToken });
    for (const caller of ['shareHeader', 'shareQuery', 'otherWithShare'] as const) {
      const read = await callAs(caller, TABLE['GET /sessions']!, target);
      expect([caller, read.status, read.text.includes(shareToken), /shareToken/.test(read.text)]).toEqual([
        caller,
        200,
        false,
        false,
      ]);
    }
  });

  it('never lets a share token change anything: cancel and drift-check leave no command and no row', async () => {
    const target = await aSession();
    const before = await control.query('select * from build_sessions where id = $1', [target.id]);
    for (const caller of ['shareHeader', 'shareQuery', 'otherWithShare'] as const) {
      expect((await callAs(caller, TABLE['POST /sessions/{id}/cancel']!, target)).status).not.toBe(202);
      expect((await callAs(caller, TABLE['POST /sessions/{id}/drift-check']!, target)).status).not.toBe(409);
    }
    expect((await control.query('select * from build_sessions where id = $1', [target.id])).rows).toEqual(before.rows);
    const checks = await control.query('select count(*)::int as n from drift_checks where session_id = $1', [
      target.id,
    ]);
    expect(checks.rows[0].n).toBe(0);
  });

  describe('the Realtime join (realtime-bridge)', () => {
    const join = (sessionId: string, options: Parameters<typeof joinBuild>[2]) => {
      const channel = joinBuild(bridge.url, sessionId, options);
      open.push(channel);
      return channel;
    };

    it('admits the owner and share-token holders, and no one else, alike for unknown and foreign sessions', async () => {
      const target = await aSession();
      const anonymous = await aSession(null);
      const foreign = await aSession(users.other);
      const expired = mintDevJwt(users.owner, TEST_JWT_SECRET, -60);
      const forged = mintDevJwt(users.owner, 'another-secret-another-secret-another-secret');
      const cases: Array<[string, string, Parameters<typeof joinBuild>[2], string]> = [
        ['owner', target.id, { accessToken: tokenFor(users.owner) }, 'SUBSCRIBED'],
        ['share token', target.id, { shareToken: target.shareToken }, 'SUBSCRIBED'],
        [
          'other user + share token',
          target.id,
          { accessToken: tokenFor(users.other), shareToken: target.shareToken },
          'SUBSCRIBED',
        ],
        ['other user', target.id, { accessToken: tokenFor(users.other) }, 'CHANNEL_ERROR'],
        ['wrong share token', target.id, { shareToken: 'not-the-share-token-of-this-session' }, 'CHANNEL_ERROR'],
        ['nobody', target.id, {}, 'CHANNEL_ERROR'],
        ['expired owner token', target.id, { accessToken: expired }, 'CHANNEL_ERROR'],
        ['owner token signed with another secret', target.id, { accessToken: forged }, 'CHANNEL_ERROR'],
        ['anonymous session, would-be owner', anonymous.id, { accessToken: tokenFor(users.owner) }, 'CHANNEL_ERROR'],
        ['anonymous session, share token', anonymous.id, { shareToken: anonymous.shareToken }, 'SUBSCRIBED'],
        ['foreign session, owner of another', foreign.id, { accessToken: tokenFor(users.owner) }, 'CHANNEL_ERROR'],
        ['unknown session, a real share token', newId(), { shareToken: target.shareToken }, 'CHANNEL_ERROR'],
      ];
      const outcomes = await Promise.all(
        cases.map(([, id, options]) => join(id, { vsn: '2.0.0', ...options }).subscribed),
      );
      expect(cases.map(([label], i) => [label, outcomes[i]])).toEqual(
        cases.map(([label, , , status]) => [label, status]),
      );
    });

    it('is read-only for the owner and for share-token holders: their broadcasts are refused', async () => {
      const target = await aSession();
      for (const options of [{ accessToken: tokenFor(users.owner) }, { shareToken: target.shareToken }]) {
        const channel = join(target.id, { ...options, ack: true });
        expect(await channel.subscribed).toBe('SUBSCRIBED');
        expect(await channel.channel.send({ type: 'broadcast', event: 'build_succeeded', payload: {} })).toBe('error');
      }
    });
  });
});
