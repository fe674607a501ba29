/**
 * The gateway's live surfaces (issue 7) against its own control-plane database and NATS namespace: the
 * `after` cursor of GET /events, the server-sent event stream GET /sessions/:id/stream fed by the real
 * BUILD_EVENTS stream and presence bucket, and the viewer page with its config endpoint.
 */
import pg from 'pg';
import { decodeCursor, encodeCursor, newId, type BuildEvent, type BuildEventView } from '@vibe/contracts';
import {
  connectJetStream,
  encodeJson,
  LOCAL_DEV_JWT_SECRET,
  mintDevJwt,
  presenceBucket,
  publishEvent,
  type JetStreamContext,
} from '@vibe/platform';
import { BODY_LIMIT_BYTES, GatewayConfig } from '../src/config.js';
import { GatewayModule } from '../src/gateway.module.js';
import { startApp, type StartedApp } from '../../../test/support/app.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';

describe('gateway live surfaces: /events?after=, /sessions/:id/stream, the viewer page', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let gateway: StartedApp;
  let control: pg.Client;
  let nats: JetStreamContext;
  const OWNER = '5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_live');
    namespace = createNamespace('gwl');
    const config = GatewayConfig.parse({
      DATABASE_URL: db.url,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      PORT: '0',
      REALTIME_URL: 'http://127.0.0.1:9999',
    });
    gateway = await startApp(GatewayModule.forRoot(config), BODY_LIMIT_BYTES);
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    nats = await connectJetStream(NATS_URL, namespace.namespace, 'gateway-live-test');
  });

  afterAll(async () => {
    await gateway?.app.close();
    await control?.end();
    await nats?.nc.close();
    await namespace?.cleanup();
    await db?.drop();
  });

  async function aSession(): Promise<{ id: string; shareToken: string }> {
    const { rows } = await control.query<{ id: string; share_token: string }>(
      `insert into build_sessions (status, template, vibe_text, created_by)
       values ('running', 'marketplace', 'a shop', $1) returning id, share_token`,
      [OWNER],
    );
    return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
  }

  async function getEvents(query: string) {
    const response = await fetch(`${gateway.url}/events?${query}`, {
      headers: { authorization: `Bearer ${mintDevJwt(OWNER, LOCAL_DEV_JWT_SECRET)}` },
    });
    const body = (await response.json()) as BuildEventView[] & { message?: string };
    return { status: response.status, body, next: response.headers.get('x-next-cursor') };
  }

  describe('GET /events?after=', () => {
    /** Rows as the bridge projects them. Publish order (seq) and ts disagree once, as producers' clocks can. */
    async function aTimeline(sessionId: string) {
      const rows = [
        { seq: 11, ts: '2030-01-01T00:00:01.000Z', id: newId(), type: 'plan_created' },
        { seq: 12, ts: '2030-01-01T00:00:02.000Z', id: newId(), type: 'environment_created' },
        // Published after seq 12 but stamped a millisecond before it.
        { seq: 13, ts: '2030-01-01T00:00:01.999Z', id: newId(), type: 'provisioner_call' },
        { seq: 14, ts: '2030-01-01T00:00:03.000Z', id: newId(), type: 'table_created' },
        { seq: 15, ts: '2030-01-01T00:00:03.000Z', id: newId(), type: 'table_created' },
      ];
      for (const row of rows) {
        await control.query(
          `insert into build_events (id, session_id, ts, type, message, payload, seq) values ($1, $2, $3, $4, $4, '{}', $5)`,
          [row.id, sessionId, row.ts, row.type, row.seq],
        );
      }
      return rows;
    }

    it('returns what was published after the cursor, in timeline order, and the cursor to go on from', async () => {
      const session = await aSession();
      const rows = await aTimeline(session.id);
      const all = await getEvents(`session_id=${session.id}`);
      expect(all.body.map((e) => e.id)).toEqual([0, 2, 1, 3, 4].map((i) => rows[i]!.id));
      expect(decodeCursor(all.next!)).toEqual({ ts: '2030-01-01T00:00:03.000000Z', seq: 15, id: rows[4]!.id });

      // A client that had everything up to seq 12 (say, live broadcasts) misses nothing stamped earlier.
      const after12 = encodeCursor({ ts: rows[1]!.ts, seq: 12, id: rows[1]!.id });
      const missed = await getEvents(`session_id=${session.id}&after=${after12}`);
      expect(missed.status).toBe(200);
      expect(missed.body.map((e) => e.id)).toEqual([2, 3, 4].map((i) => rows[i]!.id));
      expect(decodeCursor(missed.next!)?.seq).toBe(15);

      const nothing = await getEvents(`session_id=${session.id}&after=${missed.next}`);
      expect(nothing.body).toEqual([]);
      expect(nothing.next).toBe(missed.next);
    });

    it('pages with limit, each page continuing where the last ended', async () => {
      const session = await aSession();
      const rows = await aTimeline(session.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 5; page++) {
        const got = await getEvents(`session_id=${session.id}&limit=2${cursor ? `&after=${cursor}` : ''}`);
        if (got.body.length === 0) break;
        seen.push(...got.body.map((e) => e.id));
        cursor = got.next;
      }
      expect([...seen].sort()).toEqual(rows.map((row) => row.id).sort());
      expect(new Set(seen).size).toBe(rows.length);
    });

    it.each([
      ['a cursor that is not one', 'after=not-a-cursor', 'after: not a cursor'],
      ['a limit of 0', 'limit=0', 'limit: '],
      ['a limit over 1000', 'limit=1001', 'limit: '],
    ])('answers 400 for %s, naming the parameter', async (_label, query, message) => {
      const session = await aSession();
      const got = await getEvents(`session_id=${session.id}&${query}`);
      expect(got.status).toBe(400);
      expect(got.body.message).toContain(message);
    });
  });

  describe('GET /sessions/:id/stream', () => {
    interface Frame {
      id?: string;
      event: string;
      data: string;
    }
    const frames = (text: string): Frame[] =>
      text
        .split('\n\n')
        .filter((block) => /^event: /m.test(block))
        .map((block) => {
          const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(block)?.[1];
          return { id: field('id'), event: field('event') ?? '', data: field('data') ?? '' };
        });

    /** Reads the stream until `until` holds for the frames so far, then hangs up. */
    async function readStream(path: string, headers: Record<string, string>, until: (f: Frame[]) => boolean) {
      const controller = new AbortController();
      const response = await fetch(`${gateway.url}${path}`, { headers, signal: controller.signal });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      let text = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true });
          if (until(frames(text))) break;
        }
      } finally {
        controller.abort();
      }
      return frames(text);
    }

    function anEvent(sessionId: string, n: number, overrides: Partial<BuildEvent> = {}): BuildEvent {
      return {
        id: newId(),
        sessionId,
        version: 1,
        ts: new Date().toISOString(),
        type: 'table_created',
        message: `table t${n}`,
        payload: { table: `t${n}`, columns: ['id'] },
        ...overrides,
      } as BuildEvent;
    }

    it('streams the events from JetStream (redacted like build_events) and the presence, for the owner', async () => {
      const session = await aSession();
      const events = [0, 1, 2].map((n) => anEvent(session.id, n));
      events.push(anEvent(session.id, 3, { message: 'connected to postgres://svc:hunter2@db/env' }));
      for (const event of events) await publishEvent(nats, event);
      const kv = await presenceBucket(nats);
      await kv.put(
        session.id,
        encodeJson({
          actor: 'architect',
          sessionId: session.id,
          step: 'configure_rls',
          focus: null,
          progress: 0.5,
          ts: new Date().toISOString(),
        }),
      );

      const got = await readStream(
        `/sessions/${session.id}/stream`,
        { authorization: `Bearer ${mintDevJwt(OWNER, LOCAL_DEV_JWT_SECRET)}` },
        (f) => f.filter((x) => x.event === 'table_created').length === 4 && f.some((x) => x.event === 'presence'),
      );
      const streamed = got.filter((f) => f.event === 'table_created');
      expect(streamed.map((f) => JSON.parse(f.data).id)).toEqual(events.map((e) => e.id));
      expect(JSON.parse(streamed[0]!.data)).toEqual({
        id: events[0]!.id,
        sessionId: session.id,
        ts: events[0]!.ts,
        type: 'table_created',
        message: 'table t0',
        payload: { table: 't0', columns: ['id'] },
      });
      expect(JSON.stringify(streamed)).not.toContain('hunter2');
      expect(decodeCursor(streamed[3]!.id!)?.id).toBe(events[3]!.id);
      expect(JSON.parse(got.find((f) => f.event === 'presence')!.data)).toMatchObject({
        step: 'configure_rls',
        progress: 0.5,
      });

      // From a cursor (Last-Event-ID, as EventSource sends it): only what was published after it, then live.
      const later = anEvent(session.id, 4);
      const resumed = readStream(
        `/sessions/${session.id}/stream?share_token=${session.shareToken}`,
        { 'last-event-id': streamed[1]!.id! },
        (f) => f.filter((x) => x.event === 'table_created').length === 3,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await publishEvent(nats, later);
      expect((await resumed).filter((f) => f.event === 'table_created').map((f) => JSON.parse(f.data).id)).toEqual([
        events[2]!.id,
        events[3]!.id,
        later.id,
      ]);
    });

    it.each([
      { label: 'no credentials', headers: {}, status: 401, message: 'authorization: send' },
      {
        label: 'an expired owner token',
        headers: { authorization: `Bearer ${mintDevJwt(OWNER, LOCAL_DEV_JWT_SECRET, -60)}` },
        status: 401,
        message: 'authorization: the token has expired',
      },
      {
        label: 'a token signed with another secret',
        headers: { authorization: `Bearer ${mintDevJwt(OWNER, 'y'.repeat(40))}` },
        status: 401,
        message: 'authorization: bad signature',
      },
      {
        label: "another user's token",
        headers: { authorization: `Bearer ${mintDevJwt(newId(), LOCAL_DEV_JWT_SECRET)}` },
        status: 404,
        message: 'id: no session',
      },
      {
        label: 'a wrong share token',
        headers: { 'x-share-token': 'not-the-share-token-of-this-one-00' },
        status: 404,
        message: 'id: no session',
      },
    ])('answers $label with $status', async ({ headers, status, message }) => {
      const session = await aSession();
      const response = await fetch(`${gateway.url}/sessions/${session.id}/stream`, { headers });
      expect(response.status).toBe(status);
      expect(((await response.json()) as { message: string }).message).toContain(message);
    });

    it('answers an unknown session like a foreign one, and a malformed id or cursor with 400', async () => {
      const session = await aSession();
      const unknown = await fetch(`${gateway.url}/sessions/${newId()}/stream`, {
        headers: { 'x-share-token': session.shareToken },
      });
      expect(unknown.status).toBe(404);
      expect((await fetch(`${gateway.url}/sessions/nope/stream?share_token=x`)).status).toBe(400);
      const badCursor = await fetch(`${gateway.url}/sessions/${session.id}/stream`, {
        headers: { 'x-share-token': session.shareToken, 'last-event-id': 'garbage' },
      });
      expect(badCursor.status).toBe(400);
    });
  });

  describe('the viewer page', () => {
    it('serves the page, its script and style, and supabase-js from node_modules, with a strict CSP', async () => {
      const page = await fetch(`${gateway.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self' http://127.0.0.1:9999 ws://127.0.0.1:9999");
      const html = await page.text();
      expect(html).toContain('src="/vendor/supabase.js"');
      expect(html).not.toMatch(/https?:\/\/(?!127)/);
      for (const [path, type] of [
        ['/viewer.js', 'text/javascript'],
        ['/viewer.css', 'text/css'],
        ['/vendor/supabase.js', 'text/javascript'],
      ]) {
        const asset = await fetch(`${gateway.url}${path}`);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('content-type')).toContain(type!);
      }
      expect(await (await fetch(`${gateway.url}/vendor/supabase.js`)).text()).toMatch(/^var supabase=/);
    });

    it('tells the page where Realtime is', async () => {
      const config = await (await fetch(`${gateway.url}/config.json`)).json();
      expect(config).toEqual({
        realtime: { mode: 'local', url: 'http://127.0.0.1:9999', apiKey: 'local' },
        auth: { devTokens: false, anonymousBuilds: false },
      });
    });
  });

  it('keeps its health check', async () => {
    await waitFor(async () => (await fetch(`${gateway.url}/health`)).ok, { timeoutMs: 5000, what: 'health' });
  });
});
