import pg from 'pg';
import { newId, type BuildEvent } from '@vibe/contracts';
import { connectJetStream, encodeJson, publishEvent, type JetStreamContext } from '@vibe/platform';
import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';
import { BridgeConfig } from '../src/config.js';
import { RealtimeBridgeModule } from '../src/realtime-bridge.module.js';
import { startApp, type StartedApp } from '../../../test/support/app.js';

/** The bridge projecting its own namespace's BUILD_EVENTS into its own control-plane database. */
describe('realtime-bridge projector (BUILD_EVENTS → build_events)', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let bridge: StartedApp;
  let control: pg.Client;
  let nats: JetStreamContext;

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_bridge');
    namespace = createNamespace('rb');
    const config = BridgeConfig.parse({
      DATABASE_URL: db.url,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      PORT: '0',
    });
    bridge = await startApp(RealtimeBridgeModule.forRoot(config));
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    nats = await connectJetStream(NATS_URL, namespace.namespace, 'bridge-test');
  });

  afterAll(async () => {
    await bridge?.app.close();
    await control?.end();
    await nats?.nc.close();
    await namespace?.cleanup();
    await db?.drop();
  });

  // Factories.
  async function aSession(): Promise<string> {
    const { rows } = await control.query<{ id: string }>(
      `insert into build_sessions (status, template, vibe_text) values ('running', 'marketplace', 'a shop') returning id`,
    );
    return rows[0]!.id;
  }

  const ts = '2030-01-01T00:00:00.000Z';
  /** Within jest's per-test limit, so a miss says what it waited for. */
  const soon = (what: string) => ({ timeoutMs: 4_000, what });
  function tableCreated(sessionId: string, table: string): BuildEvent {
    return {
      id: newId(),
      sessionId,
      version: 1,
      ts,
      type: 'table_created',
      message: `created ${table}`,
      payload: { table, columns: ['id'] },
    };
  }

  /** Publishes bytes as they are, under a fresh Nats-Msg-Id, and returns the stream sequence. */
  async function publishRaw(subject: string, data: Uint8Array): Promise<number> {
    const ack = await nats.js.publish(subject, data, { msgID: newId() });
    expect(ack.duplicate).toBe(false);
    return ack.seq;
  }

  async function lastSeq(): Promise<number> {
    return (await nats.jsm.streams.info(nats.topology.streams.events)).state.last_seq;
  }

  /** Waits until the projector has settled every message up to `seq` (acked or terminated, none pending). */
  async function settledThrough(seq: number) {
    return waitFor(
      async () => {
        const info = await nats.jsm.consumers.info(nats.topology.streams.events, nats.topology.consumers.projector);
        return info.ack_floor.stream_seq >= seq && info.num_ack_pending === 0 ? info : undefined;
      },
      soon(`the projector to settle stream seq ${seq}`),
    );
  }

  async function rowsOf(sessionId: string) {
    const { rows } = await control.query<{
      id: string;
      type: string;
      message: string;
      payload: object;
      ts: Date;
      seq: string;
    }>('select id, type, message, payload, ts, seq from build_events where session_id = $1 order by ts, seq', [
      sessionId,
    ]);
    return rows;
  }

  it('projects each event once, in publish order, with its stream sequence', async () => {
    const sessionId = await aSession();
    const events = ['profiles', 'listings', 'bids', 'orders'].map((table) => tableCreated(sessionId, table));
    for (const event of events) await publishEvent(nats, event);

    const rows = await waitFor(async () => {
      const rows = await rowsOf(sessionId);
      return rows.length === events.length ? rows : undefined;
    }, soon('four rows'));

    // All four share one ts: the stored sequence alone gives the publish order.
    expect(rows.map((row) => row.id)).toEqual(events.map((event) => event.id));
    expect(rows[0]).toEqual({
      id: events[0]!.id,
      type: 'table_created',
      message: 'created profiles',
      payload: { table: 'profiles', columns: ['id'] },
      ts: new Date(ts),
      seq: expect.any(String),
    });
    const stored = await nats.jsm.streams.getMessage(nats.topology.streams.events, {
      last_by_subj: nats.topology.subjects.event(sessionId, 'table_created'),
    });
    expect(Number(rows[3]!.seq)).toBe(stored!.seq);
    const seqs = rows.map((row) => Number(row.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(4);
  });

  it('stores an event delivered twice (same event id, another Nats-Msg-Id) once', async () => {
    const sessionId = await aSession();
    const event = tableCreated(sessionId, 'orders');
    await publishEvent(nats, event);
    const copySeq = await publishRaw(nats.topology.subjects.event(sessionId, event.type), encodeJson(event));

    await settledThrough(copySeq);

    const rows = await rowsOf(sessionId);
    expect(rows.map((row) => row.id)).toEqual([event.id]);
    expect(Number(rows[0]!.seq)).toBeLessThan(copySeq);
  });

  it('terminates and logs a message that is not an event, without holding back the ones after it', async () => {
    const sessionId = await aSession();
    const subject = nats.topology.subjects.event(sessionId, 'table_created');
    const notJson = await publishRaw(subject, new TextEncoder().encode('{ not json'));
    const notAnEvent = await publishRaw(subject, encodeJson({ ...tableCreated(sessionId, 'x'), payload: {} }));
    const after = tableCreated(sessionId, 'after');
    await publishEvent(nats, after);

    // The ack floor passes a message only once it is acked or terminated: a nak'd one would hold it back.
    const info = await settledThrough(await lastSeq());

    expect((await rowsOf(sessionId)).map((row) => row.id)).toEqual([after.id]);
    expect(info.num_redelivered).toBe(0);
    expect(bridge.log.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^error terminated stream seq ${notJson} .*: not JSON`)),
        expect.stringMatching(
          new RegExp(`^error terminated stream seq ${notAnEvent} .*: not a BuildEvent: payload\\.table`),
        ),
      ]),
    );
  });

  it('terminates and logs an event whose session does not exist', async () => {
    const orphan = tableCreated(newId(), 'ghosts');
    await publishEvent(nats, orphan);
    const sessionId = await aSession();
    const after = tableCreated(sessionId, 'after');
    await publishEvent(nats, after);

    const info = await settledThrough(await lastSeq());

    expect(info.num_redelivered).toBe(0);
    const { rows } = await control.query('select 1 from build_events where id = $1', [orphan.id]);
    expect(rows).toHaveLength(0);
    expect((await rowsOf(sessionId)).map((row) => row.id)).toEqual([after.id]);
    expect(bridge.log.lines).toEqual(
      expect.arrayContaining([expect.stringContaining(`event ${orphan.id}: its session does not exist`)]),
    );
  });

  it('retries an event it cannot store yet, and stores it once the cause is gone', async () => {
    const sessionId = await aSession();
    const event = tableCreated(sessionId, 'late');
    await control.query('alter table build_events rename to build_events_away');
    try {
      await publishEvent(nats, event);
      await waitFor(
        async () => bridge.log.lines.some((line) => line.includes(`event ${event.id} (stream seq`)),
        soon('a failed attempt'),
      );
    } finally {
      await control.query('alter table build_events_away rename to build_events');
    }

    const rows = await waitFor(async () => {
      const rows = await rowsOf(sessionId);
      return rows.length > 0 ? rows : undefined;
    }, soon('the row'));
    expect(rows.map((row) => row.id)).toEqual([event.id]);
    expect(bridge.log.lines.find((line) => line.includes(`event ${event.id} (stream seq`))).toMatch(
      /^warn .*not stored, retried in \d+ ms: relation "public.build_events" does not exist/,
    );
  });

  it('never stores a secret an event carried', async () => {
    const sessionId = await aSession();
    const event: BuildEvent = {
      id: newId(),
      sessionId,
      version: 1,
      ts,
      type: 'provisioner_call',
      message: 'connected to postgres://svc:hunter2@db.internal:5432/env',
      payload: {
        tool: 'execute_sql',
        environment: 'env_1',
        commandId: newId(),
        input: { query: 'select 1', accessToken: 'sbp_0123456789abcdef' },
        output: { rows: [] },
        ok: true,
        startedAt: ts,
        durationMs: 3,
      },
    };
    await publishEvent(nats, event);

    const rows = await waitFor(async () => {
      const rows = await rowsOf(sessionId);
      return rows.length > 0 ? rows : undefined;
    }, soon('the row'));
    expect(JSON.stringify(rows)).not.toMatch(/hunter2|sbp_0123456789abcdef/);
    expect(rows[0]!.payload).toMatchObject({ tool: 'execute_sql', input: { query: 'select 1' } });
    expect(bridge.log.lines).toEqual(
      expect.arrayContaining([expect.stringContaining(`event ${event.id} (provisioner_call) carried a secret`)]),
    );
  });

  it('writes a backlog in batches: each event once, payloads as published, an orphan among them terminated', async () => {
    const sessionId = await aSession();
    const events = Array.from({ length: 400 }, (_, n): BuildEvent => ({
      id: newId(),
      sessionId,
      version: 1,
      ts,
      type: 'table_created',
      message: `created "t${n}" \\ with a quote and a backslash`,
      payload: { table: `t${n}`, columns: ['id', 'owner', 'ünïcode "quoted" \\ {braced}'] },
    }));
    const orphan = tableCreated(newId(), 'ghosts');
    const first = await lastSeq();
    // Published without waiting for each ack, so that the projector meets them as a backlog.
    await Promise.all([
      ...events.slice(0, 200).map((event) => publishEvent(nats, event)),
      publishEvent(nats, orphan),
      ...events.slice(200).map((event) => publishEvent(nats, event)),
      publishRaw(nats.topology.subjects.event(sessionId, 'table_created'), encodeJson(events[7]!)),
    ]);

    const info = await settledThrough(first + 402);

    expect(info.num_redelivered).toBe(0);
    const rows = await rowsOf(sessionId);
    expect(rows).toHaveLength(400);
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const event of events) {
      expect(byId.get(event.id)).toMatchObject({ message: event.message, payload: event.payload });
    }
    expect(bridge.log.lines).toEqual(
      expect.arrayContaining([expect.stringContaining(`event ${orphan.id}: its session does not exist`)]),
    );
  });

  it('reports health on /health', async () => {
    const response = await fetch(`${bridge.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      service: 'realtime-bridge',
      status: 'ok',
      // Its JetStream consumer (the projector's) is checked too.
      checks: { postgres: 'ok', nats: 'ok', consumers: 'ok' },
    });
  });
});
