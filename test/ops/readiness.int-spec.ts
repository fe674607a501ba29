/**
 * The five services as real processes (their built `main.js`, as `npm run dev` starts them): readiness follows
 * Postgres, NATS and the JetStream consumers; a build after the outages is measured in the metrics; every
 * log line is one JSON object, carrying the session id when it is about a session.
 *
 * NATS is a server of this test's own (`nats-server -js` on a free port, its store in a temp dir), so that it
 * can be stopped without touching the machine's NATS that other tests use. Postgres is the machine's; the
 * test's own control-plane database is made unavailable (no connections allowed, existing ones ended).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { topology, type SessionView } from '@vibe/contracts';
import { quoteIdent } from '@vibe/platform';
import { BUILD_STEPS } from '../../services/orchestrator/src/graph/step.js';
import { freePorts, SERVICES, startStack, type RunningStack, type ServiceName } from '../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  dropDatabasesLike,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../support/index.js';
import { aUser, signedIn } from '../support/auth.js';

const NATS_SERVER = '/usr/sbin/nats-server';
const CONSUMING: ServiceName[] = ['orchestrator', 'provisioner', 'realtime-bridge'];

interface Health {
  status: number;
  body: { service: string; status: string; checks?: Record<string, string> };
}

describe('health, metrics and logs of the running services', () => {
  let natsPort: number;
  let natsDir: string;
  let nats: ChildProcess | undefined;
  let db: TestDatabase;
  let admin: pg.Client;
  let envPrefix: string;
  let stack: RunningStack;
  let sessionId: string;

  async function startNats(): Promise<void> {
    const server = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', natsDir], {
      stdio: 'ignore',
    });
    nats = server;
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connectTcp(natsPort, '127.0.0.1');
          socket.once('connect', () => {
            socket.end();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        }),
      { what: `nats-server on ${natsPort}` },
    );
  }

  async function stopNats(): Promise<void> {
    const server = nats;
    nats = undefined;
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  }

  /** Allows or refuses connections to the control-plane database; refusing also ends the open ones. */
  async function controlPlaneAvailable(available: boolean): Promise<void> {
    await admin.query(`alter database ${quoteIdent(db.name)} with allow_connections ${available}`);
    if (!available) {
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [db.name]);
    }
  }

  async function health(service: ServiceName, path = '/health'): Promise<Health> {
    const response = await fetch(`http://127.0.0.1:${stack.ports[service]}${path}`);
    return { status: response.status, body: (await response.json()) as Health['body'] };
  }

  const everyService = async (predicate: (service: ServiceName, health: Health) => boolean, what: string) =>
    waitFor(
      async () => {
        const all = await Promise.all(SERVICES.map(async (service) => [service, await health(service)] as const));
        return all.every(([service, h]) => predicate(service, h)) ? Object.fromEntries(all) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what },
    );

  const metricsOf = async (service: ServiceName) => {
    const response = await fetch(`http://127.0.0.1:${stack.ports[service]}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  /** The value of one sample of the Prometheus text, or undefined. */
  const sample = (text: string, name: string, labels: Record<string, string>) => {
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => l.includes(`${key}="${value}"`)),
      );
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  beforeAll(async () => {
    [natsPort] = (await freePorts(1)) as [number];
    natsDir = mkdtempSync(path.join(tmpdir(), 'vibe-ops-nats-'));
    await startNats();
    db = await createControlPlaneDatabase('vibe_ops');
    admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    envPrefix = `${uniqueName('vops')}_`;
    const ports = await freePorts(SERVICES.length);
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_URL: `nats://127.0.0.1:${natsPort}`,
        NATS_NAMESPACE: '',
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
        ENV_API_URL: 'http://127.0.0.1:0/env/{ref}',
        LOG_LEVEL: 'log',
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
      readyTimeoutMs: 60_000,
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await stopNats();
    if (natsDir) rmSync(natsDir, { recursive: true, force: true });
    if (db) await controlPlaneAvailable(true).catch(() => undefined);
    await admin?.end();
    await dropDatabasesLike(envPrefix);
    await db?.drop();
  });

  it('are ready with Postgres, NATS and, where they consume, their JetStream consumers', async () => {
    for (const service of SERVICES) {
      const h = await health(service);
      expect([service, h.status, h.body.status]).toEqual([service, 200, 'ok']);
      expect(h.body.checks).toMatchObject({ postgres: 'ok', nats: 'ok' });
      if (CONSUMING.includes(service)) expect(h.body.checks).toMatchObject({ consumers: 'ok' });
      expect(await health(service, '/health/live')).toEqual({ status: 200, body: { service, status: 'ok' } });
    }
  });

  it('turn unready while NATS is away (still alive), and ready again when it returns', async () => {
    await stopNats();
    const down = await everyService(
      (service, h) =>
        h.status === 503 &&
        h.body.status === 'unavailable' &&
        h.body.checks?.nats !== 'ok' &&
        h.body.checks?.postgres === 'ok' &&
        (!CONSUMING.includes(service) || h.body.checks?.consumers !== 'ok'),
      'every service to report NATS unavailable',
    );
    expect(down.provisioner!.body.checks!.nats).toMatch(/disconnect|closed|timeout/i);
    for (const service of SERVICES) expect((await health(service, '/health/live')).status).toBe(200);

    await startNats();
    await everyService(
      (service, h) =>
        h.status === 200 &&
        h.body.checks?.nats === 'ok' &&
        (!CONSUMING.includes(service) || h.body.checks?.consumers === 'ok'),
      'every service to be ready again after NATS returned',
    );
  });

  it('turn unready while their Postgres database is unavailable, and ready again when it returns', async () => {
    await controlPlaneAvailable(false);
    try {
      const down = await everyService(
        (_service, h) => h.status === 503 && h.body.checks?.postgres !== 'ok' && h.body.checks?.nats === 'ok',
        'every service to report Postgres unavailable',
      );
      expect(down.gateway!.body.checks!.postgres).toMatch(/not currently accepting connections|terminat/i);
      for (const service of SERVICES) expect((await health(service, '/health/live')).status).toBe(200);
    } finally {
      await controlPlaneAvailable(true);
    }
    await everyService((_service, h) => h.status === 200, 'every service to be ready again after Postgres returned');
  });

  it('build after both outages, and the metrics show it: build and node durations, projection, MCP calls, lag', async () => {
    const owner = aUser();
    const created = await fetch(`${stack.gatewayUrl}/sessions`, {
      method: 'POST',
      headers: { ...signedIn(owner), 'content-type': 'application/json' },
      body: JSON.stringify({ vibeText: 'A marketplace for vintage cameras with reviews.', template: 'marketplace' }),
    });
    expect(created.status).toBe(201);
    sessionId = ((await created.json()) as { sessionId: string }).sessionId;
    const session = await waitFor(
      async () => {
        const view = (await (
          await fetch(`${stack.gatewayUrl}/sessions?id=${sessionId}`, { headers: signedIn(owner) })
        ).json()) as SessionView;
        return ['succeeded', 'failed', 'canceled'].includes(view.status) ? view : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the build to end' },
    ).catch((error: unknown) => {
      const tails = SERVICES.map((service) => `--- ${service}\n${stack.tail(service).join('\n')}`).join('\n');
      throw new Error(`${String(error)}\n${tails}`);
    });
    expect([session.status, session.error]).toEqual(['succeeded', null]);

    // The build's duration is observed once its graph run returns, just after the status is written.
    const orchestrator = await waitFor(
      async () => {
        const text = await metricsOf('orchestrator');
        const builds = sample(text, 'vibe_build_duration_seconds_count', {
          template: 'marketplace',
          outcome: 'succeeded',
        });
        return builds === undefined ? undefined : text;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'the build in the orchestrator metrics' },
    );
    expect(
      sample(orchestrator, 'vibe_build_duration_seconds_count', { template: 'marketplace', outcome: 'succeeded' }),
    ).toBe(1);
    expect(
      sample(orchestrator, 'vibe_build_duration_seconds_sum', { template: 'marketplace', outcome: 'succeeded' }),
    ).toBeGreaterThan(0);
    for (const node of BUILD_STEPS) {
      expect([node, sample(orchestrator, 'vibe_build_node_duration_seconds_count', { node, outcome: 'ok' })]).toEqual([
        node,
        1,
      ]);
    }

    const events = (await (
      await fetch(`${stack.gatewayUrl}/events?session_id=${sessionId}`, { headers: signedIn(owner) })
    ).json()) as unknown[];
    const bridge = await waitFor(async () => {
      const text = await metricsOf('realtime-bridge');
      return sample(text, 'vibe_events_projected_total', { type: 'build_succeeded' }) === 1 ? text : undefined;
    });
    const projected = bridge
      .split('\n')
      .filter((l) => l.startsWith('vibe_events_projected_total{'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(projected).toBeGreaterThanOrEqual(events.length);

    const provisioner = await metricsOf('provisioner');
    const mcpCalls = provisioner
      .split('\n')
      .filter((l) => l.startsWith('vibe_mcp_call_duration_seconds_count{') && l.includes('outcome="ok"'));
    expect(mcpCalls.length).toBeGreaterThan(0);
    expect(provisioner).toContain('# TYPE vibe_mcp_call_errors_total counter');

    // Consumer lag of each consuming service's own consumer: the names KEDA scales on (namespace "").
    const t = topology('');
    const lag: Array<[ServiceName, string, string]> = [
      ['orchestrator', t.streams.buildCommands, t.consumers.orchestrator],
      ['provisioner', t.streams.provisionCommands, t.consumers.provisioner],
      ['realtime-bridge', t.streams.events, t.consumers.projector],
    ];
    for (const [service, stream, consumer] of lag) {
      const text = await metricsOf(service);
      expect([service, sample(text, 'vibe_jetstream_consumer_pending_messages', { stream, consumer })]).toEqual([
        service,
        0,
      ]);
      expect(sample(text, 'vibe_jetstream_consumer_ack_pending_messages', { stream, consumer })).toEqual(
        expect.any(Number),
      );
      expect(text).toMatch(/^process_cpu_seconds_total /m);
    }
  });

  it('log one JSON object per line, with the session id on the lines about a session', () => {
    const aboutTheSession: string[] = [];
    for (const service of SERVICES) {
      const lines = stack.process(service).lines();
      expect(lines.length).toBeGreaterThan(3);
      for (const line of lines) {
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`${service} printed a line that is not JSON: ${line}`);
        }
        expect(record).toEqual(
          expect.objectContaining({
            level: expect.stringMatching(/^(FATAL|ERROR|WARN|INFO|DEBUG|VERBOSE)$/),
            time: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
            service,
            message: expect.any(String),
          }),
        );
        if (String(record.message).includes(`session ${sessionId}`)) {
          expect([line, record.sessionId]).toEqual([line, sessionId]);
          aboutTheSession.push(service);
        }
      }
    }
    expect(aboutTheSession).toContain('orchestrator');
  });
});
