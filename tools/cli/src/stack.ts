import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';

/** The five services, in the order they are started. */
export const SERVICES = ['realtime-bridge', 'provisioner', 'orchestrator', 'drift-sentinel', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 3000,
  orchestrator: 3001,
  provisioner: 3002,
  'drift-sentinel': 3003,
  'realtime-bridge': 3004,
};

/** The repository root, from tools/cli/dist or tools/cli/src. */
export const ROOT_DIR = path.resolve(__dirname, '../../..');

export interface StackOptions {
  env?: Record<string, string>;
  ports?: Partial<Record<ServiceName, number>>;
  /** Receives each line a service prints; by default lines are dropped. */
  onLine?: (service: ServiceName, line: string) => void;
  readyTimeoutMs?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One process of a service. */
export interface ServiceProcess {
  readonly service: ServiceName;
  readonly port: number;
  readonly pid: number | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ProcessExit>;
  isRunning(): boolean;
  /** Every line the process printed so far. */
  lines(): string[];
  /**
   * The first line matching `pattern`, among those printed from line index `from` on (default: all, so a
   * line printed before the call is found too), waiting up to `timeoutMs` for it.
   */
  waitForLine(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<string>;
  /** Sends the signal (SIGTERM by default) and waits for the exit; SIGKILL after `forceAfterMs` of waiting. */
  kill(signal?: NodeJS.Signals, forceAfterMs?: number): Promise<ProcessExit>;
}

export interface StartServiceOptions {
  /** Added to (and overriding) the stack's environment for this process. */
  env?: Record<string, string>;
}

export interface RunningStack {
  ports: Record<ServiceName, number>;
  gatewayUrl: string;
  /** The last lines each service printed, for error reports. */
  tail(service: ServiceName): string[];
  /** The current process of a service. */
  process(service: ServiceName): ServiceProcess;
  /** Signals the service's process (SIGKILL by default: a crash) and waits for it to exit. */
  kill(service: ServiceName, signal?: NodeJS.Signals): Promise<ProcessExit>;
  /** Starts the service again on its port (after kill) and waits until its /health is ready. */
  start(service: ServiceName, options?: StartServiceOptions): Promise<ServiceProcess>;
  /** kill (SIGKILL) then start. */
  restart(service: ServiceName, options?: StartServiceOptions): Promise<ServiceProcess>;
  /** Another process of the service beside the first (a second replica), on its own port; stopped with the stack. */
  startReplica(service: ServiceName, options?: StartServiceOptions & { port?: number }): Promise<ServiceProcess>;
  /** SIGTERM to every process (SIGKILL after 8 s), and wait for them to exit. */
  stop(): Promise<void>;
}

const TAIL_LINES = 50;

/**
 * V8's heap sizes for a service process (the Dockerfile sets the same in NODE_OPTIONS). Left to itself V8 grows
 * the heap long before it collects: during 50 concurrent builds the provisioner reached 367 MB RSS and the
 * orchestrator 253 MB, most of it garbage. With an 8 MB young generation and a 128 MB old one they peaked at
 * 169 MB and 154 MB, the builds as fast (`npm run bench -- memory concurrent`); a 2 MB young generation saved
 * 10 MB more but cost the projector a sixth of its events per second.
 */
export const SERVICE_V8_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=128'];

/**
 * The flags of one service: the bridge's projector makes garbage fastest (every event decoded, checked,
 * redacted and encoded again), and with an 8 MB young generation a third of its CPU in the events bench went
 * to the collector; with 16 MB it projected 21–22k events/s instead of 16–21k, at 168–171 MB peak RSS instead
 * of 157 MB (32 MB: no faster, 197–201 MB). The Dockerfile's realtime-bridge stage says the same.
 */
export function serviceV8Flags(service: ServiceName): string[] {
  return service === 'realtime-bridge' ? ['--max-semi-space-size=16', '--max-old-space-size=128'] : SERVICE_V8_FLAGS;
}

function spawnService(
  service: ServiceName,
  port: number,
  env: Record<string, string>,
  onLine: ((service: ServiceName, line: string) => void) | undefined,
): ServiceProcess {
  const main = path.join(ROOT_DIR, 'services', service, 'dist', 'main.js');
  const child: ChildProcess = spawn(process.execPath, [...serviceV8Flags(service), main], {
    cwd: ROOT_DIR,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  let exit: ProcessExit | null = null;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    // A process that could not be spawned at all.
    child.once('error', () => {
      exit ??= { code: null, signal: null };
      resolve(exit);
    });
  });
  let partial = { stdout: '', stderr: '' };
  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = partial[stream] + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = { ...partial, [stream]: parts.pop() ?? '' };
    for (const line of parts.filter(Boolean)) {
      lines.push(line);
      onLine?.(service, line);
      for (const waiter of waiters) waiter(line);
    }
  };
  child.stdout?.on('data', onData('stdout'));
  child.stderr?.on('data', onData('stderr'));

  return {
    service,
    port,
    get pid() {
      return child.pid;
    },
    exited,
    isRunning: () => exit === null,
    lines: () => [...lines],
    waitForLine(pattern, { from = 0, timeoutMs = 30_000 } = {}) {
      const seen = lines.slice(from).find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = (line: string) => {
          if (!pattern.test(line)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${service} printed no line matching ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    async kill(signal = 'SIGTERM', forceAfterMs = 8000) {
      if (exit) return exit;
      const force = setTimeout(() => child.kill('SIGKILL'), forceAfterMs);
      child.kill(signal);
      try {
        return await exited;
      } finally {
        clearTimeout(force);
      }
    },
  };
}

async function waitReady(processHandle: ServiceProcess, host: string, deadline: number): Promise<void> {
  for (;;) {
    if (!processHandle.isRunning()) {
      const { code, signal } = await processHandle.exited;
      throw new Error(
        `${processHandle.service} exited with ${signal ?? `code ${code}`}:\n${processHandle.lines().slice(-TAIL_LINES).join('\n')}`,
      );
    }
    const ready = await fetch(`http://${host}:${processHandle.port}/health`)
      .then((response) => response.ok)
      .catch(() => false);
    if (ready) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${processHandle.service} was not ready in time:\n${processHandle.lines().slice(-TAIL_LINES).join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts each service as its own process from its build output and waits until every /health is ready. */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const ports = { ...DEFAULT_PORTS, ...options.ports };
  const host = options.env?.HOST ?? '127.0.0.1';
  // Share links of succeeded builds point at this stack's gateway unless told otherwise (issue 12).
  const env = {
    PUBLIC_BASE_URL: process.env.PUBLIC_BASE_URL ?? `http://${host}:${ports.gateway}`,
    ...options.env,
  };
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const current = new Map<ServiceName, ServiceProcess>();
  const all = new Set<ServiceProcess>();

  const launch = (service: ServiceName, port: number, extra: Record<string, string> = {}) => {
    const handle = spawnService(service, port, { ...env, ...extra }, options.onLine);
    all.add(handle);
    return handle;
  };
  const stop = async () => {
    await Promise.all([...all].map((handle) => handle.kill('SIGTERM', 8000)));
  };
  const processOf = (service: ServiceName) => {
    const handle = current.get(service);
    if (!handle) throw new Error(`${service} was never started`);
    return handle;
  };

  for (const service of SERVICES) current.set(service, launch(service, ports[service]));
  const deadline = Date.now() + readyTimeoutMs;
  try {
    for (const service of SERVICES) await waitReady(processOf(service), host, deadline);
  } catch (error) {
    await stop();
    throw error;
  }

  const start = async (service: ServiceName, startOptions: StartServiceOptions = {}) => {
    if (current.get(service)?.isRunning()) throw new Error(`${service} is running; kill it first`);
    const handle = launch(service, ports[service], startOptions.env);
    current.set(service, handle);
    await waitReady(handle, host, Date.now() + readyTimeoutMs);
    return handle;
  };

  return {
    ports,
    gatewayUrl: `http://${host}:${ports.gateway}`,
    tail: (service) => processOf(service).lines().slice(-TAIL_LINES),
    process: processOf,
    kill: (service, signal = 'SIGKILL') => processOf(service).kill(signal),
    start,
    async restart(service, startOptions) {
      await processOf(service).kill('SIGKILL');
      return start(service, startOptions);
    },
    async startReplica(service, replicaOptions = {}) {
      const port = replicaOptions.port ?? (await freePorts(1))[0]!;
      const handle = launch(service, port, replicaOptions.env);
      await waitReady(handle, host, Date.now() + readyTimeoutMs);
      return handle;
    },
    stop,
  };
}

/** Free TCP ports on the loopback interface, for tests that run a stack beside another. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
