import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { connectJetStream } from '@vibe/platform';
import { ROOT_DIR } from '../stack.js';
import {
  concurrent,
  drift,
  e2e,
  events,
  idleMemory,
  memorySection,
  realtime,
  replay,
  warmUp,
  type BenchContext,
  type MemoryReadings,
} from './benches.js';
import { machine, merge, ORDER, readReport, writeReport, type Section } from './report.js';
import { startScratchStack, type ScratchStack } from './scratch.js';

export const BENCH_USAGE = `Usage: npm run bench [-- <name>...] [options]
  names: ${ORDER.join(', ')} (default: all). Each runs on scratch databases, NATS namespaces and service
  processes of its own, removed afterwards. Results: bench/results/latest.md and latest.json (a run of some
  benches replaces their sections only).
  --builds 20            e2e: sequential builds            --concurrent 50     builds started at once
  --provisioners 1,2     concurrent: provisioner processes  --events 100000     events bench size
  --subscribers 100      realtime clients                  --realtime-events 500 --rate 200
  --environments 100     drift round size                  --drift-checks 10
  --out bench/results    --verbose (services' warnings and each bench's own lines)`;

export class BenchUsageError extends Error {}

/** `npm run bench [-- <name>...]`: runs the named benches (all by default) and writes the report. */
export async function benchCommand(args: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      builds: { type: 'string', default: '20' },
      concurrent: { type: 'string', default: '50' },
      provisioners: { type: 'string', default: '1,2' },
      events: { type: 'string', default: '100000' },
      subscribers: { type: 'string', default: '100' },
      'realtime-events': { type: 'string', default: '500' },
      rate: { type: 'string', default: '200' },
      environments: { type: 'string', default: '100' },
      'drift-checks': { type: 'string', default: '10' },
      out: { type: 'string', default: path.join(ROOT_DIR, 'bench', 'results') },
      verbose: { type: 'boolean', default: false },
    },
  });
  const unknown = positionals.filter((name) => !ORDER.includes(name));
  if (unknown.length) throw new BenchUsageError(`unknown bench ${unknown.join(', ')}; one of ${ORDER.join(', ')}`);
  const names = new Set(positionals.length ? positionals : ORDER);
  const count = (name: keyof typeof values, min: number) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min)
      throw new BenchUsageError(`--${name} must be a whole number of at least ${min}`);
    return n;
  };
  const provisioners = String(values.provisioners)
    .split(',')
    .map((value) => Number(value.trim()));
  if (!provisioners.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new BenchUsageError('--provisioners must be counts separated by commas, e.g. 1,2');
  }
  const sizes = {
    builds: count('builds', 1),
    concurrent: count('concurrent', 1),
    events: count('events', 1),
    subscribers: count('subscribers', 1),
    realtimeEvents: count('realtime-events', 1),
    rate: count('rate', 1),
    environments: count('environments', 1),
    driftChecks: count('drift-checks', 1),
  };
  const ctx: BenchContext = {
    adminUrl: process.env.ENV_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    out,
    verbose: values.verbose,
  };

  const sections: Section[] = [];
  const started = performance.now();
  const needsStack = ['e2e', 'concurrent', 'memory', 'events', 'replay'].some((name) => names.has(name));
  if (needsStack) {
    out('starting a scratch stack…');
    const scratch = await startScratchStack({
      adminUrl: ctx.adminUrl,
      natsUrl: ctx.natsUrl,
      onLine: (service, line) => {
        if (ctx.verbose && /WARN|ERROR/.test(line)) out(`[${service}] ${line}`);
      },
    });
    try {
      await stackBenches(scratch, ctx, names, sizes, provisioners, sections);
    } finally {
      await scratch.close();
    }
  }
  if (names.has('realtime')) {
    sections.push(
      await realtime(ctx, {
        clients: sizes.subscribers,
        synthetic: sizes.realtimeEvents,
        rate: sizes.rate,
        builds: 1,
      }),
    );
  }
  if (names.has('drift')) {
    sections.push(await drift(ctx, { environments: sizes.environments, checks: sizes.driftChecks }));
  }

  const dir = path.resolve(values.out);
  const previous = await readReport(path.join(dir, 'latest.json'));
  const report = merge(
    previous,
    {
      updatedAt: new Date().toISOString(),
      machine: machine(await serverVersions(ctx)),
      command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    },
    sections,
  );
  const written = await writeReport(dir, report);
  out(
    `\n${sections.length} bench(es) in ${((performance.now() - started) / 1000).toFixed(0)} s; wrote ${written.markdown} and ${written.json}`,
  );
  return 0;
}

async function stackBenches(
  scratch: ScratchStack,
  ctx: BenchContext,
  names: Set<string>,
  sizes: { builds: number; concurrent: number; events: number },
  provisioners: number[],
  sections: Section[],
): Promise<void> {
  const memoryStarted = new Date().toISOString();
  const memory: MemoryReadings = { idle: await idleMemory(scratch) };
  if (['e2e', 'concurrent', 'memory'].some((name) => names.has(name))) {
    ctx.out('warm-up build…');
    await warmUp(scratch);
  }
  if (names.has('e2e')) sections.push(await e2e(scratch, ctx, sizes.builds));
  if (names.has('concurrent') || names.has('memory')) {
    const result = await concurrent(scratch, ctx, sizes.concurrent, names.has('concurrent') ? provisioners : [1]);
    if (names.has('concurrent')) sections.push(result.section);
    memory.concurrent = result.memory;
  }
  if (names.has('memory')) sections.push(memorySection(memory, memoryStarted));
  if (names.has('events') || names.has('replay')) {
    const eventsSection = await events(scratch, ctx, sizes.events);
    if (names.has('events')) sections.push(eventsSection);
  }
  if (names.has('replay')) sections.push(await replay(scratch, ctx));
}

async function serverVersions(ctx: BenchContext): Promise<{ postgres?: string; nats?: string }> {
  const versions: { postgres?: string; nats?: string } = {};
  const client = new pg.Client({ connectionString: ctx.adminUrl });
  try {
    await client.connect();
    versions.postgres = (
      await client.query<{ v: string }>('select current_setting($1) as v', ['server_version'])
    ).rows[0]?.v.split(' ')[0];
  } catch {
    // Unknown: the report leaves it out.
  } finally {
    await client.end().catch(() => undefined);
  }
  try {
    const { nc } = await connectJetStream(ctx.natsUrl, '', 'bench-version');
    versions.nats = nc.info?.version;
    await nc.close();
  } catch {
    // Unknown.
  }
  return versions;
}
