import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { redactText } from '@vibe/platform';
import { READY_MARKER, SOCKET_VARIABLE } from './function-bundle.js';

/**
 * One Deno process serving one version of one Edge Function on a Unix socket (DESIGN.md §3: the `deno` npm
 * package's binary). Run outside any folder with a package.json (Deno would switch to node_modules mode),
 * with the runtime's own DENO_DIR, an environment of its own (never the provisioner's: no DATABASE_URL, no
 * access token), read access to its own files only, write access to its own socket only (so not to another
 * function's), the network but not the platform's own servers, no subprocesses, a V8 heap limit.
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

export interface DenoRuntimeSettings {
  denoPath: string;
  /**
   * `host:port`s a function may not reach although it may reach the network (`--deny-net`): the platform's
   * own servers (Postgres, NATS), which on a developer machine trust local connections.
   */
  deniedNet?: readonly string[];
  denoDir: string;
  memoryMb: number;
  startTimeoutMs: number;
  /** Function output (console.log, errors), one redacted line at a time. */
  log(line: string): void;
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

export class DenoWorker {
  private exitCode: number | null = null;
  private readonly exitListeners: Array<() => void> = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly socketPath: string,
    readonly startedInMs: number,
  ) {
    child.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? 128 : 0);
      for (const listener of this.exitListeners.splice(0)) listener();
    });
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

  /** Starts Deno and resolves when the function listens; rejects with the process's last words otherwise. */
  static async start(spec: DenoWorkerSpec, settings: DenoRuntimeSettings): Promise<DenoWorker> {
    const env: Record<string, string> = {};
    for (const name of PASSED_THROUGH) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, spec.env, {
      DENO_DIR: settings.denoDir,
      DENO_NO_UPDATE_CHECK: '1',
      DENO_NO_PROMPT: '1',
      NO_COLOR: '1',
      [SOCKET_VARIABLE]: spec.socketPath,
    });
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
      `--allow-read=${spec.dir},${socketDir}`,
      `--allow-write=${spec.socketPath}`,
      `--v8-flags=--max-old-space-size=${settings.memoryMb}`,
      join(spec.dir, spec.main),
    ];
    const started = performance.now();
    // stdin is a pipe the function never reads: the runtime's entry exits when it closes, so a provisioner
    // that dies (even by SIGKILL) leaves no Deno process behind.
    const child = spawn(settings.denoPath, args, { cwd: spec.dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin?.on('error', () => undefined);
    const tail: string[] = [];
    const remember = (line: string) => {
      const clean = redactText(line).slice(0, 500);
      tail.push(clean);
      if (tail.length > 20) tail.shift();
      settings.log(clean);
    };
    return new Promise<DenoWorker>((resolve, reject) => {
      let ready = false;
      const fail = (message: string) => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        const said = tail.filter((line) => !line.startsWith('Download ')).slice(-5);
        reject(new DenoWorkerStartError(said.length ? `${message}: ${said.join(' | ')}` : message));
      };
      const timer = setTimeout(
        () => fail(`did not listen within ${settings.startTimeoutMs} ms`),
        settings.startTimeoutMs,
      );
      lines(child.stdout, (line) => {
        if (!ready && line.trim() === READY_MARKER) {
          ready = true;
          clearTimeout(timer);
          resolve(new DenoWorker(child, spec.socketPath, Math.round(performance.now() - started)));
          return;
        }
        remember(line);
      });
      lines(child.stderr, remember);
      child.once('error', (error) => fail(`could not start Deno (${error.message})`));
      child.once('exit', (code, signal) => fail(`exited before listening (${signal ?? `code ${code}`})`));
    });
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
