/**
 * Spare Deno processes (EDGE_RUNTIME_SPARES): a function's first request runs on a process started ahead of
 * it, with supabase-js already loaded, and keeps every property of a cold-started worker (own variables, own
 * files, own socket, no platform servers, no subprocesses). Real Deno processes throughout.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { LoggerService } from '@nestjs/common';
import { newId, ProvisionOutputs } from '@vibe/contracts';
import { callProvisioner } from '@vibe/platform';
import { waitFor } from '../../../test/support/index.js';
import { commands, inEnvironment, outputOf, startProvisioner } from './harness.js';

/** A variable of the provisioner's environment that no function may see. */
const CANARY = 'VIBE_SPARES_TEST_CANARY';

/**
 * Reports what the function sees and may do: its variables, where it runs, the paths the request names that
 * it can read or write, the platform's servers, a subprocess, the local API through supabase-js.
 */
const PROBE = `import { createClient } from "jsr:@supabase/supabase-js@2";
const outcome = (work: () => Promise<unknown>) => Promise.resolve().then(work).then(() => "ok", (error) => error.name);
Deno.serve(async (req) => {
  const asked = req.method === "POST" ? await req.json() : { read: [], write: [] };
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!);
  const rpc = await supabase.rpc("no_such_function");
  return Response.json({
    url: import.meta.url,
    pid: Deno.pid,
    env: Deno.env.toObject(),
    own: await outcome(() => Deno.readTextFile(new URL("./index.ts", import.meta.url))),
    read: await Promise.all(asked.read.map((path: string) => outcome(() => Deno.readTextFile(path)))),
    write: await Promise.all(asked.write.map((path: string) => outcome(() => Deno.writeTextFile(path, "x")))),
    postgres: await outcome(() => Deno.connect({ hostname: "127.0.0.1", port: 5432 }).then((c) => c.close())),
    nats: await outcome(() => Deno.connect({ hostname: "localhost", port: 4222 }).then((c) => c.close())),
    subprocess: await outcome(() => new Deno.Command("true").output()),
    rpc: rpc.error?.code ?? null,
  });
});
`;

interface ProbeAnswer {
  url: string;
  pid: number;
  env: Record<string, string>;
  own: string;
  read: string[];
  write: string[];
  postgres: string;
  nats: string;
  subprocess: string;
  rpc: string | null;
}

/** The Deno processes this process started and that still run. */
async function denoChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (stat.slice(stat.indexOf('(') + 1, close) === 'deno' && Number(ppid) === process.pid && state !== 'Z') {
      pids.push(Number(name));
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Every line the provisioner logs (Nest's levels log, warn, debug...). */
function collectingLogger(lines: string[]): LoggerService {
  const push = (message: unknown) => void lines.push(String(message));
  return { log: push, warn: push, error: push, debug: push, verbose: push, fatal: push };
}

/** Time from the first request for a freshly deployed function to its answer, by EDGE_RUNTIME_SPARES. */
const firstRequestMs: Record<string, number[]> = {};

afterAll(() => {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const figures = Object.entries(firstRequestMs).map(
    ([mode, values]) => `${mode}: median ${median(values)} ms of [${values.join(', ')}]`,
  );
  if (figures.length) process.stdout.write(`first request to a new function, ${figures.join('; ')}\n`);
});

/** Where Deno keeps what it made of the TypeScript under `dir` (the runtime's DENO_DIR, by path). */
function emitted(dir: string): string {
  return join(tmpdir(), `vibe-edge-runtime-${userInfo().uid}`, 'deno', 'gen', 'file', dir);
}

/** A provisioner with its own environment, and calls into it. */
async function runtime(env: Record<string, string>) {
  const logs: string[] = [];
  const provisioner = await startProvisioner(
    { EDGE_RUNTIME_IDLE_MS: '60000', ...env },
    { logger: collectingLogger(logs) },
  );
  const sessionId = newId();
  const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
  const ref = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
  const call = <T extends Parameters<typeof inEnvironment>[2]>(request: T) =>
    callProvisioner(provisioner.client, inEnvironment(sessionId, ref, request), 90_000);
  const url = (await call({ tool: 'get_project_url' })).url;
  const deploy = (name: string, files: Array<{ name: string; content: string }>, importMapPath?: string) =>
    call({ tool: 'deploy_edge_function', name, verifyJwt: false, files, ...(importMapPath && { importMapPath }) });
  let closing: Promise<void> | undefined;
  return {
    logs,
    url,
    deploy,
    close: () => (closing ??= provisioner.close()),
    async probe(name: string, asked: { read: string[]; write: string[] } = { read: [], write: [] }) {
      const response = await fetch(`${url}/functions/v1/${name}`, { method: 'POST', body: JSON.stringify(asked) });
      expect(response.status).toBe(200);
      return (await response.json()) as ProbeAnswer;
    },
    async health() {
      return (await (await fetch(new URL('/health', url))).json()) as {
        workers: number;
        spares: number;
        warmUps: number;
      };
    },
    /** Deploys `reps` new functions one after another and times each one's first request. */
    async measure(mode: string, reps: number, between: () => Promise<unknown>) {
      for (let rep = 0; rep < reps; rep++) {
        await between();
        const name = `timed_${rep}`;
        await deploy(name, [
          {
            name: 'index.ts',
            content: `import { createClient } from "jsr:@supabase/supabase-js@2";
Deno.serve(() => {
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!);
  return Response.json({ ok: typeof supabase.from === "function" });
});`,
          },
        ]);
        const started = performance.now();
        const response = await fetch(`${url}/functions/v1/${name}`, { method: 'POST' });
        expect(await response.json()).toEqual({ ok: true });
        (firstRequestMs[mode] ??= []).push(Math.round(performance.now() - started));
      }
    },
  };
}

describe('provisioner: functions start on spare Deno processes', () => {
  let it_: Awaited<ReturnType<typeof runtime>>;
  let usedSpareDir: string | undefined;
  let usedColdDir: string | undefined;

  /** What a provisioner killed with its spares left, and what a running one's spare has. */
  const leftBehind: { gone: string[]; running: string[] } = { gone: [], running: [] };

  beforeAll(async () => {
    process.env[CANARY] = 'the provisioner’s own';
    const exited = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => exited.once('exit', resolve));
    const root = join(tmpdir(), `vibe-edge-runtime-${userInfo().uid}`);
    const coldStart = (pid: number | undefined) =>
      join(
        root,
        'functions',
        'vibe_gone_env',
        'probe',
        `v1-abcdef12${pid === undefined ? '' : `-${pid}-0123456789abcdef`}`,
      );
    leftBehind.gone = [
      join(root, 'spares', `${exited.pid}-0123456789abcdef`),
      join(root, 's', `${exited.pid}-0123.sock`),
      coldStart(exited.pid),
      // What Deno made of a spare's files, and of a cold start's.
      emitted(join(root, 'spares', `${exited.pid}-fedcba9876543210`)),
      emitted(coldStart(exited.pid)),
    ];
    leftBehind.running = [
      join(root, 'spares', `${process.ppid}-0123456789abcdef`),
      coldStart(process.ppid),
      emitted(coldStart(process.ppid)),
      // Named without a pid (by a provisioner before this one's naming): whose it is cannot be told.
      coldStart(undefined),
    ];
    for (const path of [...leftBehind.gone, ...leftBehind.running]) {
      await mkdir(dirname(path), { recursive: true });
      await (path.endsWith('.sock') ? writeFile(path, '') : mkdir(join(path, '.vibe'), { recursive: true }));
    }
    it_ = await runtime({ EDGE_RUNTIME_SPARES: '2' });
  });

  afterAll(async () => {
    delete process.env[CANARY];
    await it_?.close();
    const root = join(tmpdir(), `vibe-edge-runtime-${userInfo().uid}`);
    const madeUp = join(root, 'functions', 'vibe_gone_env');
    await Promise.all(
      [...leftBehind.running, madeUp, emitted(madeUp)].map((dir) => rm(dir, { recursive: true, force: true })),
    );
  });

  it('removes the spares’ and cold starts’ directories, sockets and what Deno made of them that a killed provisioner left, not a running one’s', async () => {
    await waitFor(async () => !leftBehind.gone.some(existsSync), { timeoutMs: 10_000, what: 'the sweep' });
    expect(leftBehind.running.every(existsSync)).toBe(true);
  });

  it('keeps two spares ready, without a function, and replaces one that dies before use', async () => {
    await waitFor(async () => (await it_.health()).spares === 2, { timeoutMs: 60_000, what: 'two spares' });
    expect((await it_.health()).workers).toBe(0);
    // Each made its supabase-js warm-up call to the local API before it was ready.
    expect((await it_.health()).warmUps).toBeGreaterThanOrEqual(2);
    const spares = await denoChildren();
    expect(spares).toHaveLength(2);
    process.kill(spares[0]!, 'SIGKILL');
    await waitFor(
      async () => {
        const now = await denoChildren();
        return (await it_.health()).spares === 2 && now.length === 2 && !now.includes(spares[0]!);
      },
      { timeoutMs: 30_000, what: 'the dead spare to be replaced' },
    );
    expect(it_.logs.some((line) => line.includes('a spare exited before use; the next spare starts in'))).toBe(true);
  });

  it('serves a function on a spare as a cold start serves it: own variables, own files, own socket, no platform servers', async () => {
    await waitFor(async () => (await it_.health()).spares === 2, { timeoutMs: 30_000, what: 'two spares' });
    const spares = await denoChildren();
    await it_.deploy('probe', [{ name: 'index.ts', content: PROBE }]);
    // The same function with an import map of its own, which the spares' config does not provide: cold.
    await it_.deploy(
      'probe_cold',
      [
        { name: 'index.ts', content: PROBE },
        { name: 'deno.json', content: JSON.stringify({ imports: { 'probe/': './' } }) },
      ],
      'deno.json',
    );
    // A deployed version that fits the spares starts on one at once, before its first request; one that does
    // not fit starts cold on its first request.
    await waitFor(async () => (await it_.health()).workers === 1, { timeoutMs: 30_000, what: 'the probe’s worker' });
    expect(it_.logs).toContainEqual(expect.stringMatching(/\/probe v1 started in \d+ ms on a spare \(pid \d+\)$/));

    const cold = await it_.probe('probe_cold');
    expect(cold.url).toMatch(/\/functions\/[^/]+\/probe_cold\/v1-[^/]+\/src\/index\.ts$/);
    expect(it_.logs).toContainEqual(
      expect.stringMatching(/\/probe_cold v1 started in \d+ ms cold \(its import map maps "probe\/" to "\.\.\/src\/"/),
    );
    const spare = await it_.probe('probe');
    expect(spare.url).toMatch(new RegExp(`/spares/${process.pid}-[0-9a-f]+/src/index\\.ts$`));
    expect(spares).toContain(spare.pid);
    expect(spares).not.toContain(cold.pid);
    // Started once each: the requests found the workers the deploys started.
    expect(it_.logs.filter((line) => /\/probe(_cold)? v1 started in/.test(line))).toHaveLength(2);

    // Another spare's files, a cold function's files, a file of the machine; its own directory, /tmp.
    const path = (url: string) => new URL(url).pathname;
    const spareDir = path(spare.url).replace(/\/src\/index\.ts$/, '');
    usedSpareDir = spareDir;
    const otherSpare = (await readdir(dirname(spareDir)))
      .map((id) => join(dirname(spareDir), id))
      .find((dir) => dir !== spareDir);
    expect(otherSpare).toBeDefined();
    const asked = (own: string) => ({
      read: [`${otherSpare}/.vibe/spare.ts`, path(cold.url), path(spare.url), '/etc/hostname'].filter(
        (file) => !file.startsWith(own),
      ),
      write: [`${own}/src/written.txt`, `/tmp/vibe-spare-probe-${process.pid}`],
    });
    const coldDir = path(cold.url).replace(/\/src\/index\.ts$/, '');
    usedColdDir = coldDir;
    const answers = [await it_.probe('probe', asked(spareDir)), await it_.probe('probe_cold', asked(coldDir))];
    for (const answer of answers) {
      expect(answer).toMatchObject({
        own: 'ok',
        read: ['NotCapable', 'NotCapable', 'NotCapable'],
        write: ['NotCapable', 'NotCapable'],
        postgres: 'NotCapable',
        nats: 'NotCapable',
        subprocess: 'NotCapable',
        // supabase-js reached the local API with the function's URL and key: the RPC does not exist.
        rpc: 'PGRST202',
      });
      expect(answer.env).toMatchObject({ SUPABASE_URL: it_.url, SUPABASE_ANON_KEY: expect.any(String) });
      expect(answer.env.SUPABASE_SERVICE_ROLE_KEY).toMatch(/^ey/);
      for (const name of [
        CANARY,
        'DATABASE_URL',
        'ENV_DATABASE_URL',
        'NATS_URL',
        'VIBE_EDGE_SOCKET',
        'VIBE_EDGE_WARM_UP_URL',
      ]) {
        expect(answer.env[name]).toBeUndefined();
      }
    }
    // The same variables, by name, on a spare as cold.
    expect(Object.keys(answers[0]!.env).sort()).toEqual(Object.keys(answers[1]!.env).sort());
    expect(answers.map((answer) => answer.pid)).toEqual([spare.pid, cold.pid]);

    // The spare used is replaced; the worker it became is not counted as one.
    await waitFor(async () => (await it_.health()).spares === 2, { timeoutMs: 30_000, what: 'a new spare' });
    expect((await it_.health()).workers).toBe(2);
    const now = await denoChildren();
    expect(now).toHaveLength(4);
    expect(now.filter((pid) => !spares.includes(pid) && pid !== cold.pid)).toHaveLength(1);
  });

  it('answers a freshly deployed function’s first request from a spare (timed)', async () => {
    await it_.measure('with spares', 5, () =>
      waitFor(async () => (await it_.health()).spares === 2, { timeoutMs: 30_000, what: 'two spares' }),
    );
    expect(it_.logs.filter((line) => /\/timed_\d v1 started in \d+ ms on a spare/.test(line))).toHaveLength(5);
  });

  it('leaves no Deno process behind once closed, workers and spares, nor their directories or what Deno made of them', async () => {
    expect((await denoChildren()).length).toBeGreaterThanOrEqual(2 + 2);
    const laidOut = [usedSpareDir!, usedColdDir!].flatMap((dir) => [dir, emitted(dir)]);
    expect(laidOut.filter((path) => !existsSync(path))).toEqual([]);
    await it_.close();
    expect(await denoChildren()).toEqual([]);
    await waitFor(async () => laidOut.every((path) => !existsSync(path)), {
      timeoutMs: 5_000,
      what: 'the workers’ directories and what Deno made of them to go',
    });
  });
});

describe('provisioner: EDGE_RUNTIME_SPARES=0 starts every function cold, as before', () => {
  let it_: Awaited<ReturnType<typeof runtime>>;

  beforeAll(async () => {
    it_ = await runtime({ EDGE_RUNTIME_SPARES: '0' });
  });

  afterAll(async () => {
    await it_?.close();
  });

  it('starts no spare, and starts a function cold on its first request', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await denoChildren()).toEqual([]);
    expect(await it_.health()).toEqual({ ok: true, workers: 0, spares: 0, warmUps: 0 });
    await it_.deploy('probe', [{ name: 'index.ts', content: PROBE }]);
    const answer = await it_.probe('probe');
    expect(answer.url).toMatch(/\/functions\/[^/]+\/probe\/v1-[^/]+\/src\/index\.ts$/);
    expect(answer).toMatchObject({ own: 'ok', postgres: 'NotCapable', subprocess: 'NotCapable', rpc: 'PGRST202' });
    expect(it_.logs).toContainEqual(expect.stringMatching(/\/probe v1 started in \d+ ms cold \(spares are off\)/));
    expect(await denoChildren()).toEqual([answer.pid]);
  });

  it('answers a freshly deployed function’s first request from a cold start (timed)', async () => {
    await it_.measure('without spares', 5, async () => undefined);
    expect(it_.logs.filter((line) => /\/timed_\d v1 started in \d+ ms cold/.test(line))).toHaveLength(5);
  });

  it('leaves no Deno process behind once closed', async () => {
    await it_.close();
    expect(await denoChildren()).toEqual([]);
  });
});

describe('provisioner: a spare does not outlive its provisioner', () => {
  it('exits when the process that started it is killed (SIGKILL), given a function or not', async () => {
    const dist = join(__dirname, '..', 'dist', 'edge-runtime');
    // The runtime's Deno cache (supabase-js is in it once a spare has started there, as above).
    const denoDir = join(tmpdir(), `vibe-edge-runtime-${userInfo().uid}`, 'deno');
    // A process of its own starts two spares the way the local API does, from the build output, and gives
    // one of them a function.
    const script = `
      const fs = require('node:fs'), path = require('node:path'), os = require('node:os');
      const { DenoSpare, defaultDenoPath } = require(${JSON.stringify(join(dist, 'deno-worker.js'))});
      const { spareRuntime } = require(${JSON.stringify(join(dist, 'function-bundle.js'))});
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vibe-orphan-spare-'));
      const runtime = spareRuntime();
      const start = (name) => {
        const dir = path.join(root, name);
        for (const file of runtime.files) {
          fs.mkdirSync(path.dirname(path.join(dir, file.path)), { recursive: true });
          fs.writeFileSync(path.join(dir, file.path), file.content);
        }
        return DenoSpare.start(
          { dir, main: runtime.main, config: runtime.config, socketPath: path.join(root, name + '.sock') },
          { denoPath: defaultDenoPath(), denoDir: ${JSON.stringify(denoDir)}, memoryMb: 64, startTimeoutMs: 30000, log() {} },
        );
      };
      (async () => {
        const [idle, used] = [await start('idle'), await start('used')];
        fs.mkdirSync(path.join(used.dir, 'src'));
        fs.writeFileSync(path.join(used.dir, 'src', 'index.ts'), 'Deno.serve(() => new Response("x"));');
        await used.assign({ entry: 'src/index.ts', env: {} }, { startTimeoutMs: 30000, log() {} });
        console.log('DENO ' + idle.pid + ' ' + used.pid);
        setInterval(() => {}, 1000);
      })();
    `;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pids = await new Promise<number[]>((resolve, reject) => {
      parent.stdout.on('data', (chunk: Buffer) => {
        const match = /DENO (\d+) (\d+)/.exec(chunk.toString());
        if (match) resolve([Number(match[1]), Number(match[2])]);
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited first (${code})`)));
    });
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.map(alive)).toEqual([true, true]);
    parent.kill('SIGKILL');
    await waitFor(async () => !pids.some(alive), {
      timeoutMs: 10_000,
      what: `Deno processes ${pids.join(', ')} to exit`,
    });
  });
});
