import { dropScratch } from './bench/scratch.js';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  createClient,
  REALTIME_SUBSCRIBE_STATES,
  type RealtimeChannel,
  type SupabaseClient,
} from '@supabase/supabase-js';
import { newId, stableId, type BuildEvent, type StartBuild } from '@vibe/contracts';
import {
  connectJetStream,
  migrate,
  publishEvent,
  publishJson,
  withDatabase,
  type JetStreamContext,
} from '@vibe/platform';
import { SAMPLE_VIBE } from './sample.js';
import { freePorts, SERVICES, startStack, type RunningStack } from './stack.js';

export interface RealtimeBenchOptions {
  clients: number;
  builds: number;
  /** Events the bench publishes itself, after the builds, timed to the microsecond. */
  synthetic: number;
  /** Synthetic events per second. */
  rate: number;
  vsn: '1.0.0' | '2.0.0';
  adminUrl: string;
  natsUrl: string;
  out: (line: string) => void;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface RealtimeBenchResult {
  clients: number;
  subscribeMs: number;
  /** Real builds: receipt time minus the event's ts (stamped by its producer just before publishing), ms. */
  builds: LatencySummary;
  /** Synthetic events: receipt minus the moment before `js.publish`, on one monotonic clock, ms. */
  synthetic: LatencySummary;
  /** Events each client missed (should be 0). */
  missed: number;
}

/**
 * Publish-to-receipt latency through the local Realtime endpoint with `clients` supabase-js clients on one
 * build channel. It runs its own stack (the five services as processes, a scratch control-plane database and
 * NATS namespace, all removed afterwards), so nothing of yours is touched and every client is subscribed
 * before each build starts: the session row is written first and the build command published after.
 */
export async function benchRealtime(options: RealtimeBenchOptions): Promise<RealtimeBenchResult> {
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const database = `vibe_bench_rt_${suffix}`;
  const namespace = `bench_rt_${suffix}`;
  const envPrefix = `vibe_bench_${randomBytes(3).toString('hex')}_`;
  const databaseUrl = withDatabase(options.adminUrl, database);
  await migrate(databaseUrl);
  const ports = await freePorts(SERVICES.length);
  const portOf = Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]!])) as Record<
    (typeof SERVICES)[number],
    number
  >;
  const bridgeUrl = `http://127.0.0.1:${portOf['realtime-bridge']}`;
  let stack: RunningStack | undefined;
  let jetstream: JetStreamContext | undefined;
  const control = new pg.Client({ connectionString: databaseUrl });
  try {
    stack = await startStack({
      env: {
        DATABASE_URL: databaseUrl,
        NATS_URL: options.natsUrl,
        NATS_NAMESPACE: namespace,
        ENV_DATABASE_URL: options.adminUrl,
        ENV_DB_PREFIX: envPrefix,
        REALTIME_URL: bridgeUrl,
      },
      ports: portOf,
    });
    jetstream = await connectJetStream(options.natsUrl, namespace, 'bench-realtime');
    await control.connect();
    const buildLatencies: number[] = [];
    const syntheticLatencies: number[] = [];
    let subscribeMs = 0;
    let missed = 0;

    for (let build = 0; build < options.builds; build++) {
      const session = await newSession(control);
      const started = performance.now();
      const listeners = await subscribeAll(bridgeUrl, session, options);
      subscribeMs = Math.max(subscribeMs, performance.now() - started);
      const command: StartBuild = {
        kind: 'start',
        version: 1,
        commandId: stableId(session.id, 'start'),
        sessionId: session.id,
      };
      await publishJson(jetstream, jetstream.topology.subjects.buildCommand('start'), command, command.commandId);
      await Promise.all(listeners.map((listener) => listener.finished));
      const published = await eventCount(control, session.id);
      for (const listener of listeners) {
        buildLatencies.push(...listener.latencies);
        missed += Math.max(0, published - listener.received);
      }
      options.out(
        `build ${build + 1}/${options.builds}: ${published} events to ${listeners.length} clients, ` +
          `p50 ${percentile(
            listeners.flatMap((l) => l.latencies),
            0.5,
          ).toFixed(1)} ms`,
      );
      await closeAll(listeners);
    }

    if (options.synthetic > 0) {
      const session = await newSession(control);
      const listeners = await subscribeAll(bridgeUrl, session, options, options.synthetic);
      const sentAt = new Map<string, number>();
      for (const listener of listeners) listener.onEvent = (id) => syntheticLatencies.push(receivedAt(sentAt, id));
      const gapMs = 1000 / options.rate;
      const begin = performance.now();
      for (let n = 0; n < options.synthetic; n++) {
        const wait = begin + n * gapMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const event = syntheticEvent(session.id, n);
        sentAt.set(event.id, performance.now());
        await publishEvent(jetstream, event);
      }
      await Promise.race([
        Promise.all(listeners.map((listener) => listener.finished)),
        new Promise((resolve) => setTimeout(resolve, 30_000)),
      ]);
      missed += listeners.reduce((sum, l) => sum + Math.max(0, options.synthetic - l.received), 0);
      options.out(`synthetic: ${options.synthetic} events at ${options.rate}/s to ${listeners.length} clients`);
      await closeAll(listeners);
    }

    return {
      clients: options.clients,
      subscribeMs,
      builds: summarize(buildLatencies),
      synthetic: summarize(syntheticLatencies),
      missed,
    };
  } finally {
    await control.end().catch(() => undefined);
    await jetstream?.nc.close().catch(() => undefined);
    await stack?.stop();
    await dropScratch(options, { database, envPrefix, namespace });
  }
}

interface Session {
  id: string;
  shareToken: string;
}

interface Listener {
  client: SupabaseClient;
  channel: RealtimeChannel;
  /** Events received. */
  received: number;
  /** For build events: receipt minus the event's ts. */
  latencies: number[];
  /** For synthetic events: told each id on receipt (the bench times it). */
  onEvent?: (id: string) => void;
  finished: Promise<void>;
}

/** The bench's own session row, in its scratch database (the gateway would also start the build at once). */
async function newSession(control: pg.Client): Promise<Session> {
  const { rows } = await control.query<{ id: string; share_token: string }>(
    `insert into public.build_sessions (status, template, vibe_text, options)
     values ('queued', 'marketplace', $1, '{"enableAnalytics":true,"enableDriftSentinel":false,"environmentMode":"branch"}')
     returning id, share_token`,
    [SAMPLE_VIBE],
  );
  return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
}

async function subscribeAll(
  bridgeUrl: string,
  session: Session,
  options: RealtimeBenchOptions,
  expected?: number,
): Promise<Listener[]> {
  return Promise.all(
    Array.from({ length: options.clients }, async () => {
      const client = createClient(bridgeUrl, 'local', {
        auth: { persistSession: false, autoRefreshToken: false },
        realtime: { vsn: options.vsn },
      });
      const channel = client.channel(`build:${session.id}`, { config: { private: true } });
      channel.updateJoinPayload({ share_token: session.shareToken });
      const listener: Listener = { client, channel, received: 0, latencies: [], finished: Promise.resolve() };
      listener.finished = new Promise<void>((resolve) => {
        channel.on('broadcast', { event: '*' }, ({ event, payload }) => {
          const now = Date.now();
          const { id, ts } = payload as { id: string; ts: string };
          listener.received++;
          if (listener.onEvent) {
            listener.onEvent(id);
            if (expected !== undefined && listener.received >= expected) resolve();
            return;
          }
          listener.latencies.push(now - Date.parse(ts));
          if (event === 'build_succeeded' || event === 'build_failed') resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        channel.subscribe((status, error) => {
          if (status === REALTIME_SUBSCRIBE_STATES.SUBSCRIBED) resolve();
          else if (status !== REALTIME_SUBSCRIBE_STATES.CLOSED) reject(error ?? new Error(status));
        });
      });
      return listener;
    }),
  );
}

async function closeAll(listeners: Listener[]): Promise<void> {
  await Promise.all(listeners.map((listener) => listener.client.removeAllChannels()));
}

function receivedAt(sentAt: Map<string, number>, id: string): number {
  const sent = sentAt.get(id);
  return sent === undefined ? Number.NaN : performance.now() - sent;
}

function syntheticEvent(sessionId: string, n: number): BuildEvent {
  return {
    id: newId(),
    sessionId,
    version: 1,
    ts: new Date().toISOString(),
    type: 'step_completed',
    message: `bench event ${n}`,
    payload: { step: 'bench', done: [`event ${n}`], deferred: [] },
  };
}

async function eventCount(control: pg.Client, sessionId: string): Promise<number> {
  // Every event of the build is broadcast after it is projected, so the projection has them all by now.
  const { rows } = await control.query<{ n: number }>(
    'select count(*)::int as n from public.build_events where session_id = $1',
    [sessionId],
  );
  return rows[0]!.n;
}

export function percentile(values: number[], p: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

export function summarize(values: number[]): LatencySummary {
  return {
    samples: values.length,
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    p99: percentile(values, 0.99),
    max: percentile(values, 1),
  };
}
