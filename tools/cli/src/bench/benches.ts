import { spawn } from 'node:child_process';
import os from 'node:os';
import pg from 'pg';
import { newId, type BuildEvent } from '@vibe/contracts';
import { encodeJson } from '@vibe/platform';
import { gatewayToken } from '../auth.js';
import { benchBuild } from '../bench-build.js';
import { benchDrift } from '../bench-drift.js';
import { benchRealtime } from '../bench-realtime.js';
import { GatewayClient } from '../gateway-client.js';
import { REPLAY_ENTRY } from '../replay-command.js';
import { SAMPLE_VIBE } from '../sample.js';
import { SERVICES, type ServiceProcess } from '../stack.js';
import { RssSampler } from './memory.js';
import { type Figure, type Section } from './report.js';
import { type ScratchStack } from './scratch.js';
import { distribution, perSecond, ratio } from './stats.js';
import { slidingWindow } from './window.js';

export interface BenchContext {
  adminUrl: string;
  natsUrl: string;
  out: (line: string) => void;
  verbose: boolean;
}

/** Runs `work` and wraps what it measured into a section: name, timing and the machine's load around it. */
export async function section(
  name: string,
  title: string,
  parameters: Section['parameters'],
  work: () => Promise<{ figures: Figure[]; notes?: string[] }>,
): Promise<Section> {
  const startedAt = new Date().toISOString();
  const load = os.loadavg()[0]!;
  const started = performance.now();
  const { figures, notes = [] } = await work();
  return {
    name,
    title,
    startedAt,
    elapsedMs: performance.now() - started,
    load: [load, os.loadavg()[0]!],
    parameters,
    figures,
    notes,
  };
}

const MB_200 = { on: 'value', op: '<', limit: 200 } as const;

/** One build nothing is measured on: makes the branch template and warms every service's code paths. */
export async function warmUp(scratch: ScratchStack): Promise<void> {
  const gatewayUrl = scratch.stack.gatewayUrl;
  const client = new GatewayClient(gatewayUrl, gatewayToken(gatewayUrl).token);
  const sessionId = await client.createSession({
    vibeText: SAMPLE_VIBE,
    template: 'marketplace',
    options: { enableAnalytics: true },
  });
  const final = await client.waitForEvent(sessionId, ['build_succeeded', 'build_failed', 'build_canceled'], 180_000);
  if (final.type !== 'build_succeeded') throw new Error(`the warm-up build ended ${final.type}: ${final.message}`);
}

/** e2e: sequential builds of the sample vibe, each beside its floor (a database made and the same SQL applied directly). */
export async function e2e(scratch: ScratchStack, ctx: BenchContext, builds: number): Promise<Section> {
  return section('e2e', 'POST /sessions → build_succeeded, one build at a time', { builds }, async () => {
    const gatewayUrl = scratch.stack.gatewayUrl;
    const result = await benchBuild(gatewayUrl, ctx.adminUrl, builds, gatewayToken(gatewayUrl).token);
    const wall = distribution(result.wallMs);
    const floor = distribution(result.floorMs);
    ctx.out(`e2e: p50 ${wall.p50.toFixed(0)} ms, p95 ${wall.p95.toFixed(0)} ms; floor p50 ${floor.p50.toFixed(0)} ms`);
    return {
      figures: [
        {
          name: 'build p50',
          value: wall.p50,
          unit: 'ms',
          floor: floor.p50,
          ratio: ratio(wall.p50, floor.p50),
          targets: [
            { on: 'value', op: '<', limit: 1000 },
            { on: 'ratio', op: '<', limit: 4 },
          ],
        },
        { name: 'build p95', value: wall.p95, unit: 'ms', floor: floor.p95, ratio: ratio(wall.p95, floor.p95) },
      ],
      notes: [
        'Floor: `create database … template` of the same branch template, then the SQL the build applied (read ' +
          "back from the environment's migration ledger), over one connection. Analytics on.",
      ],
    };
  });
}

export interface ConcurrentRound {
  builds: number;
  succeeded: number;
  wallMs: number;
  latencies: number[];
  /** How the builds that did not succeed ended (their final event's message), each once with its count. */
  failures: Array<{ message: string; count: number }>;
}

/** `builds` builds started at once; each timed from its POST to its final event. */
export async function concurrentRound(scratch: ScratchStack, builds: number): Promise<ConcurrentRound> {
  const gatewayUrl = scratch.stack.gatewayUrl;
  const client = new GatewayClient(gatewayUrl, gatewayToken(gatewayUrl).token);
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: builds }, async () => {
      const begin = performance.now();
      const sessionId = await client.createSession({
        vibeText: SAMPLE_VIBE,
        template: 'marketplace',
        options: { enableAnalytics: true },
      });
      const final = await client.waitForEvent(
        sessionId,
        ['build_succeeded', 'build_failed', 'build_canceled'],
        600_000,
      );
      return { ms: performance.now() - begin, ok: final.type === 'build_succeeded', message: final.message };
    }),
  );
  const failures = new Map<string, number>();
  for (const result of results.filter((r) => !r.ok)) {
    failures.set(result.message, (failures.get(result.message) ?? 0) + 1);
  }
  return {
    builds,
    succeeded: results.filter((result) => result.ok).length,
    wallMs: performance.now() - started,
    latencies: results.map((result) => result.ms),
    failures: [...failures].map(([message, count]) => ({ message, count })),
  };
}

function concurrentFigures(round: ConcurrentRound, label: string): Figure[] {
  const latency = distribution(round.latencies);
  return [
    { name: `${label}: builds per minute`, value: (round.succeeded * 60_000) / round.wallMs, unit: 'builds/min' },
    { name: `${label}: build p50`, value: latency.p50, unit: 'ms' },
    { name: `${label}: build p95`, value: latency.p95, unit: 'ms' },
  ];
}

export interface MemoryReadings {
  idle: Map<ServiceProcess, number>;
  concurrent?: Map<ServiceProcess, number>;
}

/** The RSS of every service of a settled stack, sampled for `ms`. */
export async function idleMemory(scratch: ScratchStack, ms = 2000): Promise<Map<ServiceProcess, number>> {
  const sampler = new RssSampler(() => scratch.processes(), 100).start();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return sampler.stop();
}

/**
 * concurrent: the round with one provisioner process (the services' RSS sampled all along), then a second
 * provisioner process and the round again.
 */
export async function concurrent(
  scratch: ScratchStack,
  ctx: BenchContext,
  builds: number,
  provisioners: number[],
): Promise<{ section: Section; memory: Map<ServiceProcess, number> }> {
  let memory = new Map<ServiceProcess, number>();
  const result = await section(
    'concurrent',
    `${builds} builds started at once`,
    { builds, provisioners: provisioners.join(' and ') },
    async () => {
      const figures: Figure[] = [];
      const notes: string[] = [];
      for (const count of provisioners) {
        while (scratch.processes().filter((p) => p.service === 'provisioner').length < count) {
          await scratch.startReplica('provisioner');
        }
        await scratch.dropEnvironments();
        const sampler = new RssSampler(() => scratch.processes(), 100).start();
        const round = await concurrentRound(scratch, builds);
        const peaks = sampler.stop();
        if (count === provisioners[0]) memory = peaks;
        const label = `${count} provisioner${count > 1 ? 's' : ''}`;
        ctx.out(
          `concurrent (${label}): ${round.succeeded}/${round.builds} succeeded in ${(round.wallMs / 1000).toFixed(1)} s, ` +
            `p95 ${distribution(round.latencies).p95.toFixed(0)} ms`,
        );
        figures.push(...concurrentFigures(round, label));
        notes.push(
          `${label}: ${round.succeeded} of ${round.builds} succeeded in ${(round.wallMs / 1000).toFixed(1)} s.`,
          ...round.failures.map(({ message, count }) => `${label}, ${count} × not succeeded: ${message}`),
        );
        for (const { message, count } of round.failures) ctx.out(`  ${count} × ${message}`);
      }
      await scratch.dropEnvironments();
      return { figures, notes };
    },
  );
  return { section: result, memory };
}

/** memory: each service's largest RSS, idle and during the first concurrent round. */
export function memorySection(readings: MemoryReadings, startedAt: string): Section {
  const figures: Figure[] = [];
  const byService = (peaks: Map<ServiceProcess, number>, service: string) =>
    Math.max(...[...peaks].filter(([p]) => p.service === service).map(([, rss]) => rss));
  for (const service of SERVICES) {
    figures.push({ name: `${service} idle`, value: byService(readings.idle, service), unit: 'MB', targets: [MB_200] });
    if (readings.concurrent) {
      figures.push({
        name: `${service} during concurrent`,
        value: byService(readings.concurrent, service),
        unit: 'MB',
        targets: [MB_200],
      });
    }
  }
  return {
    name: 'memory',
    title: 'peak RSS of each service process',
    startedAt,
    elapsedMs: 0,
    load: [os.loadavg()[0]!, os.loadavg()[0]!],
    parameters: { sampling: '100 ms' },
    figures,
    notes: [
      'RSS of the Node process of each service, read from /proc every 100 ms: idle = a started stack left alone ' +
        "for 2 s; during concurrent = the round with one provisioner. The provisioner's Deno workers (Edge " +
        'Functions, their own processes) are not included.',
    ],
  };
}

/** Inserts `count` session rows straight into the control plane (events need their session: a foreign key). */
async function benchSessions(control: pg.Client, count: number): Promise<string[]> {
  const { rows } = await control.query<{ id: string }>(
    `insert into public.build_sessions (status, template, vibe_text, options)
     select 'succeeded', 'marketplace', $1, '{}'::jsonb from generate_series(1, $2) returning id`,
    [SAMPLE_VIBE, count],
  );
  return rows.map((row) => row.id);
}

/** Events shaped like a build's step events (a few hundred bytes), spread round-robin over the sessions. */
function benchEvents(sessions: string[], count: number): BuildEvent[] {
  const ts = Date.now();
  return Array.from({ length: count }, (_, n) => benchEvent(sessions, n, ts, newId()));
}

/** The `n`-th event of `benchEvents`. */
function benchEvent(sessions: string[], n: number, ts: number, id: string): BuildEvent {
  return {
    id,
    sessionId: sessions[n % sessions.length]!,
    version: 1,
    ts: new Date(ts + n).toISOString(),
    type: 'step_completed',
    message: `bench event ${n}: applied the migration and read the catalog back`,
    payload: {
      step: 'apply_migrations',
      done: ['tables listings, bids, profiles', 'indexes on every foreign key', `event ${n}`],
      deferred: ['edge functions'],
    },
  };
}

const UNNEST_INSERT = `insert into public.build_events (id, session_id, ts, type, message, payload, seq)
  select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
  on conflict (id) do nothing`;

/** The floor of `events`: the same rows inserted directly, `batch` rows per statement over one connection. */
async function insertDirectly(control: pg.Client, events: BuildEvent[], batch: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < events.length; i += batch) {
    const slice = events.slice(i, i + batch);
    await control.query(UNNEST_INSERT, [
      slice.map((e) => e.id),
      slice.map((e) => e.sessionId),
      slice.map((e) => e.ts),
      slice.map((e) => e.type),
      slice.map((e) => e.message),
      slice.map((e) => JSON.stringify(e.payload)),
      slice.map((_, j) => i + j + 1),
    ]);
  }
  return performance.now() - started;
}

async function projectedCount(control: pg.Client, sessions: string[]): Promise<number> {
  const { rows } = await control.query<{ n: number }>(
    'select count(*)::int as n from public.build_events where session_id = any($1::uuid[])',
    [sessions],
  );
  return rows[0]!.n;
}

/** How many of `ids` are rows of `build_events`: primary-key lookups, cheap at any table size. */
async function projectedOf(control: pg.Client, ids: string[]): Promise<number> {
  const { rows } = await control.query<{ n: number }>(
    'select count(*)::int as n from public.build_events where id = any($1::uuid[])',
    [ids],
  );
  return rows[0]!.n;
}

/**
 * events: `count` events published to the stream (pipelined, `window` unacknowledged publishes at a time), timed
 * from the first publish until all are rows of `build_events`; beside the floor, the same rows (other ids and
 * sessions) inserted straight into Postgres in batches.
 */
export async function events(
  scratch: ScratchStack,
  ctx: BenchContext,
  count: number,
  options: { sessions?: number; batch?: number; window?: number } = {},
): Promise<Section> {
  const sessionsCount = options.sessions ?? 100;
  const batch = options.batch ?? 1000;
  // Publishes in flight. Fewer cost this process (which shares the machine with the stack it measures) less:
  // with 2,000, each one's request state lived through young-generation collections here (139 scavenges of
  // 12-22 ms in one run); this process used 6.2 s of CPU, 4.5 s with 250.
  // Alternating runs on 2026-11-26: 250 projected 17.1-20.5k events/s, 100 20.9-22.5k, 50 19.7-22.4k.
  const window = options.window ?? 100;
  return section(
    'events',
    'events published to BUILD_EVENTS until projected into build_events',
    { events: count, sessions: sessionsCount, 'floor batch': batch },
    async () => {
      const control = new pg.Client({ connectionString: scratch.databaseUrl });
      await control.connect();
      try {
        const floorSessions = await benchSessions(control, sessionsCount);
        const floorMs = await insertDirectly(control, benchEvents(floorSessions, count), batch);
        const floorRate = perSecond(count, floorMs);
        ctx.out(`events floor: ${count} rows in ${floorMs.toFixed(0)} ms (${floorRate.toFixed(0)}/s)`);
        // Rows no stream holds: gone again, so that replay --verify compares the projection alone.
        await control.query('delete from public.build_sessions where id = any($1::uuid[])', [floorSessions]);

        const sessions = await benchSessions(control, sessionsCount);
        const ids = Array.from({ length: count }, () => newId());
        const { js, topology } = scratch.jetstream;
        const started = performance.now();
        // A sliding window of unacknowledged publishes. Each event is made and encoded as it is published, as a
        // producer does, rather than 100,000 encoded messages (~50 MB) held in this process's heap throughout.
        const ts = Date.now();
        const publishing = slidingWindow(count, window, (n) => {
          const event = benchEvent(sessions, n, ts, ids[n]!);
          return js.publish(topology.subjects.event(event.sessionId, event.type), encodeJson(event), {
            msgID: event.id,
          });
        }).then(() => performance.now() - started);
        let projected = 0;
        let publishMs: number | undefined;
        void publishing.then((ms) => (publishMs = ms));
        // Counting all the sessions' rows takes Postgres ~17 ms at 100,000 rows: polled every 50 ms, up to a third
        // of a core by the end, taken from the stack being measured. So the poll waits for the last events published
        // (a hundred primary-key lookups), and only then counts them all (batches may commit out of order).
        const last = ids.slice(-100);
        for (const deadline = Date.now() + 600_000; projected < count;) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          if ((await projectedOf(control, last)) === last.length) projected = await projectedCount(control, sessions);
          if (Date.now() > deadline) {
            throw new Error(`events: ${await projectedCount(control, sessions)} of ${count} projected in 600 s`);
          }
        }
        const elapsedMs = performance.now() - started;
        publishMs ??= await publishing;
        const rate = perSecond(count, elapsedMs);
        ctx.out(
          `events: ${count} published in ${publishMs.toFixed(0)} ms, all projected in ${elapsedMs.toFixed(0)} ms ` +
            `(${rate.toFixed(0)}/s)`,
        );
        return {
          figures: [
            {
              name: 'published → projected',
              value: rate,
              unit: 'events/s',
              floor: floorRate,
              ratio: ratio(rate, floorRate),
              targets: [
                { on: 'value', op: '>=', limit: 20_000 },
                { on: 'ratio', op: '>=', limit: 0.25 },
              ],
            },
            { name: 'publishing alone', value: perSecond(count, publishMs), unit: 'events/s' },
          ],
          notes: [
            `Timed from the first publish (${window} unacknowledged at a time) to the last row counted (polled every 50 ms). ` +
              `Floor: the same rows (other ids and sessions) inserted with \`insert … select from unnest(…)\`, ${batch} per ` +
              'statement, over one connection into the same table.',
          ],
        };
      } finally {
        await control.end();
      }
    },
  );
}

/** replay: the bridge's `replay --verify` over the whole stream; its events per second rebuilding the projection. */
export async function replay(scratch: ScratchStack, ctx: BenchContext): Promise<Section> {
  return section('replay', 'projection rebuilt from the stream (replay --verify)', {}, async () => {
    const { code, stdout } = await runReplayVerify(scratch, ctx);
    const match = /Replayed (\d+) message\(s\) .* in (\d+) ms/.exec(stdout);
    if (!match) throw new Error(`replay --verify printed no figure (exit ${code}):\n${stdout}`);
    const messages = Number(match[1]);
    const elapsedMs = Number(match[2]);
    const rate = perSecond(messages, elapsedMs);
    ctx.out(`replay: ${messages} events in ${elapsedMs} ms (${rate.toFixed(0)}/s), verify exit ${code}`);
    if (code !== 0) ctx.out(stdout.split('\n').slice(0, 12).join('\n'));
    return {
      figures: [
        {
          name: 'stream → scratch projection',
          value: rate,
          unit: 'events/s',
          targets: [{ on: 'value', op: '>=', limit: 50_000 }],
        },
      ],
      notes: [
        `${messages} messages (the events bench's and the builds'), read from the stream, decoded, redacted and ` +
          'inserted into a scratch table by `npm run vibe -- replay --verify`; ' +
          (code === 0
            ? 'build_events matched the stream row by row.'
            : `the comparison with build_events FAILED (exit ${code}).`),
      ],
    };
  });
}

function runReplayVerify(scratch: ScratchStack, ctx: BenchContext): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REPLAY_ENTRY, '--verify'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: scratch.databaseUrl,
        NATS_URL: ctx.natsUrl,
        NATS_NAMESPACE: scratch.namespace,
      },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

/** realtime: publish-to-receipt latency with `clients` supabase-js clients on one channel (its own stack). */
export async function realtime(
  ctx: BenchContext,
  options: { clients: number; synthetic: number; rate: number; builds: number },
): Promise<Section> {
  return section('realtime', 'publish → receipt in supabase-js', { ...options, serializer: '2.0.0' }, async () => {
    const result = await benchRealtime({
      ...options,
      vsn: '2.0.0',
      adminUrl: ctx.adminUrl,
      natsUrl: ctx.natsUrl,
      out: (line) => ctx.verbose && ctx.out(line),
    });
    const s = result.synthetic;
    ctx.out(`realtime: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms over ${s.samples} receipts`);
    const figures: Figure[] = [
      { name: `${options.clients} subscribers: p50`, value: s.p50, unit: 'ms' },
      {
        name: `${options.clients} subscribers: p99`,
        value: s.p99,
        unit: 'ms',
        targets: [{ on: 'value', op: '<', limit: 50 }],
      },
    ];
    if (result.builds.samples) {
      figures.push(
        { name: 'during real builds (event ts → receipt): p50', value: result.builds.p50, unit: 'ms' },
        { name: 'during real builds (event ts → receipt): p99', value: result.builds.p99, unit: 'ms' },
      );
    }
    return {
      figures,
      notes: [
        `Synthetic events at ${options.rate}/s, timed from just before \`js.publish\` to the supabase-js callback on one ` +
          `clock; ${result.missed} receipts missed; all clients subscribed in ${result.subscribeMs.toFixed(0)} ms.`,
      ],
    };
  });
}

/** drift: one environment checked on demand, and a scheduled round over `environments` (its own stack). */
export async function drift(ctx: BenchContext, options: { environments: number; checks: number }): Promise<Section> {
  return section('drift', 'drift checks', options, async () => {
    const result = await benchDrift({
      ...options,
      tamperEvery: 10,
      sentinels: 1,
      provisioners: 1,
      verbose: ctx.verbose,
      adminUrl: ctx.adminUrl,
      natsUrl: ctx.natsUrl,
      out: (line) => ctx.verbose && ctx.out(line),
    });
    const [first, second] = result.rounds;
    ctx.out(
      `drift: one check p50 ${result.single.http.p50.toFixed(0)} ms; round over ${options.environments} ` +
        `${((first?.wallMs ?? Number.NaN) / 1000).toFixed(2)} s`,
    );
    const figures: Figure[] = [
      { name: 'one check, on demand (HTTP) p50', value: result.single.http.p50, unit: 'ms' },
      { name: 'one check, inside the sentinel p50', value: result.single.sentinel.p50, unit: 'ms' },
    ];
    for (const [i, round] of result.rounds.entries()) {
      figures.push({
        name: `round over ${options.environments} environments${i ? ' (again, nothing new)' : ''}`,
        value: round.wallMs / 1000,
        unit: 's',
      });
    }
    return {
      figures,
      notes: [
        `One real build, cloned to ${options.environments} environments (every 10th tampered: RLS off on a table); ` +
          `the first round opened ${first?.opened ?? 0} alerts, the second ${second?.opened ?? 0}. One sentinel, one provisioner.`,
      ],
    };
  });
}
