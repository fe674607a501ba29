import type pg from 'pg';
import { SessionView, StartBuild, VIBE_TEXT_MAX_LENGTH, newId, stableId } from '@vibe/contracts';
import { decodeJson, ensureTopology, type JetStreamContext } from '@vibe/platform';
import { aUser, signedIn } from '../../../test/support/auth.js';
import { BODY_LIMIT_BYTES } from '../src/config.js';
import { startLoneGateway, type LoneGateway } from '../../../test/support/gateway.js';

/** The gateway against its own control-plane database and NATS namespace; no orchestrator consumes. */
describe('gateway REST API (spec §4)', () => {
  let lone: LoneGateway;
  let gateway: LoneGateway['gateway'];
  let control: pg.Client;
  let nats: JetStreamContext;

  beforeAll(async () => {
    lone = await startLoneGateway('gateway');
    ({ gateway, control, nats } = lone);
  });

  afterAll(async () => {
    await lone?.close();
  });

  // The user every request is signed in as (access rules have their own tests: test/security).
  const owner = aUser();

  async function call(method: string, path: string, body?: string | object, contentType = 'application/json') {
    const init: RequestInit = { method, headers: signedIn(owner) };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers = { ...signedIn(owner), 'content-type': contentType };
    }
    const response = await fetch(`${gateway.url}${path}`, init);
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
  }

  // Factory for valid create requests.
  const aVibe = (overrides: Record<string, unknown> = {}) => ({
    vibeText: 'A marketplace for vintage cameras; buyers see only their own orders.',
    template: 'marketplace',
    ...overrides,
  });

  async function sessionCount(): Promise<number> {
    const { rows } = await control.query<{ n: number }>('select count(*)::int as n from build_sessions');
    return rows[0]!.n;
  }

  async function commandCount(): Promise<number> {
    return (await nats.jsm.streams.info(nats.topology.streams.buildCommands)).state.messages;
  }

  async function lastStartCommand(): Promise<{ msgId: string | undefined; command: StartBuild }> {
    const stored = await nats.jsm.streams.getMessage(nats.topology.streams.buildCommands, {
      last_by_subj: nats.topology.subjects.buildCommand('start'),
    });
    expect(stored).not.toBeNull();
    return { msgId: stored!.header?.get('Nats-Msg-Id'), command: StartBuild.parse(decodeJson(stored!.data)) };
  }

  async function createSession(overrides: Record<string, unknown> = {}): Promise<string> {
    const created = await call('POST', '/sessions', aVibe(overrides));
    expect(created.status).toBe(201);
    return created.body.sessionId as string;
  }

  describe('POST /sessions', () => {
    it('stores a queued session with option defaults and queues its StartBuild command, id as Nats-Msg-Id', async () => {
      const before = await commandCount();
      const created = await call('POST', '/sessions', {
        vibeText: '  A marketplace for vintage cameras  ',
        template: 'marketplace',
        options: { enableAnalytics: true },
      });

      expect(created.status).toBe(201);
      expect(Object.keys(created.body)).toEqual(['sessionId', 'shareToken']);
      const sessionId = created.body.sessionId as string;
      const { rows } = await control.query(
        'select status, template, vibe_text, options, share_token from build_sessions where id = $1',
        [sessionId],
      );
      expect(rows).toEqual([
        {
          share_token: created.body.shareToken,
          status: 'queued',
          template: 'marketplace',
          vibe_text: 'A marketplace for vintage cameras',
          options: { enableAnalytics: true, enableDriftSentinel: false, environmentMode: 'branch' },
        },
      ]);
      expect(await commandCount()).toBe(before + 1);
      const { msgId, command } = await lastStartCommand();
      const commandId = stableId(sessionId, 'start');
      expect(command).toEqual({ kind: 'start', version: 1, commandId, sessionId });
      expect(msgId).toBe(commandId);
    });

    it('accepts a vibe of exactly the longest length', async () => {
      const sessionId = await createSession({ vibeText: 'v'.repeat(VIBE_TEXT_MAX_LENGTH), template: 'saas' });
      expect((await lastStartCommand()).command.sessionId).toBe(sessionId);
    });

    it.each([
      ['a body that is not JSON', 'body', '{"vibeText": "x", '],
      ['an empty JSON body', 'body', ''],
      ['a JSON array', 'body', [aVibe()]],
      ['a JSON string', 'body', '"build me a shop"'],
      ['a missing vibeText', 'vibeText', { template: 'saas' }],
      ['a blank vibeText', 'vibeText', aVibe({ vibeText: '   ' })],
      ['a vibeText over the limit', 'vibeText', aVibe({ vibeText: 'x'.repeat(VIBE_TEXT_MAX_LENGTH + 1) })],
      ['a vibeText that is not a string', 'vibeText', aVibe({ vibeText: 42 })],
      ['a missing template', 'template', { vibeText: 'a shop' }],
      ['an unknown template', 'template', aVibe({ template: 'crm' })],
      ['options that are not an object', 'options', aVibe({ options: 'all' })],
      ['options of null', 'options', aVibe({ options: null })],
      ['a non-boolean option', 'options.enableAnalytics', aVibe({ options: { enableAnalytics: 'yes' } })],
      ['an unknown mode', 'options.environmentMode', aVibe({ options: { environmentMode: 'cluster' } })],
      ['an unknown option', 'options.turbo', aVibe({ options: { turbo: true } })],
      ['an unknown field', 'createdBy', aVibe({ createdBy: 'me' })],
    ])('rejects %s with 400 naming `%s`, and writes nothing', async (_label, field, body) => {
      const [sessions, commands] = [await sessionCount(), await commandCount()];

      const rejected = await call('POST', '/sessions', body);

      expect(rejected.status).toBe(400);
      expect(rejected.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.any(String) });
      expect(rejected.body.message).toMatch(new RegExp(`(^|; )${field.replace(/\./g, '\\.')}: `));
      expect(await sessionCount()).toBe(sessions);
      expect(await commandCount()).toBe(commands);
    });

    it.each([
      ['text/plain', JSON.stringify(aVibe())],
      ['application/x-www-form-urlencoded', 'vibeText=a+shop&template=saas'],
      ['application/xml', '<vibe/>'],
    ])(
      'answers 415 for a %s body (JSON only: no cross-origin "simple" requests), and writes nothing',
      async (type, body) => {
        const sessions = await sessionCount();
        const rejected = await call('POST', '/sessions', body, type);
        expect(rejected.status).toBe(415);
        expect(rejected.body).toEqual({
          statusCode: 415,
          error: 'Unsupported Media Type',
          message: 'content-type: must be application/json',
        });
        expect(await sessionCount()).toBe(sessions);
      },
    );

    it('rejects a POST without any body with 400 "body: required"', async () => {
      const rejected = await call('POST', '/sessions');
      expect(rejected.status).toBe(400);
      expect(rejected.body.message).toBe('body: required');
    });

    it('answers a body over 64 KiB with 413 through the same error shape, and writes nothing', async () => {
      const sessions = await sessionCount();
      const rejected = await call('POST', '/sessions', aVibe({ vibeText: 'x'.repeat(BODY_LIMIT_BYTES) }));
      expect(rejected.status).toBe(413);
      expect(rejected.body).toEqual({
        statusCode: 413,
        error: 'Payload Too Large',
        message: `body: larger than the limit of ${BODY_LIMIT_BYTES} bytes`,
      });
      expect(await sessionCount()).toBe(sessions);
    });

    it('answers 503 and leaves no session when the build queue refuses the command, and recovers', async () => {
      const sessions = await sessionCount();
      await nats.jsm.streams.delete(nats.topology.streams.buildCommands);
      try {
        const refused = await call('POST', '/sessions', aVibe());
        expect(refused.status).toBe(503);
        expect(refused.body).toEqual({
          statusCode: 503,
          error: 'Service Unavailable',
          message: expect.stringMatching(/^build queue unavailable/),
        });
        expect(await sessionCount()).toBe(sessions);
        expect(gateway.log.lines.some((line) => line.includes('build queue refused session'))).toBe(true);
      } finally {
        await ensureTopology(nats);
      }
      const sessionId = await createSession();
      expect((await lastStartCommand()).command.sessionId).toBe(sessionId);
      expect(await sessionCount()).toBe(sessions + 1);
    });
  });

  describe('GET /sessions?id=', () => {
    it('returns the session view, and its share token to its owner only', async () => {
      const sessionId = await createSession({ template: 'saas', options: { environmentMode: 'project' } });

      const got = await call('GET', `/sessions?id=${sessionId}`);

      expect(got.status).toBe(200);
      const { rows } = await control.query<{ share_token: string; created_by: string }>(
        'select share_token, created_by from build_sessions where id = $1',
        [sessionId],
      );
      expect(rows[0]!.created_by).toBe(owner);
      const view = SessionView.parse(got.body);
      expect(view).toEqual({
        id: sessionId,
        status: 'queued',
        template: 'saas',
        vibeText: aVibe().vibeText,
        options: { enableAnalytics: false, enableDriftSentinel: false, environmentMode: 'project' },
        environment: null,
        outputs: null,
        error: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        shareToken: rows[0]!.share_token,
      });
      const shared = await fetch(`${gateway.url}/sessions?id=${sessionId}`, {
        headers: { 'x-share-token': rows[0]!.share_token },
      });
      expect(shared.status).toBe(200);
      const text = await shared.text();
      expect(text).not.toContain(rows[0]!.share_token);
      expect(text).not.toMatch(/share/i);
    });

    it('shows what the orchestrator wrote later', async () => {
      const sessionId = await createSession();
      await control.query(
        `update build_sessions set status = 'failed', error = 'boom', environment = '{"ref":"env_1"}' where id = $1`,
        [sessionId],
      );
      const got = await call('GET', `/sessions?id=${sessionId}`);
      expect(got.body).toMatchObject({ status: 'failed', error: 'boom', environment: { ref: 'env_1' } });
      expect(Date.parse(got.body.updatedAt as string)).toBeGreaterThanOrEqual(Date.parse(got.body.createdAt as string));
    });

    it('answers 404 for a session that does not exist', async () => {
      const id = newId();
      const got = await call('GET', `/sessions?id=${id}`);
      expect(got.status).toBe(404);
      expect(got.body).toEqual({ statusCode: 404, error: 'Not Found', message: `id: no session ${id}` });
    });

    it.each([
      // Without an id, GET /sessions lists the caller's sessions (session-listing.int-spec.ts).
      ['a listing parameter beside an id', '/sessions?id=OWN&limit=5', 'limit: unknown field'],
      ['an empty id', '/sessions?id=', 'id: '],
      ['a malformed id', '/sessions?id=123', 'id: '],
      ['an id that is almost a uuid', `/sessions?id=${newId().slice(0, -1)}`, 'id: '],
      ['two ids', `/sessions?id=${newId()}&id=${newId()}`, 'id: '],
      // Of a session the caller may read: one it may not is 404 before its parameters are looked at.
      ['an unknown parameter', `/sessions?id=OWN&debug=1`, 'debug: unknown field'],
    ])('answers 400 for %s, naming the parameter', async (_label, path, message) => {
      const got = await call('GET', path.replace('OWN', await createSession()));
      expect(got.status).toBe(400);
      expect(got.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringContaining(message) });
    });
  });

  describe('GET /events?session_id=', () => {
    it('answers [] for a session that has no events yet', async () => {
      const sessionId = await createSession();
      const got = await call('GET', `/events?session_id=${sessionId}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual([]);
    });

    it("lists only that session's events, ordered by ts and then by stream sequence", async () => {
      const sessionId = await createSession();
      const other = await createSession();
      const [early, a, b, c] = [newId(), newId(), newId(), newId()];
      // Rows as the realtime-bridge projects them; three share a ts, so the sequence decides.
      await control.query(
        `insert into build_events (id, session_id, ts, type, message, payload, seq) values
           ($1, $5, '2030-01-01T00:00:02Z', 'table_created', 'c', '{"table":"c"}', 7),
           ($2, $5, '2030-01-01T00:00:02Z', 'table_created', 'a', '{"table":"a"}', 5),
           ($3, $5, '2030-01-01T00:00:01Z', 'plan_created', 'early', '{}', 9),
           ($4, $5, '2030-01-01T00:00:02Z', 'table_created', 'b', '{"table":"b"}', 6),
           ($6, $7, '2030-01-01T00:00:00Z', 'plan_created', 'other', '{}', 1)`,
        [c, a, early, b, sessionId, newId(), other],
      );

      const got = await call('GET', `/events?session_id=${sessionId}`);

      expect(got.status).toBe(200);
      expect(got.body).toEqual([
        { id: early, sessionId, ts: '2030-01-01T00:00:01.000Z', type: 'plan_created', message: 'early', payload: {} },
        {
          id: a,
          sessionId,
          ts: '2030-01-01T00:00:02.000Z',
          type: 'table_created',
          message: 'a',
          payload: { table: 'a' },
        },
        {
          id: b,
          sessionId,
          ts: '2030-01-01T00:00:02.000Z',
          type: 'table_created',
          message: 'b',
          payload: { table: 'b' },
        },
        {
          id: c,
          sessionId,
          ts: '2030-01-01T00:00:02.000Z',
          type: 'table_created',
          message: 'c',
          payload: { table: 'c' },
        },
      ]);
    });

    it('answers 404 for a session that does not exist', async () => {
      const id = newId();
      const got = await call('GET', `/events?session_id=${id}`);
      expect(got.status).toBe(404);
      expect(got.body).toEqual({ statusCode: 404, error: 'Not Found', message: `session_id: no session ${id}` });
    });

    it.each([
      ['a missing session_id', '/events', 'session_id: required'],
      ['a malformed session_id', '/events?session_id=not-a-uuid', 'session_id: '],
      ['the parameter under another name', `/events?sessionId=${newId()}`, 'sessionId: unknown field'],
    ])('answers 400 for %s, naming the parameter', async (_label, path, message) => {
      const got = await call('GET', path);
      expect(got.status).toBe(400);
      expect(got.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringContaining(message) });
    });
  });

  describe('errors', () => {
    it('answers an unknown route with 404 in the same shape', async () => {
      const got = await call('GET', '/nope');
      expect(got.status).toBe(404);
      expect(got.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /nope' });
    });

    it('answers an unexpected failure with 500 and an error id that is in the log, without the cause', async () => {
      await control.query('alter table build_sessions rename to build_sessions_hidden');
      let got: Awaited<ReturnType<typeof call>>;
      try {
        got = await call('GET', `/sessions?id=${newId()}`);
      } finally {
        await control.query('alter table build_sessions_hidden rename to build_sessions');
      }
      expect(got.status).toBe(500);
      expect(got.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: expect.stringContaining(got.body.errorId as string),
        errorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(got.text).not.toMatch(/build_sessions|relation|at .*\.ts|postgres/i);
      const logged = gateway.log.lines.find((line) => line.includes(got.body.errorId as string));
      expect(logged).toMatch(/^error .*build_sessions/);
    });
  });

  it('still answers its health check', async () => {
    const health = await call('GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ service: 'gateway', status: 'ok', checks: { postgres: 'ok', nats: 'ok' } });
  });
});
