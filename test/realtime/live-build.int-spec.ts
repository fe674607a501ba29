/**
 * A real build through the five services, followed live: supabase-js clients (both serializers) on the
 * bridge's Realtime endpoint, a late joiner that catches up through the gateway, and the gateway's
 * server-sent event stream. The services run as processes from their build output (`npm test` builds first).
 */
import pg from 'pg';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import {
  decodeCursor,
  isTimelineEvent,
  TIMELINE_EVENT_TYPES,
  type TimelineEventType,
  stableId,
  topology,
  type BuildEventView,
  type StartBuild,
} from '@vibe/contracts';
import { encodeJson, LOCAL_DEV_JWT_SECRET, mintDevJwt } from '@vibe/platform';
import { freePorts, SERVICES, startStack, type RunningStack } from '../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  NATS_URL,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../support/index.js';
import { LENIENT_LIMITS, signedIn } from '../support/auth.js';
import { joinBuild, presences, receivedEvents, waitForBroadcast, type BuildChannel } from '../support/realtime.js';

const VIBE =
  'A marketplace for vintage furniture. Sellers list items with a price. Buyers bid and check out orders. ' +
  'Buyers only see their own bids and orders. Show daily sales analytics.';
const OWNER = '3d0c7e52-5a1f-4b8e-9c2d-7e6f5a4b3c2d';
const STRANGER = '3d0c7e52-0000-4b8e-9c2d-7e6f5a4b3c2d';

describe('a build followed live on build:{sessionId}', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let envPrefix: string;
  let stack: RunningStack;
  let control: pg.Client;
  let bridgeUrl: string;
  const open: BuildChannel[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_live');
    namespace = createNamespace('live');
    envPrefix = `${uniqueName('vibe_lv')}_`;
    const ports = await freePorts(SERVICES.length);
    const portOf = Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]!]));
    bridgeUrl = `http://127.0.0.1:${portOf['realtime-bridge']}`;
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
        REALTIME_URL: bridgeUrl,
        ...LENIENT_LIMITS,
      },
      ports: portOf,
    });
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
  });

  afterAll(async () => {
    await Promise.all(open.map((channel) => channel.close()));
    await control?.end();
    await stack?.stop();
    await dropDatabasesLike(envPrefix);
    await db?.drop();
    await namespace?.cleanup();
  });

  function join(sessionId: string, options: Parameters<typeof joinBuild>[2]): BuildChannel {
    const channel = joinBuild(bridgeUrl, sessionId, options);
    open.push(channel);
    return channel;
  }

  /**
   * A session that is not building yet: its row as the gateway writes it (with its owner, the user of the JWT
   * that created it), and no build command until `startBuild`.
   */
  async function pendingSession(): Promise<{ id: string; shareToken: string }> {
    const { rows } = await control.query<{ id: string; share_token: string }>(
      `insert into build_sessions (status, template, vibe_text, options, created_by)
       values ('queued', 'marketplace', $1, '{"enableAnalytics":true,"enableDriftSentinel":false,"environmentMode":"branch"}', $2)
       returning id, share_token`,
      [VIBE, OWNER],
    );
    return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
  }

  /** What the gateway publishes after creating a session (`cmd.build.start`, the command id as Nats-Msg-Id). */
  async function startBuild(sessionId: string): Promise<void> {
    const nc = await natsConnect({ servers: NATS_URL });
    try {
      const command: StartBuild = { kind: 'start', version: 1, commandId: stableId(sessionId, 'start'), sessionId };
      const subject = topology(namespace.namespace).subjects.buildCommand('start');
      await jetstream(nc).publish(subject, encodeJson(command), { msgID: command.commandId });
    } finally {
      await nc.close();
    }
  }

  /** The session's event ids in stream order (publish order, as broadcast and streamed). */
  async function streamOrder(sessionId: string): Promise<string[]> {
    const { rows } = await control.query<{ id: string }>(
      'select id from build_events where session_id = $1 order by seq',
      [sessionId],
    );
    return rows.map((row) => row.id);
  }

  async function events(sessionId: string, after?: string): Promise<{ events: BuildEventView[]; next: string | null }> {
    const query = after ? `&after=${encodeURIComponent(after)}` : '';
    const response = await fetch(`${stack.gatewayUrl}/events?session_id=${sessionId}${query}`, {
      headers: signedIn(OWNER),
    });
    expect(response.status).toBe(200);
    return { events: (await response.json()) as BuildEventView[], next: response.headers.get('x-next-cursor') };
  }

  it('delivers every §5.2 event in order to supabase-js (both serializers), with presence rising to 1.0; a late joiner catches up', async () => {
    const session = await pendingSession();
    const owner = join(session.id, { vsn: '2.0.0', accessToken: mintDevJwt(OWNER, LOCAL_DEV_JWT_SECRET) });
    const viewer = join(session.id, { vsn: '1.0.0', shareToken: session.shareToken });
    const stranger = join(session.id, { vsn: '2.0.0', accessToken: mintDevJwt(STRANGER, LOCAL_DEV_JWT_SECRET) });
    const guesser = join(session.id, { vsn: '1.0.0', shareToken: 'a-share-token-of-nothing-at-all-0' });
    expect(await owner.subscribed).toBe('SUBSCRIBED');
    expect(await viewer.subscribed).toBe('SUBSCRIBED');
    expect(await stranger.subscribed).toBe('CHANNEL_ERROR');
    expect(await guesser.subscribed).toBe('CHANNEL_ERROR');

    await startBuild(session.id);
    // Join mid-build: once the migrations started.
    await waitForBroadcast(owner, 'migration_started');
    const late = join(session.id, { vsn: '2.0.0', shareToken: session.shareToken });
    expect(await late.subscribed).toBe('SUBSCRIBED');
    await waitForBroadcast(owner, 'build_succeeded');
    await waitForBroadcast(late, 'build_succeeded');

    const stored = (await events(session.id)).events;
    // The build's §5.2 events (their exact list is the e2e test's business): in spec order, from plan to success.
    const timeline = stored.filter((e) => isTimelineEvent(e.type));
    const order = timeline.map((e) => TIMELINE_EVENT_TYPES.indexOf(e.type as TimelineEventType));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(timeline[0]!.type).toBe('plan_created');
    expect(timeline.at(-1)!.type).toBe('build_succeeded');
    expect(timeline.filter((e) => e.type === 'table_created').map((e) => e.payload.table)).toEqual([
      'profiles',
      'listings',
      'bids',
      'orders',
    ]);
    const published = await streamOrder(session.id);
    expect([...published].sort()).toEqual(stored.map((e) => e.id).sort());
    for (const client of [owner, viewer]) {
      const got = receivedEvents(client);
      // Every event of the build, each once, in publish order; the §5.2 ones among them in spec order.
      expect(got.map((e) => e.id)).toEqual(published);
      expect(got.filter((e) => isTimelineEvent(e.type)).map((e) => e.id)).toEqual(timeline.map((e) => e.id));
      expect(client.received.broadcasts.filter((b) => isTimelineEvent(b.event)).map((b) => b.event)).toEqual(
        timeline.map((e) => e.type),
      );
      const progress = presences(client).map((p) => p.progress);
      expect(progress.length).toBeGreaterThan(5);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.at(-1)).toBe(1);
      expect(presences(client).at(-1)).toMatchObject({ actor: 'architect', sessionId: session.id, step: 'finalize' });
    }
    expect(stranger.received.broadcasts).toEqual([]);
    expect(guesser.received.broadcasts).toEqual([]);

    // The late joiner: at join, where the architect was (not at the start); then what followed.
    const first = presences(late)[0]!;
    expect(first.step).not.toBe('ingest_vibe');
    expect(first.progress).toBeGreaterThan(0);
    const live = receivedEvents(late);
    expect(live.length).toBeLessThan(stored.length);
    // It missed what was published before its first broadcast, and got everything after, each once.
    const firstLive = published.indexOf(live[0]!.id);
    expect(firstLive).toBeGreaterThan(0);
    expect(live.map((e) => e.id)).toEqual(published.slice(firstLive));
    // What it missed, GET /events?after= returns: here from the cursor of the event before its first broadcast.
    const beforeJoin = receivedEvents(owner)[firstLive - 1]!;
    const caughtUp = await events(session.id, beforeJoin.cursor);
    expect(caughtUp.events.map((e) => e.id).sort()).toEqual(published.slice(firstLive).sort());
    // Shown in timeline order, the next cursor at the last published event; nothing after that.
    expect(caughtUp.events).toEqual(stored.filter((e) => published.indexOf(e.id) >= firstLive));
    expect(decodeCursor(caughtUp.next!)?.id).toBe(published.at(-1));
    expect((await events(session.id, caughtUp.next!)).events).toEqual([]);
  });

  it('streams the same build as server-sent events to the owner and to share-token holders, resuming from Last-Event-ID', async () => {
    const session = await pendingSession();
    const url = `${stack.gatewayUrl}/sessions/${session.id}/stream`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-share-token': 'wrong-token-wrong-token-wrong-00' } })).status).toBe(404);
    const foreign = await fetch(url, {
      headers: { authorization: `Bearer ${mintDevJwt(STRANGER, LOCAL_DEV_JWT_SECRET)}` },
    });
    expect(foreign.status).toBe(404);

    const owned = readSse(url, { authorization: `Bearer ${mintDevJwt(OWNER, LOCAL_DEV_JWT_SECRET)}` });
    const shared = readSse(`${url}?share_token=${session.shareToken}`, {});
    await Promise.all([owned.opened, shared.opened]);
    await startBuild(session.id);
    await waitFor(async () => owned.frames.some((f) => f.event === 'build_succeeded'), {
      timeoutMs: 60_000,
      what: 'build_succeeded on the stream',
    });
    await waitFor(async () => shared.frames.some((f) => f.event === 'build_succeeded'), {
      timeoutMs: 10_000,
      what: 'build_succeeded on the shared stream',
    });
    const stored = (await events(session.id)).events;
    const published = await streamOrder(session.id);
    for (const stream of [owned, shared]) {
      const streamed = stream.frames.filter((f) => f.event !== 'presence');
      expect(streamed.map((f) => JSON.parse(f.data).id)).toEqual(published);
      // Each as GET /events shows it.
      expect(streamed.map((f) => JSON.parse(f.data)).sort(byId)).toEqual([...stored].sort(byId));
      const presence = stream.frames.filter((f) => f.event === 'presence').map((f) => JSON.parse(f.data));
      expect(presence.at(-1)).toMatchObject({ step: 'finalize', progress: 1 });
    }
    owned.abort();
    shared.abort();

    // Reconnecting with the id of the 20th event gives exactly the events after it.
    const twentieth = owned.frames.filter((f) => f.event !== 'presence')[19]!;
    const resumed = readSse(url, { 'x-share-token': session.shareToken, 'last-event-id': twentieth.id! });
    await waitFor(async () => resumed.frames.some((f) => f.event === 'build_succeeded'), {
      timeoutMs: 10_000,
      what: 'the resumed stream to reach the end',
    });
    resumed.abort();
    expect(resumed.frames.filter((f) => f.event !== 'presence').map((f) => JSON.parse(f.data).id)).toEqual(
      published.slice(20),
    );
  });

  it('lets the page start a build: POST /sessions tells the creator the share token, which opens the channel', async () => {
    const created = await fetch(`${stack.gatewayUrl}/sessions`, {
      method: 'POST',
      headers: { ...signedIn(OWNER), 'content-type': 'application/json' },
      body: JSON.stringify({ vibeText: VIBE, template: 'marketplace' }),
    });
    expect(created.status).toBe(201);
    const { sessionId, shareToken } = (await created.json()) as { sessionId: string; shareToken: string };
    expect(shareToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const viewer = join(sessionId, { shareToken });
    expect(await viewer.subscribed).toBe('SUBSCRIBED');
    await waitFor(async () => (await events(sessionId)).events.some((e) => e.type === 'build_succeeded'), {
      timeoutMs: 60_000,
      what: 'the build to end',
    });
    const config = (await (await fetch(`${stack.gatewayUrl}/config.json`)).json()) as { realtime: object };
    expect(config.realtime).toEqual({ mode: 'local', url: bridgeUrl, apiKey: 'local' });
    // Only its creator is told the share token; a share-token holder reads the session without it.
    const asOwner = (await (
      await fetch(`${stack.gatewayUrl}/sessions?id=${sessionId}`, { headers: signedIn(OWNER) })
    ).json()) as {
      shareToken?: string;
    };
    expect(asOwner.shareToken).toBe(shareToken);
    const shared = await fetch(`${stack.gatewayUrl}/sessions?id=${sessionId}`, {
      headers: { 'x-share-token': shareToken },
    });
    expect(shared.status).toBe(200);
    expect(await shared.text()).not.toContain(shareToken);
  });
});

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

interface SseFrame {
  id?: string;
  event: string;
  data: string;
}

/** Reads a server-sent event stream with fetch, as frames. */
function readSse(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const frames: SseFrame[] = [];
  let resolveOpened!: () => void;
  const opened = new Promise<void>((resolve) => (resolveOpened = resolve));
  void (async () => {
    try {
      const response = await fetch(url, { headers, signal: controller.signal });
      if (response.status !== 200) throw new Error(`stream answered ${response.status}`);
      resolveOpened();
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Partial<SseFrame> = {};
          for (const line of block.split('\n')) {
            const [field, ...rest] = line.split(': ');
            if (field === 'id' || field === 'event' || field === 'data') frame[field] = rest.join(': ');
          }
          if (frame.event && frame.data !== undefined) frames.push(frame as SseFrame);
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return { frames, opened, abort: () => controller.abort() };
}
