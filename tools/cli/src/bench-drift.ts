import { dropScratch } from './bench/scratch.js';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { newId, stableId, type DriftReport, type ScheduledDriftCheck, type SessionView } from '@vibe/contracts';
import {
  connectJetStream,
  migrate,
  publishJson,
  quoteIdent,
  withDatabase,
  type JetStreamContext,
} from '@vibe/platform';
import { gatewayToken } from './auth.js';
import { SAMPLE_VIBE } from './sample.js';
import { freePorts, SERVICES, startStack, type RunningStack } from './stack.js';

export interface DriftBenchOptions {
  /** Environments in the round (the built one and its clones). */
  environments: number;
  /** On-demand checks of one environment. */
  checks: number;
  /** Every n-th clone gets RLS disabled on a table, so the round also opens alerts (0: none). */
  tamperEvery: number;
  sentinels: number;
  provisioners: number;
  /** Prints the services' warnings and errors. */
  verbose?: boolean;
  adminUrl: string;
  natsUrl: string;
  out: (line: string) => void;
}

export interface Summary {
  samples: number;
  p50: number;
  p90: number;
  max: number;
}

export interface RoundFigures {
  wallMs: number;
  perCheck: Summary;
  opened: number;
}

export interface DriftBenchResult {
  single: { http: Summary; sentinel: Summary };
  rounds: RoundFigures[];
  environments: number;
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return { samples: sorted.length, p50: at(0.5), p90: at(0.9), max: sorted.at(-1) ?? 0 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Time to check one environment, and a scheduled round over many. It runs its own stack (the five services
 * as processes, a scratch control-plane database and NATS namespace, all removed afterwards); one real build
 * provisions an environment, which is cloned (`create database … template`) with a session row and spec
 * chunks per clone. The round is published as the scheduler publishes one, and timed until every
 * environment's check has finished.
 */
export async function benchDrift(options: DriftBenchOptions): Promise<DriftBenchResult> {
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const database = `vibe_bench_drift_${suffix}`;
  const namespace = `bench_drift_${suffix}`;
  const envPrefix = `vibe_bdrift_${randomBytes(3).toString('hex')}_`;
  const databaseUrl = withDatabase(options.adminUrl, database);
  await migrate(databaseUrl);
  const ports = await freePorts(SERVICES.length);
  let stack: RunningStack | undefined;
  let jetstream: JetStreamContext | undefined;
  const control = new pg.Client({ connectionString: databaseUrl });
  const admin = new pg.Client({ connectionString: options.adminUrl });
  try {
    stack = await startStack({
      env: {
        DATABASE_URL: databaseUrl,
        NATS_URL: options.natsUrl,
        NATS_NAMESPACE: namespace,
        ENV_DATABASE_URL: options.adminUrl,
        ENV_DB_PREFIX: envPrefix,
        // Rounds are published by the bench, so that they start when it says.
        DRIFT_SCHEDULE: 'off',
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]!])),
      onLine: (service, line) => {
        if (options.verbose && /WARN|ERROR/.test(line)) options.out(`[${service}] ${line}`);
      },
    });
    for (let i = 1; i < options.sentinels; i++) await stack.startReplica('drift-sentinel');
    for (let i = 1; i < options.provisioners; i++) await stack.startReplica('provisioner');
    jetstream = await connectJetStream(options.natsUrl, namespace, 'bench-drift');
    await Promise.all([control.connect(), admin.connect()]);
    const gateway = stack.gatewayUrl;

    const source = await buildOne(gateway);
    options.out(`built session ${source.id} (environment ${String(source.environment?.ref)})`);

    // One environment, checked on demand through the gateway.
    const http: number[] = [];
    const sentinel: number[] = [];
    for (let i = 0; i < options.checks; i++) {
      const started = performance.now();
      const response = await fetch(`${gateway}/sessions/${source.id}/drift-check`, {
        method: 'POST',
        headers: signedIn(gateway),
      });
      const report = (await response.json()) as DriftReport;
      if (response.status !== 200)
        throw new Error(`drift-check answered ${response.status}: ${JSON.stringify(report)}`);
      http.push(performance.now() - started);
      sentinel.push(report.durationMs);
    }

    const clones = await cloneSessions(control, admin, source, options.environments - 1, envPrefix, options);
    options.out(`cloned ${clones.length} environments`);

    const rounds: RoundFigures[] = [];
    for (const label of ['first round', 'second round (nothing new)']) {
      const figures = await runRound(control, jetstream, options.environments);
      rounds.push(figures);
      options.out(
        `${label}: ${options.environments} environments in ${figures.wallMs.toFixed(0)} ms, ` +
          `per check p50 ${figures.perCheck.p50} ms, ${figures.opened} alert(s) opened`,
      );
    }
    return {
      single: { http: summarize(http), sentinel: summarize(sentinel) },
      rounds,
      environments: options.environments,
    };
  } finally {
    await control.end().catch(() => undefined);
    await jetstream?.nc.close().catch(() => undefined);
    await stack?.stop();
    await admin.end().catch(() => undefined);
    await dropScratch(options, { database, envPrefix, namespace });
  }
}

/** The scratch stack's gateway is local: the bench signs in as the local user (auth.ts). */
function signedIn(gateway: string): Record<string, string> {
  const { token } = gatewayToken(gateway);
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function buildOne(gateway: string): Promise<SessionView> {
  const created = await fetch(`${gateway}/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signedIn(gateway) },
    body: JSON.stringify({
      vibeText: `${SAMPLE_VIBE} Monitor the database for drift.`,
      template: 'marketplace',
      options: { enableDriftSentinel: true },
    }),
  });
  const { sessionId } = (await created.json()) as { sessionId: string };
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(100)) {
    const session = (await (
      await fetch(`${gateway}/sessions?id=${sessionId}`, { headers: signedIn(gateway) })
    ).json()) as SessionView;
    if (session.status === 'succeeded') return session;
    if (session.status === 'failed' || session.status === 'canceled') {
      throw new Error(`the build ${sessionId} ended ${session.status}: ${session.error}`);
    }
  }
  throw new Error(`the build ${sessionId} did not finish in 120 s`);
}

/** `create database … template`, retried while the template still has connections (the provisioner's pool). */
async function cloneDatabase(admin: pg.Client, template: string, target: string, evict: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (evict) {
      await admin.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [template],
      );
    }
    try {
      await admin.query(`create database ${quoteIdent(target)} template ${quoteIdent(template)}`);
      // Comments are not copied from a template: the provisioner's mark of a finished environment is.
      const { rows } = await admin.query<{ comment: string | null }>(
        `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1`,
        [template],
      );
      const comment = rows[0]?.comment;
      if (comment) await admin.query(`comment on database ${quoteIdent(target)} is ${admin.escapeLiteral(comment)}`);
      return;
    } catch (error) {
      if (attempt >= 20 || !/being accessed by other users/.test(String(error))) throw error;
      await sleep(100);
    }
  }
}

/** Sessions like the source (same plan, options and chunks), each with a clone of its environment. */
async function cloneSessions(
  control: pg.Client,
  admin: pg.Client,
  source: SessionView,
  count: number,
  envPrefix: string,
  options: DriftBenchOptions,
): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newId());
  const refOf = (id: string) => `${envPrefix}${id.replace(/-/g, '')}`;
  const sourceRef = String(source.environment?.ref);
  if (!ids.length) return ids;
  // The first clone from the built environment (its connections evicted), the others from the first clone,
  // which nothing connects to until the round.
  await cloneDatabase(admin, sourceRef, refOf(ids[0]!), true);
  for (const id of ids.slice(1)) await cloneDatabase(admin, refOf(ids[0]!), refOf(id), false);
  for (const [i, id] of ids.entries()) {
    const ref = refOf(id);
    await control.query(
      `insert into public.build_sessions (id, status, template, vibe_text, options, plan, environment, outputs, graph_ended_at)
       select $2, status, template, vibe_text, options, plan,
         environment || jsonb_build_object('ref', $3::text, 'database', $3::text), outputs, graph_ended_at
       from public.build_sessions where id = $1`,
      [source.id, id, ref],
    );
    await control.query(
      `insert into public.spec_chunks (session_id, chunk_index, content, embedding, metadata)
       select $2, chunk_index, content, embedding, metadata from public.spec_chunks where session_id = $1`,
      [source.id, id],
    );
    if (options.tamperEvery > 0 && i % options.tamperEvery === 0) {
      const env = new pg.Client({ connectionString: withDatabase(options.adminUrl, ref) });
      await env.connect();
      await env.query('alter table public.bids disable row level security').finally(() => env.end());
    }
  }
  return ids;
}

/** Publishes one round's jobs as the scheduler does, and waits until every check of it has finished. */
async function runRound(control: pg.Client, jetstream: JetStreamContext, environments: number): Promise<RoundFigures> {
  const { rows: sessions } = await control.query<{ id: string }>(
    `select id from public.build_sessions where status = 'succeeded'`,
  );
  const round = new Date().toISOString();
  const started = performance.now();
  await Promise.all(
    sessions.map(({ id }) => {
      const job: ScheduledDriftCheck = {
        kind: 'scheduled',
        version: 1,
        jobId: stableId(id, `drift-round:${round}`),
        sessionId: id,
        round,
      };
      return publishJson(jetstream, jetstream.topology.subjects.driftCheck('scheduled'), job, job.jobId);
    }),
  );
  for (const deadline = Date.now() + 600_000; ; await sleep(20)) {
    const { rows } = await control.query<{ done: number }>(
      // A failed check gives its round back (round null) and keeps it in its note.
      `select count(*)::int as done from public.drift_checks
       where (round = $1 or note like 'round ' || $1 || ':%') and finished_at is not null`,
      [round],
    );
    if (rows[0]!.done >= environments) break;
    if (Date.now() > deadline) throw new Error(`round ${round}: ${rows[0]!.done} of ${environments} checks in 600 s`);
  }
  const wallMs = performance.now() - started;
  const { rows } = await control.query<{ duration_ms: number; opened: number | null; outcome: string }>(
    `select duration_ms, opened, outcome from public.drift_checks where round = $1 or note like 'round ' || $1 || ':%'`,
    [round],
  );
  const failed = rows.filter((row) => row.outcome !== 'checked').length;
  if (failed) throw new Error(`round ${round}: ${failed} of ${rows.length} checks did not complete (see --verbose)`);
  return {
    wallMs,
    perCheck: summarize(rows.map((row) => row.duration_ms)),
    opened: rows.reduce((sum, row) => sum + (row.opened ?? 0), 0),
  };
}

/** `npm run vibe -- bench-drift`: argument parsing and the report. */
export async function benchDriftCommand(args: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      environments: { type: 'string', default: '100' },
      checks: { type: 'string', default: '20' },
      'tamper-every': { type: 'string', default: '10' },
      sentinels: { type: 'string', default: '1' },
      provisioners: { type: 'string', default: '1' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const count = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be a whole number of at least ${min}`);
    return n;
  };
  const result = await benchDrift({
    environments: count('environments', values.environments, 1),
    checks: count('checks', values.checks, 1),
    tamperEvery: count('tamper-every', values['tamper-every'], 0),
    sentinels: count('sentinels', values.sentinels, 1),
    provisioners: count('provisioners', values.provisioners, 1),
    verbose: values.verbose,
    adminUrl: process.env.ENV_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    out,
  });
  const { http, sentinel } = result.single;
  out('');
  out(
    `one environment, on demand (${http.samples} checks): POST /sessions/:id/drift-check p50 ${http.p50.toFixed(1)} ms, ` +
      `p90 ${http.p90.toFixed(1)} ms, max ${http.max.toFixed(1)} ms; inside the sentinel p50 ${sentinel.p50} ms`,
  );
  for (const [i, round] of result.rounds.entries()) {
    out(
      `round ${i + 1} over ${result.environments} environments (${values.sentinels} sentinel(s), ${values.provisioners} provisioner(s)): ` +
        `${(round.wallMs / 1000).toFixed(2)} s, ${((result.environments * 1000) / round.wallMs).toFixed(1)} environments/s; ` +
        `per check p50 ${round.perCheck.p50} ms, p90 ${round.perCheck.p90} ms; ${round.opened} alert(s) opened`,
    );
  }
  return 0;
}
