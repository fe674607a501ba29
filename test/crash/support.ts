/**
 * Crash tests (issue 4): the five services as real processes on the machine's Postgres and NATS, one
 * control-plane database, NATS namespace and environment prefix per test file, with adoption and the
 * provisioner timeout shortened so that recovery is quick enough to test.
 */
import { execFile } from 'node:child_process';
import { connect as connectTcp } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { isTimelineEvent, type BuildEventView, type SessionStatus, type SessionView } from '@vibe/contracts';
import { connectJetStream, type JetStreamContext } from '@vibe/platform';
import { freePorts, SERVICES, startStack, type RunningStack, type ServiceProcess } from '../../tools/cli/src/stack.js';
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
import { aUser, LENIENT_LIMITS, signedIn } from '../support/auth.js';

export const VIBE =
  'A marketplace for vintage furniture. Sellers list items with a price. Buyers bid and check out orders. ' +
  'Buyers only see their own bids and orders. Show daily sales analytics.';
export const BUILD_REQUEST = { vibeText: VIBE, template: 'marketplace', options: { enableAnalytics: true } };

const FINAL_EVENTS = ['build_succeeded', 'build_failed', 'build_canceled'];

/** Settings that make recovery fast enough for a test; the defaults are documented in the orchestrator's config. */
export const FAST_RECOVERY = {
  ADOPT_INTERVAL_MS: '500',
  ADOPT_QUEUED_AFTER_MS: '1500',
  PROVISION_TIMEOUT_MS: '5000',
  SHUTDOWN_GRACE_MS: '5000',
};

export interface CrashStack {
  stack: RunningStack;
  db: TestDatabase;
  envPrefix: string;
  control: pg.Client;
  jetstream: JetStreamContext;
  /** The user who owns the file's builds and signs every request of `api`. */
  owner: string;
  api(path: string, init?: RequestInit): Promise<{ status: number; body: unknown }>;
  /** POSTs the build request; the new session's id. */
  create(body?: object): Promise<string>;
  session(sessionId: string): Promise<SessionView>;
  waitForStatus(sessionId: string, statuses: SessionStatus[], timeoutMs?: number): Promise<SessionView>;
  /** The session's rows of build_events (the projection), in timeline order. */
  events(sessionId: string): Promise<BuildEventView[]>;
  /** Waits until build_events holds the final event and every event the stream has for the session. */
  waitForProjection(sessionId: string, timeoutMs?: number): Promise<BuildEventView[]>;
  /** Restarts the orchestrator with the test pause hook at these nodes (none: no pause). */
  restartOrchestrator(pauseAt?: string[], env?: Record<string, string>): Promise<ServiceProcess>;
  /** Resolves when the orchestrator has paused the session at the node (the VIBE_TEST_PAUSE_AT_NODE marker). */
  paused(sessionId: string, node: string, processHandle?: ServiceProcess, timeoutMs?: number): Promise<void>;
  /** Environment databases of this test file that exist now. */
  environmentDatabases(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startCrashStack(prefix: string, env: Record<string, string> = {}): Promise<CrashStack> {
  const db = await createControlPlaneDatabase(`vibe_${prefix}`);
  const namespace = createNamespace(prefix);
  // At most 31 characters (the provisioner's ENV_DB_PREFIX limit).
  const envPrefix = `${uniqueName('vce')}_`;
  const ports = await freePorts(SERVICES.length);
  let stack: RunningStack;
  try {
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
        ...LENIENT_LIMITS,
        ...FAST_RECOVERY,
        ...env,
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
    });
  } catch (error) {
    // A stack that did not come up leaves nothing behind.
    await db.drop();
    await namespace.cleanup();
    throw error;
  }
  const control = new pg.Client({ connectionString: db.url });
  await control.connect();
  const jetstream = await connectJetStream(NATS_URL, namespace.namespace, `${prefix}-test`);

  // Every build of the file belongs to one user, who signs every request.
  const owner = aUser();
  const api = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${stack.gatewayUrl}${path}`, {
      ...init,
      headers: { ...signedIn(owner), ...(init?.body ? { 'content-type': 'application/json' } : {}) },
    });
    const body: unknown = await response.json();
    return { status: response.status, body };
  };
  const session = async (sessionId: string) => {
    const { status, body } = await api(`/sessions?id=${sessionId}`);
    if (status !== 200) throw new Error(`GET /sessions?id=${sessionId}: ${status} ${JSON.stringify(body)}`);
    return body as SessionView;
  };
  const events = async (sessionId: string) => {
    const { body } = await api(`/events?session_id=${sessionId}`);
    return body as BuildEventView[];
  };
  const streamCount = async (sessionId: string) => {
    const info = await jetstream.jsm.streams.info(jetstream.topology.streams.events, {
      subjects_filter: jetstream.topology.subjects.sessionEvents(sessionId),
    });
    return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  };

  return {
    stack,
    db,
    envPrefix,
    control,
    jetstream,
    owner,
    api,
    async create(body = BUILD_REQUEST) {
      const { status, body: created } = await api('/sessions', { method: 'POST', body: JSON.stringify(body) });
      if (status !== 201) throw new Error(`POST /sessions: ${status} ${JSON.stringify(created)}`);
      return (created as { sessionId: string }).sessionId;
    },
    session,
    waitForStatus: (sessionId, statuses, timeoutMs = 60_000) =>
      waitFor(
        async () => {
          const view = await session(sessionId);
          return statuses.includes(view.status) ? view : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `session ${sessionId} to become ${statuses.join(' or ')}` },
      ),
    events,
    waitForProjection: (sessionId, timeoutMs = 60_000) =>
      waitFor(
        async () => {
          const [rows, inStream] = await Promise.all([events(sessionId), streamCount(sessionId)]);
          const ended = rows.some((row) => FINAL_EVENTS.includes(row.type));
          return ended && rows.length === inStream ? rows : undefined;
        },
        { timeoutMs, intervalMs: 100, what: `build_events of ${sessionId} to hold every event of the stream` },
      ),
    async restartOrchestrator(pauseAt = [], extra = {}) {
      return stack.restart('orchestrator', { env: { VIBE_TEST_PAUSE_AT_NODE: pauseAt.join(','), ...extra } });
    },
    async paused(sessionId, node, processHandle = stack.process('orchestrator'), timeoutMs = 30_000) {
      await processHandle.waitForLine(new RegExp(`VIBE_TEST_PAUSED node=${node} session=${sessionId}`), {
        timeoutMs,
      });
    },
    async environmentDatabases() {
      const { rows } = await control.query<{ datname: string }>(
        "select datname from pg_database where datname like $1 || '%' and datname not like $1 || 'template%' order by 1",
        [envPrefix],
      );
      return rows.map((row) => row.datname);
    },
    async close() {
      await stack.stop();
      await jetstream.nc.close().catch(() => undefined);
      await control.end().catch(() => undefined);
      await dropDatabasesLike(envPrefix);
      await db.drop();
      await namespace.cleanup();
    },
  };
}

/**
 * What an event is about, beyond its type: the same for the same step of any build of the same vibe (a
 * table, a policy, a step, a provisioner command and its MCP call number), never a time or an id.
 */
export function eventIdentity(event: BuildEventView): string {
  const detail = ['table', 'policy', 'step', 'slug', 'commandId', 'call']
    .map((key) => event.payload[key])
    .filter((value) => typeof value === 'string' || typeof value === 'number');
  return [event.type, ...detail].join(':');
}

/** The session's timeline events (spec §5.2), as identities, sorted: comparable between two builds. */
export function timelineOf(events: BuildEventView[]): string[] {
  return events
    .filter((event) => isTimelineEvent(event.type))
    .map(eventIdentity)
    .sort();
}

/** Identities recorded more than once: an effect, a step or an audit record that happened twice. */
export function duplicates(events: BuildEventView[]): string[] {
  const seen = new Map<string, number>();
  for (const event of events) seen.set(eventIdentity(event), (seen.get(eventIdentity(event)) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([identity, n]) => `${identity} x${n}`);
}

/** The environment database of a session, as the local driver names it. */
export function environmentName(envPrefix: string, sessionId: string): string {
  return `${envPrefix}${sessionId.replace(/-/g, '')}`;
}

/** Figures measured by the crash tests, printed at the end when CRASH_FIGURES is set. */
export const figures: Array<{ what: string; ms: number }> = [];
export function figure(what: string, ms: number): void {
  figures.push({ what, ms: Math.round(ms) });
}
export function printFigures(title: string): void {
  if (!process.env.CRASH_FIGURES || figures.length === 0) return;
  process.stderr.write(`\n${title}\n${figures.map((f) => `  ${f.what}: ${f.ms} ms`).join('\n')}\n`);
}

const run = promisify(execFile);
const NATS_SERVER = '/usr/sbin/nats-server';

/**
 * Restarts the machine's NATS server (DESIGN.md §5 starts it this way), keeping the outage to `downMs`
 * plus the restart itself, and always leaves it running. Returns how long NATS was unreachable.
 */
export async function restartNats(downMs = 1000): Promise<number> {
  const stoppedAt = Date.now();
  try {
    await run('start-stop-daemon', ['--stop', '--oknodo', '--exec', NATS_SERVER, '--retry', 'TERM/5/KILL/2']);
    await new Promise((resolve) => setTimeout(resolve, downMs));
  } finally {
    await startNats();
  }
  return Date.now() - stoppedAt;
}

export async function startNats(): Promise<void> {
  await run('start-stop-daemon', [
    '--start',
    '--oknodo',
    '--background',
    '--exec',
    NATS_SERVER,
    '--',
    '-a',
    '127.0.0.1',
    '-p',
    '4222',
    '-js',
    '-sd',
    '/var/lib/nats-server',
    '-l',
    '/var/log/nats-server.log',
  ]);
  await waitFor(() => portOpen(4222), { timeoutMs: 20_000, intervalMs: 50, what: 'NATS to listen again' });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
