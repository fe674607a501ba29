/**
 * The bridge's own Realtime endpoint against the real supabase-js client (both serializers), fed by the real
 * BUILD_EVENTS stream and presence bucket of its own NATS namespace, authorizing joins against its own
 * control-plane database. Events and presence are published here the way the orchestrator publishes them.
 */
import pg from 'pg';
import { decodeCursor, newId, type BuildEvent, type Presence } from '@vibe/contracts';
import {
  connectJetStream,
  encodeJson,
  LOCAL_DEV_JWT_SECRET,
  mintDevJwt,
  presenceBucket,
  publishEvent,
  type JetStreamContext,
} from '@vibe/platform';
import { type KV } from '@nats-io/kv';
import { WebSocket } from 'ws';
import { BridgeConfig } from '../src/config.js';
import { RealtimeBridgeModule } from '../src/realtime-bridge.module.js';
import { startApp, type StartedApp } from '../../../test/support/app.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';
import { joinBuild, presences, receivedEvents, type BuildChannel, type Vsn } from '../../../test/support/realtime.js';

describe('realtime-bridge Realtime endpoint (supabase-js on build:{sessionId})', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let bridge: StartedApp;
  let control: pg.Client;
  let nats: JetStreamContext;
  let kv: KV;
  const open: BuildChannel[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_rt');
    namespace = createNamespace('rt');
    const config = BridgeConfig.parse({
      DATABASE_URL: db.url,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      PORT: '0',
      REALTIME_IDLE_TIMEOUT_MS: '3000',
    });
    bridge = await startApp(RealtimeBridgeModule.forRoot(config));
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    nats = await connectJetStream(NATS_URL, namespace.namespace, 'rt-test');
    kv = await presenceBucket(nats);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((channel) => channel.close()));
  });

  afterAll(async () => {
    await bridge?.app.close();
    await control?.end();
    await nats?.nc.close();
    await namespace?.cleanup();
    await db?.drop();
  });

  // Factories.
  const owner = '0b7d2c1e-0000-4c1d-9e0f-0a1b2c3d4e5f';
  const stranger = '0b7d2c1e-1111-4c1d-9e0f-0a1b2c3d4e5f';
  async function aSession(createdBy: string | null = owner): Promise<{ id: string; shareToken: string }> {
    const { rows } = await control.query<{ id: string; share_token: string }>(
      `insert into build_sessions (status, template, vibe_text, created_by)
       values ('running', 'marketplace', 'a shop', $1) returning id, share_token`,
      [createdBy],
    );
    return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
  }
  function join(sessionId: string, options: Parameters<typeof joinBuild>[2]): BuildChannel {
    const channel = joinBuild(bridge.url, sessionId, options);
    open.push(channel);
    return channel;
  }
  const TIMELINE = ['plan_created', 'environment_created', 'migration_started', 'table_created', 'build_succeeded'];
  function timelineEvent(sessionId: string, type: string, n: number): BuildEvent {
    const base = {
      id: newId(),
      sessionId,
      version: 1 as const,
      ts: new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString(),
    };
    switch (type) {
      case 'plan_created':
        return {
          ...base,
          type,
          message: 'planned',
          payload: { template: 'marketplace', tables: ['orders'], policies: 1, chunks: 1 },
        };
      case 'environment_created':
        return {
          ...base,
          type,
          message: 'env',
          payload: { environment: { driver: 'local', mode: 'branch', ref: 'env_1', createdAt: base.ts } },
        };
      case 'migration_started':
        return { ...base, type, message: 'migrating', payload: { migrations: ['m1'] } };
      case 'table_created':
        return { ...base, type, message: `table ${n}`, payload: { table: `t${n}`, columns: ['id'] } };
      default:
        return {
          ...base,
          type: 'build_succeeded',
          message: 'done',
          payload: { durationMs: 1, tables: 1, policies: 1 },
        };
    }
  }
  async function putPresence(sessionId: string, step: string, progress: number): Promise<void> {
    const presence: Presence = {
      actor: 'architect',
      sessionId,
      step,
      focus: step === 'apply_migrations' ? { type: 'table', name: 'orders' } : null,
      progress,
      ts: new Date().toISOString(),
    };
    await kv.put(sessionId, encodeJson(presence));
  }
  const ownerToken = (ttlSeconds = 600) => mintDevJwt(owner, LOCAL_DEV_JWT_SECRET, ttlSeconds);

  it.each<[Vsn, string]>([
    ['2.0.0', 'owner JWT'],
    ['1.0.0', 'share token'],
  ])(
    'serializer %s, joined with the %s before the build, receives every event in order and presence rising to 1',
    async (vsn, credential) => {
      const session = await aSession();
      const channel = join(
        session.id,
        credential === 'owner JWT' ? { vsn, accessToken: ownerToken() } : { vsn, shareToken: session.shareToken },
      );
      expect(await channel.subscribed).toBe('SUBSCRIBED');

      const steps: Array<[string, number]> = [
        ['ingest_vibe', 0],
        ['apply_migrations', 0.375],
        ['configure_rls', 0.5],
        ['finalize', 1],
      ];
      const events = TIMELINE.map((type, n) => timelineEvent(session.id, type, n));
      for (const [n, event] of events.entries()) {
        await putPresence(session.id, ...steps[Math.min(n, steps.length - 1)]!);
        await publishEvent(nats, event);
      }

      await waitFor(async () => receivedEvents(channel).length === events.length, {
        timeoutMs: 10_000,
        what: 'all events',
      });
      const received = receivedEvents(channel);
      expect(received.map((e) => e.id)).toEqual(events.map((e) => e.id));
      expect(channel.received.broadcasts.map((b) => b.event)).toEqual(TIMELINE);
      // Payload = the event (as build_events holds it) plus its cursor.
      expect(received[3]).toEqual({ ...events[3], cursor: expect.any(String) });
      expect(decodeCursor(received[3]!.cursor)).toEqual({
        ts: events[3]!.ts,
        seq: expect.any(Number),
        id: events[3]!.id,
      });

      await waitFor(async () => presences(channel).at(-1)?.progress === 1, { timeoutMs: 10_000, what: 'progress 1' });
      const progress = presences(channel).map((p) => p.progress);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(presences(channel).at(-1)).toMatchObject({ actor: 'architect', sessionId: session.id, step: 'finalize' });
      // One architect at a time: an update replaces the presence, it does not pile up.
      expect(((channel.channel.presenceState() as Record<string, unknown[]>).architect ?? []).length).toBe(1);
    },
  );

  it.each<[string, (session: { id: string; shareToken: string }) => Parameters<typeof joinBuild>[2]]>([
    ["another user's JWT", () => ({ accessToken: mintDevJwt(stranger, LOCAL_DEV_JWT_SECRET) })],
    // One character off: the last one replaced by a different one (never by itself).
    [
      'a wrong share token',
      (session) => ({
        shareToken: `${session.shareToken.slice(0, -1)}${session.shareToken.endsWith('x') ? 'y' : 'x'}`,
      }),
    ],
    ["the owner's JWT signed with another secret", () => ({ accessToken: mintDevJwt(owner, 'x'.repeat(40)) })],
    ["the owner's expired JWT", () => ({ accessToken: mintDevJwt(owner, LOCAL_DEV_JWT_SECRET, -60) })],
    ['no credentials at all', () => ({})],
  ])('refuses a join with %s, and sends it nothing', async (_label, credentials) => {
    const session = await aSession();
    const channel = join(session.id, { vsn: '2.0.0', ...credentials(session) });
    expect(await channel.subscribed).toBe('CHANNEL_ERROR');
    expect(channel.received.errors[0]).toMatch(/^Unauthorized: .*build:/);
    await publishEvent(nats, timelineEvent(session.id, 'plan_created', 0));
    await putPresence(session.id, 'ingest_vibe', 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(channel.received.broadcasts).toEqual([]);
    expect(presences(channel)).toEqual([]);
  });

  it('refuses the share token of another session and a session that does not exist', async () => {
    const mine = await aSession();
    const other = await aSession();
    const borrowed = join(mine.id, { shareToken: other.shareToken });
    expect(await borrowed.subscribed).toBe('CHANNEL_ERROR');
    const unknownId = newId();
    const unknown = join(unknownId, { accessToken: ownerToken() });
    expect(await unknown.subscribed).toBe('CHANNEL_ERROR');
    // The same answer as for a session that exists: nothing tells them apart.
    expect(unknown.received.errors[0]).toBe(borrowed.received.errors[0]!.replace(mine.id, unknownId));
  });

  it('gives a late joiner the current step and progress at once, then what follows', async () => {
    const session = await aSession();
    for (const [n, type] of TIMELINE.slice(0, 3).entries()) {
      await publishEvent(nats, timelineEvent(session.id, type, n));
    }
    await putPresence(session.id, 'apply_migrations', 0.375);
    // Projected (and so broadcast) before the client joins: those it missed.
    await waitFor(
      async () => {
        const { rows } = await control.query('select 1 from build_events where session_id = $1', [session.id]);
        return rows.length === 3;
      },
      { timeoutMs: 5_000, what: 'three projected events' },
    );

    const late = join(session.id, { shareToken: session.shareToken });
    expect(await late.subscribed).toBe('SUBSCRIBED');
    await waitFor(async () => presences(late).length > 0, { timeoutMs: 5_000, what: 'the presence at join' });
    expect(presences(late)[0]).toMatchObject({
      step: 'apply_migrations',
      progress: 0.375,
      focus: { type: 'table', name: 'orders' },
    });

    const next = timelineEvent(session.id, 'table_created', 3);
    await publishEvent(nats, next);
    await waitFor(async () => receivedEvents(late).some((e) => e.id === next.id), {
      timeoutMs: 5_000,
      what: 'the next event',
    });
    // It missed the three before it joined (GET /events?after= returns those); it got none twice.
    expect(receivedEvents(late).map((e) => e.type)).toEqual(['table_created']);
  });

  it("closes an owner's channel when the token expires, and keeps it when a fresh one arrives in time", async () => {
    const session = await aSession();
    const expiring = join(session.id, { accessToken: ownerToken(2) });
    const refreshed = join(session.id, { accessToken: ownerToken(2) });
    expect(await expiring.subscribed).toBe('SUBSCRIBED');
    expect(await refreshed.subscribed).toBe('SUBSCRIBED');
    await refreshed.client.realtime.setAuth(ownerToken(600));

    await waitFor(async () => expiring.received.statuses.includes('CLOSED'), {
      timeoutMs: 12_000,
      what: 'the expired channel to close',
    });
    const after = timelineEvent(session.id, 'build_succeeded', 9);
    await publishEvent(nats, after);
    await waitFor(async () => receivedEvents(refreshed).some((e) => e.id === after.id), {
      timeoutMs: 5_000,
      what: 'the event',
    });
    expect(receivedEvents(expiring).some((e) => e.id === after.id)).toBe(false);
    expect(refreshed.received.statuses).not.toContain('CLOSED');
  });

  it('keeps clients from writing: their broadcasts are refused', async () => {
    const session = await aSession();
    const channel = join(session.id, { shareToken: session.shareToken, ack: true });
    expect(await channel.subscribed).toBe('SUBSCRIBED');
    expect(await channel.channel.send({ type: 'broadcast', event: 'build_succeeded', payload: { forged: true } })).toBe(
      'error',
    );
    const other = join(session.id, { shareToken: session.shareToken });
    expect(await other.subscribed).toBe('SUBSCRIBED');
    await channel.channel.send({ type: 'broadcast', event: 'build_failed', payload: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(other.received.broadcasts).toEqual([]);
  });

  describe('the protocol underneath', () => {
    const wsUrl = () => bridge.url.replace(/^http/, 'ws');

    async function raw(path: string): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<number> }> {
      const ws = new WebSocket(`${wsUrl()}${path}`);
      const frames: string[] = [];
      ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return { ws, frames, closed };
    }

    it('answers heartbeats and refuses unknown topics (serializer 1.0.0 frames are objects)', async () => {
      const { ws, frames } = await raw('/realtime/v1/websocket?apikey=local&vsn=1.0.0');
      ws.send(JSON.stringify({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '1', join_ref: null }));
      ws.send(JSON.stringify({ topic: 'realtime:room1', event: 'phx_join', payload: {}, ref: '2', join_ref: '2' }));
      await waitFor(async () => frames.length === 2, { timeoutMs: 5_000, what: 'two replies' });
      expect(JSON.parse(frames[0]!)).toEqual({
        join_ref: null,
        ref: '1',
        topic: 'phoenix',
        event: 'phx_reply',
        payload: { status: 'ok', response: {} },
      });
      expect(JSON.parse(frames[1]!)).toMatchObject({
        ref: '2',
        payload: { status: 'error', response: { reason: expect.stringMatching(/unknown topic room1/) } },
      });
      ws.close();
    });

    it('closes a connection that sends a frame it cannot read, and one that goes quiet', async () => {
      const bad = await raw('/realtime/v1/websocket?vsn=2.0.0');
      bad.ws.send('{"not": "an array"}');
      expect(await bad.closed).toBe(1007);
      const quiet = await raw('/realtime/v1/websocket?vsn=2.0.0');
      expect(await quiet.closed).toBe(1006);
    });

    it('upgrades only its own path, and only for serializers it speaks', async () => {
      await expect(raw('/socket/websocket?vsn=2.0.0')).rejects.toThrow(/404/);
      await expect(raw('/realtime/v1/websocket?vsn=3.0.0')).rejects.toThrow(/400/);
    });
  });
});
