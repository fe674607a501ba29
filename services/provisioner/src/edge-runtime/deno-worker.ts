import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redactText } from '@vibe/platform';
import {
  READY_MARKER,
  SOCKET_VARIABLE,
  SPARE_MARKER,
  WARM_UP_VARIABLE,
  type SpareAssignment,
} from './function-bundle.js';

/**
 * One Deno process serving one version of one Edge Function on a Unix socket (DESIGN.md §3: the `deno` npm
 * package's binary). Run outside any folder with a package.json (Deno would switch to node_modules mode),
 * with the runtime's own DENO_DIR, an environment of its own (never the provisioner's: no DATABASE_URL, no
 * access token), read access to its own files and the runtime's libraries only, write access to its own socket
 * only (so not to another function's), the network but not the platform's own servers, no subprocesses, a V8
 * heap limit.
 *
 * A spare (DenoSpare) has all of these from its start: its own fresh directory and socket, no variables but
 * the ones passed through below until it is given its function's.
 */
export interface DenoWorkerSpec {
  /** The bundle's directory (function files and the runtime's entry). */
  dir: string;
  /** Entry and config, relative to `dir`. */
  main: string;
  config: string;
  socketPath: string;
  /** The variables the function sees (SUPABASE_URL, keys, ...). */
  env: Record<string, string>;
}

export interface DenoRuntimeSettings extends DenoSpawnSettings {
  startTimeoutMs: number;
}

export interface DenoSpawnSettings {
  denoPath: string;
  /**
   * `host:port`s a function may not reach although it may reach the network (`--deny-net`): the platform's
   * own servers (Postgres, NATS), which on a developer machine trust local connections.
   */
  deniedNet?: readonly string[];
  denoDir: string;
  /** Directories every function may read besides its own: the runtime's libraries (local-library.ts). */
  readable?: readonly string[];
  memoryMb: number;
  /** Function output (console.log, errors), one redacted line at a time. */
  log: (line: string) => void;
  /** Kills the process when aborted (a spare being started at shutdown). */
  signal?: AbortSignal;
}

/**
 * The variables of the provisioner's environment a Deno process may see: how to reach the npm registry
 * (registry, proxies, the machine's certificate authorities). Nothing else: no DATABASE_URL, no token.
 */
const PASSED_THROUGH = [
  'PATH',
  'HOME',
  'TMPDIR',
  'NPM_CONFIG_REGISTRY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'DENO_TLS_CA_STORE',
  'NODE_EXTRA_CA_CERTS',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'DENO_CERT',
];

/** A Deno process's variables: the ones passed through, `own`, and the runtime's DENO_DIR and quiet settings. */
export function denoEnvironment(denoDir: string, own: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return Object.assign(env, own, {
    DENO_DIR: denoDir,
    DENO_NO_UPDATE_CHECK: '1',
    DENO_NO_PROMPT: '1',
    NO_COLOR: '1',
  });
}

/**
 * The Deno binary of the `deno` npm package: beside its package.json once its postinstall ran, otherwise in
 * the platform package it depends on (`@deno/linux-x64-glibc`, ...), where the postinstall takes it from.
 */
export function defaultDenoPath(): string {
  const executable = process.platform === 'win32' ? 'deno.exe' : 'deno';
  const installed = join(dirname(require.resolve('deno/package.json')), executable);
  if (existsSync(installed)) return installed;
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const platform = process.platform === 'linux' ? `linux-${arch}-glibc` : `${process.platform}-${arch}`;
  const shipped = join(dirname(require.resolve(`@deno/${platform}/package.json`)), executable);
  if (existsSync(shipped)) return shipped;
  throw new Error(
    `no Deno binary in the deno npm package (${installed}); run "npm rebuild deno" or set EDGE_RUNTIME_DENO`,
  );
}

export class DenoWorkerStartError extends Error {
  override readonly name = 'DenoWorkerStartError';
}

/** What a wait for a marker is, for its messages ("did not listen within", "exited before listening"). */
interface Wait {
  verb: string;
  gerund: string;
}
const LISTENING: Wait = { verb: 'listen', gerund: 'listening' };
const LOADING: Wait = { verb: 'load its imports', gerund: 'loading its imports' };

/**
 * Spawning a spare: where it runs, without variables of a function (it has none yet), and the URL it warms up
 * against (function-bundle.ts WARM_UP_PATH; none: it does not warm up).
 */
export type DenoSpareSpec = Omit<DenoWorkerSpec, 'env'> & { warmUpUrl?: string };

/**
 * The runtime's handle on one Deno process (a worker's or a spare's): spawned with the properties above, its
 * output read line by line (the markers it prints awaited, the rest logged), stopped on demand.
 */
export class DenoProcess {
  /** Where the process's output goes; a spare's changes when it is given a function. */
  log: (line: string) => void;
  private exitCode: number | null = null;
  /** Why the process ended, when it did, for a wait that starts after it. */
  private ended: ((wait: Wait) => string) | undefined;
  private readonly exitListeners: Array<() => void> = [];
  private readonly tail: string[] = [];
  private waiting: { marker: string; found(): void; ended(why: (wait: Wait) => string): void } | undefined;

  private constructor(
    private readonly child: ChildProcess,
    log: (line: string) => void,
  ) {
    this.log = log;
    // stdin is a pipe the process reads at most one line from (a spare's assignment): the runtime's entries
    // exit when it closes, so a provisioner that dies (even by SIGKILL) leaves no Deno process behind.
    child.stdin?.on('error', () => undefined);
    lines(child.stdout, (line) => {
      const waiting = this.waiting;
      if (waiting && line.trim() === waiting.marker) {
        this.waiting = undefined;
        waiting.found();
        return;
      }
      this.remember(line);
    });
    lines(child.stderr, (line) => this.remember(line));
    child.once('error', (error) => {
      // Not spawned at all (no 'exit' follows), or aborted (it does).
      if (child.pid === undefined) this.exit(127);
      this.end(() => `could not start Deno (${error.message})`);
    });
    child.once('exit', (code, signal) => {
      this.end((wait) => `exited before ${wait.gerund} (${signal ?? `code ${code}`})`);
      this.exit(code ?? (signal ? 128 : 0));
    });
  }

  static spawn(
    spec: Omit<DenoWorkerSpec, 'env'> & { env?: Record<string, string> },
    settings: DenoSpawnSettings,
  ): DenoProcess {
    const env = denoEnvironment(settings.denoDir, { ...spec.env, [SOCKET_VARIABLE]: spec.socketPath });
    const socketDir = dirname(spec.socketPath);
    const args = [
      'run',
      '--no-lock',
      '--node-modules-dir=none',
      '--no-prompt',
      `--config=${join(spec.dir, spec.config)}`,
      '--allow-net',
      ...(settings.deniedNet?.length ? [`--deny-net=${settings.deniedNet.join(',')}`] : []),
      '--allow-env',
      `--allow-read=${[spec.dir, socketDir, ...(settings.readable ?? [])].join(',')}`,
      `--allow-write=${spec.socketPath}`,
      `--v8-flags=--max-old-space-size=${settings.memoryMb}`,
      join(spec.dir, spec.main),
    ];
    const child = spawn(settings.denoPath, args, {
      cwd: spec.dir,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(settings.signal && { signal: settings.signal, killSignal: 'SIGKILL' as const }),
    });
    return new DenoProcess(child, settings.log);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.exitCode !== null;
  }

  onExit(listener: () => void): void {
    if (this.exited) listener();
    else this.exitListeners.push(listener);
  }

  /**
   * Resolves when the process prints `marker` (a line of its own); otherwise kills it and rejects with its
   * last words: when it exits first, or after `timeoutMs`.
   */
  until(marker: string, timeoutMs: number, wait: Wait): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (message: string) => {
        clearTimeout(timer);
        if (this.waiting === waiting) this.waiting = undefined;
        this.child.kill('SIGKILL');
        const said = this.tail.filter((line) => !line.startsWith('Download ')).slice(-5);
        reject(new DenoWorkerStartError(said.length ? `${message}: ${said.join(' | ')}` : message));
      };
      const waiting = {
        marker,
        found: () => {
          clearTimeout(timer);
          resolve();
        },
        ended: (why: (wait: Wait) => string) => fail(why(wait)),
      };
      const timer = setTimeout(() => fail(`did not ${wait.verb} within ${timeoutMs} ms`), timeoutMs);
      if (this.ended !== undefined) return waiting.ended(this.ended);
      this.waiting = waiting;
    });
  }

  /** Writes to the process's stdin. */
  send(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Ends the process: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.onExit(resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private remember(line: string): void {
    const clean = redactText(line).slice(0, 500);
    this.tail.push(clean);
    if (this.tail.length > 20) this.tail.shift();
    this.log(clean);
  }

  private end(why: (wait: Wait) => string): void {
    this.ended ??= why;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.ended(why);
  }

  private exit(code: number): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    for (const listener of this.exitListeners.splice(0)) listener();
  }
}

/** What a worker and a spare say of their process: its pid, whether it ended, and when it ends. */
abstract class DenoHandle {
  constructor(protected readonly process: DenoProcess) {}

  get pid(): number | undefined {
    return this.process.pid;
  }

  get exited(): boolean {
    return this.process.exited;
  }

  onExit(listener: () => void): void {
    this.process.onExit(listener);
  }
}

/** A Deno process serving one function (started cold, or a spare that was given it). */
export class DenoWorker extends DenoHandle {
  constructor(
    process: DenoProcess,
    readonly socketPath: string,
    /** From spawn (cold) or assignment (spare) to listening. */
    readonly startedInMs: number,
    /** Whether it was a spare. */
    readonly spare: boolean,
  ) {
    super(process);
  }

  /** Starts Deno on a bundle and resolves when the function listens; rejects with the process's last words otherwise. */
  static async start(spec: DenoWorkerSpec, settings: DenoRuntimeSettings): Promise<DenoWorker> {
    const started = performance.now();
    const deno = DenoProcess.spawn(spec, settings);
    await deno.until(READY_MARKER, settings.startTimeoutMs, LISTENING);
    return new DenoWorker(deno, spec.socketPath, Math.round(performance.now() - started), false);
  }

  /** Ends the process: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  stop(graceMs = 2000): Promise<void> {
    return this.process.stop(graceMs);
  }
}

/**
 * A Deno process started before it has a function (function-bundle.ts spareRuntime): its directory, socket and
 * permissions fixed, the usual imports loaded, waiting on stdin for the one function it will run. It holds
 * none of a function's variables until then.
 */
export class DenoSpare extends DenoHandle {
  private taken = false;

  private constructor(
    process: DenoProcess,
    readonly dir: string,
    readonly socketPath: string,
  ) {
    super(process);
  }

  /** Starts a spare and resolves once it has loaded its imports; `settings.signal` kills it. */
  static async start(spec: DenoSpareSpec, settings: DenoRuntimeSettings): Promise<DenoSpare> {
    const { warmUpUrl, ...where } = spec;
    const deno = DenoProcess.spawn({ ...where, env: warmUpUrl ? { [WARM_UP_VARIABLE]: warmUpUrl } : {} }, settings);
    await deno.until(SPARE_MARKER, settings.startTimeoutMs, LOADING);
    return new DenoSpare(deno, spec.dir, spec.socketPath);
  }

  /**
   * Gives the spare its function (whose files are in place under its directory) and resolves with the worker
   * once the function listens; otherwise the process is killed and this rejects with its last words.
   */
  async assign(
    assignment: SpareAssignment,
    options: { startTimeoutMs: number; log: (line: string) => void },
  ): Promise<DenoWorker> {
    if (this.taken) throw new Error('a spare runs one function');
    this.taken = true;
    this.process.log = options.log;
    const started = performance.now();
    const listening = this.process.until(READY_MARKER, options.startTimeoutMs, LISTENING);
    this.process.send(`${JSON.stringify(assignment)}\n`);
    await listening;
    return new DenoWorker(this.process, this.socketPath, Math.round(performance.now() - started), true);
  }

  stop(graceMs = 2000): Promise<void> {
    return this.process.stop(graceMs);
  }
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) onLine(line);
    }
    // A runaway line without newline is cut rather than kept growing.
    if (buffered.length > 64 * 1024) {
      onLine(buffered.slice(0, 1000));
      buffered = '';
    }
  });
}
