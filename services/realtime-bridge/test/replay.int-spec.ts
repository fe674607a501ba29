/**
 * JetStream replay for audit (issue 7) against the real stream and control plane: the audit timeline of a
 * session, and `--verify` / `--rebuild` of `build_events`, in-process and through `npm run vibe -- replay`
 * (the built CLI, which runs the bridge's replay tool).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { newId, stableId, type BuildEvent } from '@vibe/contracts';
import { connectJetStream, createPool, publishEvent, type JetStreamContext, type Pool } from '@vibe/platform';
import { BridgeConfig } from '../src/config.js';
import { RealtimeBridgeModule } from '../src/realtime-bridge.module.js';
import { printAuditTimeline, total, verifyProjection } from '../src/replay/replay.js';
import { startApp, type StartedApp } from '../../../test/support/app.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';

const ROOT = path.resolve(__dirname, '../../..');

describe('replay from JetStream: the audit timeline, and verify / rebuild of build_events', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let bridge: StartedApp;
  let control: pg.Client;
  let pool: Pool;
  let nats: JetStreamContext;
  let sessions: string[];
  const ts = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_replay');
    namespace = createNamespace('rp');
    const config = BridgeConfig.parse({
      DATABASE_URL: db.url,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      PORT: '0',
    });
    bridge = await startApp(RealtimeBridgeModule.forRoot(config));
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
    pool = createPool(db.url, 'replay-test', 2);
    nats = await connectJetStream(NATS_URL, namespace.namespace, 'replay-test');

    // Two sessions' builds, with the audit records of their calls, a message that is not an event and an
    // event of a session that does not exist (the projector terminates both).
    sessions = [];
    for (let s = 0; s < 2; s++) {
      sessions.push(await aSession());
    }
    for (const sessionId of sessions) for (const event of aBuild(sessionId)) await publishEvent(nats, event);
    await nats.js.publish(
      nats.topology.subjects.event(sessions[0]!, 'table_created'),
      new TextEncoder().encode('{oops'),
      {
        msgID: newId(),
      },
    );
    await publishEvent(nats, aBuild(newId())[0]!);
    await projectorSettled(10_000);
  });

  /** Waits until the projector has settled the whole stream; resolves to the stream's last sequence. */
  /** `count` new events, the n-th at second `from + n` of the test's clock. */
  function numbered(
    count: number,
    from: number,
    make: (n: number) => Omit<BuildEvent, 'id' | 'version' | 'ts'>,
  ): BuildEvent[] {
    return Array.from(
      { length: count },
      (_, n) => ({ id: newId(), version: 1, ts: ts(from + n), ...make(n) }) as BuildEvent,
    );
  }

  /** A finished session of the control plane, for events to belong to. */
  async function aSession(): Promise<string> {
    const { rows } = await control.query<{ id: string }>(
      `insert into build_sessions (status, template, vibe_text) values ('succeeded', 'marketplace', 'a shop') returning id`,
    );
    return rows[0]!.id;
  }

  async function projectorSettled(timeoutMs: number): Promise<number> {
    const last = (await nats.jsm.streams.info(nats.topology.streams.events)).state.last_seq;
    await waitFor(
      async () => {
        const info = await nats.jsm.consumers.info(nats.topology.streams.events, nats.topology.consumers.projector);
        return info.ack_floor.stream_seq >= last && info.num_ack_pending === 0;
      },
      { timeoutMs, what: 'the projector to settle the stream' },
    );
    return last;
  }

  afterAll(async () => {
    await bridge?.app.close();
    await control?.end();
    await pool?.end();
    await nats?.nc.close();
    await namespace?.cleanup();
    await db?.drop();
  });

  function aBuild(sessionId: string): BuildEvent[] {
    const commandId = stableId(sessionId, 'apply');
    const base = (key: string, n: number) => ({
      id: stableId(sessionId, key),
      sessionId,
      version: 1 as const,
      ts: ts(n),
    });
    return [
      {
        ...base('plan', 1),
        type: 'plan_created',
        message: 'planned',
        payload: { template: 'marketplace', tables: ['orders'], policies: 1, chunks: 1 },
      },
      {
        ...base('mcp', 2),
        type: 'mcp_call',
        message: 'apply_migration: execute_sql ok',
        payload: {
          tool: 'execute_sql',
          environment: 'env_1',
          commandId,
          command: 'apply_migration',
          call: 1,
          attempt: 1,
          server: { driver: 'local', mode: 'read-write', transport: 'in-memory' },
          input: { query: 'create table orders (id uuid)' },
          output: { rows: 0 },
          ok: true,
          startedAt: ts(2),
          endedAt: ts(2),
          durationMs: 4,
          worker: 'test:1',
        },
      },
      {
        ...base('call', 3),
        type: 'provisioner_call',
        message: 'apply_migration succeeded',
        payload: {
          tool: 'apply_migration',
          environment: 'env_1',
          commandId,
          input: { name: 'schema' },
          output: { applied: true },
          ok: true,
          startedAt: ts(2),
          durationMs: 9,
        },
      },
      {
        ...base('table', 4),
        type: 'table_created',
        message: 'Created table public.orders',
        payload: { table: 'orders', columns: ['id'] },
      },
      {
        ...base('done', 5),
        type: 'build_succeeded',
        message: 'done',
        payload: { durationMs: 5, tables: 1, policies: 1 },
      },
    ];
  }

  const verify = (options: { sessionId?: string; rebuild: boolean }) => {
    const lines: string[] = [];
    return verifyProjection(nats, pool, options, { out: (line) => lines.push(line) }).then((result) => ({
      result,
      lines,
    }));
  };

  /** `npm run vibe -- replay ...`, as a user runs it: the built CLI, its output and exit code. */
  function cli(args: string[]): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'tools/cli/dist/main.js'), 'replay', ...args], {
        env: { ...process.env, DATABASE_URL: db.url, NATS_URL, NATS_NAMESPACE: namespace.namespace },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, output }));
    });
  }

  it("prints a session's audit timeline from the stream, MCP and provisioner calls included", async () => {
    const lines: string[] = [];
    const count = await printAuditTimeline(nats, sessions[0]!, { out: (line) => lines.push(line) });
    expect(count).toBe(6);
    const text = lines.join('\n');
    expect(text).toMatch(/plan_created\s+planned/);
    expect(text).toMatch(
      /mcp_call\s+mcp execute_sql \(local read-write, call 1 of apply_migration\) ok on env_1 in 4 ms/,
    );
    expect(text).toMatch(/provisioner_call\s+apply_migration ok on env_1 in 9 ms/);
    expect(text).toContain('not JSON; the projector terminated it');
    expect(lines.at(-1)).toMatch(/^\n6 message\(s\) replayed from .* events\/s\)\.$/);
  });

  it('finds build_events matching the stream, then a deleted, an altered and an extra row, and rebuild repairs them', async () => {
    const clean = await verify({ rebuild: false });
    expect(total(clean.result.diff)).toBe(0);
    expect(clean.lines.at(-1)).toBe('build_events matches the stream: no row missing, altered or extra.');

    const [target, other] = sessions as [string, string];
    const deleted = stableId(target, 'plan');
    const altered = stableId(target, 'table');
    await control.query('delete from build_events where id = $1', [deleted]);
    await control.query(
      `update build_events set message = 'Created table public.hacked', payload = '{"table":"hacked"}' where id = $1`,
      [altered],
    );
    const { rows } = await control.query<{ id: string }>(
      `insert into build_events (session_id, type, message, payload) values ($1, 'policy_created', 'forged', '{}') returning id`,
      [target],
    );
    const extra = rows[0]!.id;
    // A change in another session is outside a --session check, and inside a full one.
    await control.query(`update build_events set ts = ts + interval '1 second' where id = $1`, [
      stableId(other, 'done'),
    ]);

    const found = await verify({ sessionId: target, rebuild: false });
    expect(found.result.diff.missing.map((row) => row.id)).toEqual([deleted]);
    expect(found.result.diff.altered.map((change) => [change.stored.id, change.fields])).toEqual([
      [altered, ['message', 'payload']],
    ]);
    expect(found.result.diff.extra.map((row) => row.id)).toEqual([extra]);
    expect(found.lines.join('\n')).toContain('1 missing, 1 altered, 1 extra');
    expect(found.lines.join('\n')).toContain(
      'message: stream "Created table public.orders" ≠ stored "Created table public.hacked"',
    );

    const everything = await cli(['--verify']);
    expect(everything.code).toBe(1);
    expect(everything.output).toContain('1 missing, 2 altered, 1 extra');
    expect(everything.output).toMatch(
      /ts: stream "2030-01-01T00:00:05\.000000Z" ≠ stored "2030-01-01T00:00:06\.000000Z"/,
    );

    const rebuilt = await cli(['--verify', '--rebuild']);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.output).toContain('Repaired build_events: 1 inserted, 2 set back, 1 deleted.');
    expect(rebuilt.output).toContain('build_events now matches the stream.');

    expect((await cli(['--verify'])).code).toBe(0);
    const { rows: restored } = await control.query(
      'select id, message, payload from build_events where session_id = $1 order by seq',
      [target],
    );
    expect(restored.map((row) => row.id)).toEqual(aBuild(target).map((event) => event.id));
    expect(restored.find((row) => row.id === altered)).toMatchObject({
      message: 'Created table public.orders',
      payload: { table: 'orders', columns: ['id'] },
    });
  });

  it('prints the audit timeline through the CLI, and refuses bad usage with exit code 2', async () => {
    const timeline = await cli([sessions[1]!]);
    expect(timeline.code).toBe(0);
    expect(timeline.output).toContain('mcp execute_sql');
    expect((await cli(['not-a-uuid'])).code).toBe(2);
    expect((await cli(['--verify', '--session', 'x'])).code).toBe(2);
    expect((await cli(['--frobnicate'])).code).toBe(2);
  });

  it('replays a stream longer than one fetch, each message once, a session among others included', async () => {
    const sessionId = await aSession();
    const many = numbered(4_321, 100, (n) => ({
      sessionId,
      type: 'table_created',
      message: `Created table public.t${n}`,
      payload: { table: `t${n}`, columns: ['id'] },
    }));
    for (let i = 0; i < many.length; i += 500) {
      await Promise.all(many.slice(i, i + 500).map((event) => publishEvent(nats, event)));
    }
    const last = await projectorSettled(20_000);

    const one = await verify({ sessionId, rebuild: false });
    expect(total(one.result.diff)).toBe(0);
    expect(one.lines.join('\n')).toContain(`Replayed 4321 message(s) of session ${sessionId}`);
    const all = await verify({ rebuild: false });
    expect(total(all.result.diff)).toBe(0);
    expect(all.lines.join('\n')).toContain(`Replayed ${last} message(s) of every session through stream seq ${last}`);
  });

  it('replays awkward text as stored, and an event the stream holds twice as the projector kept it (the first copy)', async () => {
    const sessionId = await aSession();
    const awkward = 'a\ttab, a\nnew line, a\r return, a \\ backslash, \\N, \\. and \u00e9\u4e2d\ud83d\ude00';
    const events = numbered(30, 200, (n) => ({
      sessionId,
      type: 'step_completed',
      message: `${n}: ${awkward}`,
      payload: { step: `step ${n}`, done: [awkward, `"quoted" \\"escaped\\" ${n}`], deferred: [] },
    }));
    for (const event of events) await publishEvent(nats, event);
    // The same event again under another message id (as a re-publish after the duplicate window), altered: the
    // projector keeps the first copy, and so must replay.
    const again = { ...events[7]!, message: 'the second copy' };
    await nats.js.publish(nats.topology.subjects.event(sessionId, again.type), JSON.stringify(again), {
      msgID: newId(),
    });
    await projectorSettled(20_000);
    const stored = await control.query<{ message: string }>('select message from build_events where id = $1', [
      again.id,
    ]);
    expect(stored.rows[0]!.message).toBe(events[7]!.message);

    for (const sessionFilter of [sessionId, undefined]) {
      const { result, lines } = await verify({ sessionId: sessionFilter, rebuild: false });
      expect(lines.join('\n')).toContain('build_events matches the stream');
      expect(total(result.diff)).toBe(0);
    }
  });
});
