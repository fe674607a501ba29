import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { redactText } from '@vibe/platform';
import { CommandActivity, SPARE_REFILL_MAX_WAIT_MS, SPARE_REFILL_QUIET_MS } from '../activity.js';
import { PROVISIONER_CONFIG, type ProvisionerConfig } from '../config.js';
import type { EnvironmentApi, EnvironmentApiAccess } from '../drivers/environment-api.js';
import { PermanentFailure } from '../drivers/driver.js';
import { LocalDriver } from '../drivers/local/local.driver.js';
import { mintAnonKey } from '../mcp/local/api-keys.js';
import { LocalEnvironment } from '../mcp/local/local-environment.js';
import { bearerToken, mintApiKey, verifyApiJwt } from './api-jwt.js';
import {
  DenoSpare,
  DenoWorker,
  DenoWorkerStartError,
  defaultDenoPath,
  type DenoRuntimeSettings,
} from './deno-worker.js';
import {
  BundleError,
  bundleFunction,
  SOURCE_DIR,
  spareFit,
  spareRuntime,
  WARM_UP_PATH,
  type FunctionBundle,
  type RuntimeLibraries,
  type SpareFit,
  type SpareRuntime,
} from './function-bundle.js';
import { LIBRARY_DIR, runtimeLibraries } from './local-library.js';
import { callRpc } from './rest-rpc.js';
import { SparePool } from './spare-pool.js';
import { PoolFullError, WorkerPool } from './worker-pool.js';

/** A function version ready to start: its row, its files laid out, and whether a spare can run it. */
interface PreparedFunction {
  fn: Awaited<ReturnType<LocalEnvironment['getFunction']>>;
  bundle: FunctionBundle;
  fit: SpareFit;
}

/**
 * The local driver's API, what `https://<ref>.supabase.co` is for a Supabase project (DESIGN.md §3), served by
 * the provisioner (the only service that touches environments) under `<ENV_API_URL>` = `/env/<ref>`:
 *
 * - `/env/<ref>/functions/v1/<slug>`: the environment's deployed Edge Function, run by a real Deno process
 *   (started when deployed or on the first request, stopped when idle, at most EDGE_RUNTIME_MAX_WORKERS), with the
 *   variables Supabase gives functions (SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY); a
 *   function deployed with verify_jwt answers 401 unless the bearer token is a JWT signed with the
 *   environment's secret, as Supabase's gateway does. A function runs on one of EDGE_RUNTIME_SPARES spare
 *   processes, supabase-js already loaded, when one is ready and fits (spare-pool.ts), else cold; on a spare it
 *   starts when deployed if the pool has room (warm), else on its first request.
 * - `/env/<ref>/rest/v1/rpc/<function>`: PostgREST's RPC, as the caller's role (src/edge-runtime/rest-rpc.ts),
 *   which is what the functions' `supabase.rpc()` calls.
 *
 * Functions are read from the environment database on each request (any replica serves any environment;
 * a redeploy takes effect at once). SUPABASE_DB_URL is not given: locally it would be the server's admin
 * connection, which reaches every environment.
 */
@Injectable()
export class LocalApiServer implements EnvironmentApi, OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('LocalApi');
  private readonly server: Server;
  private readonly pool: WorkerPool<DenoWorker>;
  private readonly sparePool: SparePool<DenoSpare>;
  /** The runtime's libraries and the spares' files that use them: made once, when first needed. */
  private runtime: Promise<{ libraries: RuntimeLibraries; spare: SpareRuntime }> | undefined;
  private readonly root: string;
  private readonly secrets = new Map<string, string>();
  /** Spares that have warmed up against WARM_UP_PATH (shown by /health). */
  private warmUps = 0;
  private template: string;
  private listening: Promise<void> | undefined;

  constructor(
    @Inject(PROVISIONER_CONFIG) private readonly config: ProvisionerConfig,
    @Inject(LocalDriver) private readonly driver: LocalDriver,
    @Optional() @Inject(CommandActivity) activity: CommandActivity = new CommandActivity(),
  ) {
    this.template = config.ENV_API_URL;
    this.root = config.EDGE_RUNTIME_DIR ?? join(tmpdir(), `vibe-edge-runtime-${userInfo().uid}`);
    this.pool = new WorkerPool({ maxWorkers: config.EDGE_RUNTIME_MAX_WORKERS, idleMs: config.EDGE_RUNTIME_IDLE_MS });
    this.sparePool = new SparePool(
      {
        size: config.EDGE_RUNTIME_SPARES,
        backoffMs: 1_000,
        maxBackoffMs: 60_000,
        // Replaced once the provisioner's commands leave it a quiet moment, not during the build that took it:
        // e2e p50 369-380 ms with the replacement started at once, 338-344 ms 200 ms later; 430 and 445 ms with
        // 200 ms, 410 and 385 ms with 650 ms (after the build) in a later sitting (alternately each time).
        refill: (start) => activity.whenQuiet(SPARE_REFILL_QUIET_MS, SPARE_REFILL_MAX_WAIT_MS, start),
        warn: (message) => this.logger.warn(`Edge Functions: ${redactText(message)}`),
      },
      (signal) => this.startSpare(signal),
    );
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    // Environments record the URL this API serves them under (EnvironmentInfo.apiUrl), port included.
    driver.serveApiAt(async () => {
      await this.listen();
      return this.template;
    });
  }

  /**
   * The platform's servers, which a function must not reach: the environments' Postgres and the control
   * plane's (trust authentication on a developer machine), and NATS (no authentication here), under every
   * name a loopback address goes by.
   */
  private get platformServers(): string[] {
    const servers = [this.config.ENV_DATABASE_URL, this.config.DATABASE_URL, this.config.NATS_URL].map((url) => {
      const parsed = new URL(url);
      const port = parsed.port || (parsed.protocol.startsWith('nats') ? '4222' : '5432');
      return { host: parsed.hostname || 'localhost', port };
    });
    const loopback = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'];
    return [
      ...new Set(
        servers.flatMap(({ host, port }) =>
          (loopback.includes(host) ? loopback : [host]).map((name) => `${name}:${port}`),
        ),
      ),
    ];
  }

  /** `ENV_API_URL` with the port actually listened on: what get_project_url answers. */
  get urlTemplate(): string {
    return this.template;
  }

  projectUrl(ref: string): string {
    return this.template.replaceAll('{ref}', encodeURIComponent(ref));
  }

  /** Deno processes running now (serving functions). */
  get workers(): number {
    return this.pool.size;
  }

  /** Spare Deno processes ready now. */
  get spares(): number {
    return this.sparePool.size;
  }

  async onModuleInit(): Promise<void> {
    // In the background: startup does not wait for spares, and a request finding none starts cold.
    this.sparePool.fill();
    void this.sweepLeftovers().catch((error: Error) =>
      this.logger.warn(`Edge Functions: files left by a killed provisioner stay (${redactText(error.message)})`),
    );
    await this.listen();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await Promise.all([this.pool.close(), this.sparePool.close()]);
  }

  async access(ref: string): Promise<EnvironmentApiAccess> {
    await this.listen();
    const secret = await this.jwtSecret(ref);
    return {
      url: this.projectUrl(ref),
      anonKey: mintAnonKey(secret, ref, new Date()),
      secrets: [
        { name: 'service_role_key', value: serviceRoleKey(secret, ref) },
        { name: 'jwt_secret', value: secret },
      ],
    };
  }

  private listen(): Promise<void> {
    this.listening ??= this.bind();
    return this.listening;
  }

  /** On ENV_API_URL's port (or ENV_API_PORT); a free one when it is 0 or taken, and the URL then says which. */
  private async bind(): Promise<void> {
    const url = new URL(this.config.ENV_API_URL.replaceAll('{ref}', 'ref'));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const wanted = this.config.ENV_API_PORT ?? Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const tryListen = (port: number) =>
      new Promise<number>((resolve, reject) => {
        const onError = (error: Error) => {
          this.server.off('listening', onListening);
          reject(error);
        };
        const onListening = () => {
          this.server.off('error', onError);
          const address = this.server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        };
        this.server.once('error', onError);
        this.server.once('listening', onListening);
        this.server.listen(port, host);
      });
    let port: number;
    try {
      port = await tryListen(wanted);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      port = await tryListen(0);
      this.logger.warn(`port ${wanted} is taken: the local API listens on ${port} instead`);
    }
    if (this.config.ENV_API_PORT === undefined && port !== wanted) {
      this.template = this.config.ENV_API_URL.replace(/^(\w+:\/\/[^/]*?)(:\d+)?(?=\/|$)/, `$1:${port}`);
    }
    this.logger.log(`local API on http://${host}:${port} (Edge Functions, REST RPC) as ${this.template}`);
    const project = packageJsonAbove(this.root);
    if (project) {
      this.logger.warn(
        `EDGE_RUNTIME_DIR ${this.root} is inside ${project}, which has a package.json: Deno may resolve npm: imports from its node_modules instead of its own cache (DESIGN.md §3); choose a directory outside it`,
      );
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://local');
      if (url.pathname === '/health') {
        return send(res, 200, {
          ok: true,
          workers: this.pool.size,
          spares: this.sparePool.size,
          warmUps: this.warmUps,
        });
      }
      if (url.pathname.startsWith(`${WARM_UP_PATH}/`)) {
        // A spare's warm-up call (function-bundle.ts spareRuntime): answered, nothing else.
        this.warmUps++;
        res.writeHead(204).end();
        return;
      }
      const route = /^\/env\/([^/]+)\/(functions\/v1|rest\/v1\/rpc)\/([^/]+)(\/.*)?$/.exec(url.pathname);
      if (!route) return send(res, 404, { code: 'NOT_FOUND', message: 'no such route' });
      const [, encodedRef, kind, name, rest] = route as unknown as [string, string, string, string, string | undefined];
      const ref = decodeURIComponent(encodedRef);
      if (kind === 'functions/v1')
        await this.serveFunction(req, res, ref, decodeURIComponent(name), rest ?? '', url.search);
      else await this.serveRpc(req, res, ref, decodeURIComponent(name), url);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof URIError) return send(res, 400, { code: 'BAD_REQUEST', message: 'a malformed path' });
      if (error instanceof PermanentFailure && /environment/.test(error.code ?? '')) {
        return send(res, 404, { code: 'NOT_FOUND', message: error.message });
      }
      this.logger.error(
        `local API request failed: ${redactText(error instanceof Error ? error.message : String(error))}`,
      );
      send(res, 503, { code: 'UNAVAILABLE', message: 'the environment is not available now' });
    }
  }

  private async serveFunction(
    req: IncomingMessage,
    res: ServerResponse,
    ref: string,
    slug: string,
    rest: string,
    search: string,
  ): Promise<void> {
    const environment = this.environment(ref);
    const fn = await this.driver.withEnvironment(ref, async (client) => {
      const store = await client.query<{ ok: boolean }>(
        `select to_regclass('supabase_functions.edge_functions') is not null as ok`,
      );
      if (!store.rows[0]?.ok) return undefined;
      const { rows } = await client.query<{ id: string; version: number; verify_jwt: boolean }>(
        'select id::text, version, verify_jwt from supabase_functions.edge_functions where slug = $1',
        [slug],
      );
      return rows[0];
    });
    if (!fn) return send(res, 404, { code: 'NOT_FOUND', message: 'Requested function was not found' });
    if (fn.verify_jwt) {
      const token = bearerToken(req.headers.authorization);
      if (!token) return send(res, 401, { code: 401, message: 'Missing authorization header' });
      const verified = verifyApiJwt(token, await this.jwtSecret(ref));
      if (!verified.ok) return send(res, 401, { code: 401, message: 'Invalid JWT' });
    }
    let lease;
    try {
      lease = await this.pool.acquire(`${ref}/${slug}`, `${fn.version}:${fn.id}`, () =>
        this.startWorker(environment, slug),
      );
    } catch (error) {
      if (error instanceof PoolFullError) return send(res, 503, { code: 'WORKER_LIMIT', message: error.message });
      if (error instanceof DenoWorkerStartError || error instanceof BundleError) {
        this.logger.warn(`${slug} on ${ref} did not start: ${error.message}`);
        return send(res, 503, { code: 'BOOT_ERROR', message: `Function failed to start: ${error.message}` });
      }
      throw error;
    }
    try {
      await proxy(req, res, lease.worker.socketPath, `/${slug}${rest}${search}`, {
        timeoutMs: this.config.EDGE_RUNTIME_REQUEST_TIMEOUT_MS,
        cold: lease.cold,
      });
    } finally {
      lease.release();
    }
  }

  /**
   * Starts the worker of a function version just deployed on a spare, in the background, so that its first
   * request (the build's check, or a client's) finds it listening rather than waits for the start; a request
   * arriving meanwhile waits for this start instead of making another. Only when it is cheap and takes nothing
   * from anyone: a spare is ready, and the pool has room, or holds a worker that has had no request for
   * WARM_STOPS_QUIET_MS, which is stopped (a function's first request would stop it as well; under load neither
   * holds, and the first request starts the worker, as it always did). A start that fails is not reported
   * here: the first request starts it again and answers with the failure.
   */
  warm(ref: string, slug: string): void {
    if (this.config.EDGE_RUNTIME_SPARES === 0 || this.sparePool.size === 0 || !this.pool.hasRoom(WARM_STOPS_QUIET_MS)) {
      return;
    }
    void (async () => {
      // Listening first: the worker is told the URL the API serves (its port is known once it listens).
      await this.listen();
      const environment = this.environment(ref);
      // The JWT secret the worker's keys are made from is read beside the function (both from the environment
      // database; it is kept once read): one wait instead of two before the start.
      const [prepared] = await Promise.all([this.prepare(environment, slug), this.jwtSecret(ref)]);
      if (!prepared.fit.spare || !this.pool.hasRoom(WARM_STOPS_QUIET_MS)) return;
      const spare = this.sparePool.take();
      if (!spare) return;
      let given = false;
      try {
        const { version, id } = prepared.fn;
        const lease = await this.pool.acquire(`${ref}/${slug}`, `${version}:${id}`, () => {
          given = true;
          return this.launch(environment, slug, prepared, spare);
        });
        lease.release();
      } finally {
        // A request had started it already: the spare goes unused.
        if (!given) void spare.stop();
      }
    })().catch((error: unknown) =>
      this.logger.debug(
        `${ref}/${slug} not started ahead: ${redactText(error instanceof Error ? error.message : String(error))}`,
      ),
    );
  }

  private async serveRpc(req: IncomingMessage, res: ServerResponse, ref: string, fn: string, url: URL): Promise<void> {
    if (req.method !== 'POST' && req.method !== 'GET') {
      return send(res, 405, { code: 'PGRST117', message: `Unsupported HTTP method: ${req.method}` });
    }
    const apikey = req.headers.apikey;
    const token = bearerToken(req.headers.authorization) ?? (typeof apikey === 'string' ? apikey : null);
    if (!token) return send(res, 401, { message: 'No API key found in request' });
    const verified = verifyApiJwt(token, await this.jwtSecret(ref));
    if (!verified.ok) return send(res, 401, { code: 'PGRST301', message: `JWT ${verified.reason}` });
    let args: Record<string, unknown>;
    if (req.method === 'GET') {
      args = Object.fromEntries(url.searchParams);
    } else {
      const body = await readBody(req, 1024 * 1024);
      if (body === null) return send(res, 413, { code: 'PGRST413', message: 'the request body is too large' });
      try {
        const parsed: unknown = body.length ? JSON.parse(body.toString('utf8')) : {};
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        args = parsed as Record<string, unknown>;
      } catch {
        return send(res, 400, { code: 'PGRST102', message: 'the body must be a JSON object of named arguments' });
      }
    }
    const profile = req.headers[req.method === 'GET' ? 'accept-profile' : 'content-profile'];
    const result = await this.driver.withEnvironment(ref, (client) =>
      callRpc(client, {
        method: req.method!,
        fn,
        args,
        schema: typeof profile === 'string' ? profile : null,
        claims: verified.claims,
      }),
    );
    if (result.status === 204) {
      res.writeHead(204).end();
      return;
    }
    send(res, result.status, result.body);
  }

  /**
   * Lays the function out and starts it: on a spare when one is ready and its import map fits the spares'
   * config, else cold, in a directory of its own under EDGE_RUNTIME_DIR/functions.
   */
  private async startWorker(environment: LocalEnvironment, slug: string): Promise<DenoWorker> {
    const prepared = await this.prepare(environment, slug);
    return this.launch(environment, slug, prepared, prepared.fit.spare ? this.sparePool.take() : undefined);
  }

  /** The function's current version laid out as a bundle, and whether the spares can run it. */
  private async prepare(environment: LocalEnvironment, slug: string): Promise<PreparedFunction> {
    const [fn, runtime] = await Promise.all([environment.getFunction(slug), this.runtimeFiles()]);
    const bundle = bundleFunction(
      { slug, entrypointPath: fn.entrypoint_path, importMapPath: fn.import_map_path, files: fn.files },
      runtime.libraries,
    );
    const fit: SpareFit =
      this.config.EDGE_RUNTIME_SPARES === 0
        ? { spare: false, reason: 'spares are off' }
        : spareFit(bundle, runtime.spare.importMap);
    return { fn, bundle, fit };
  }

  /** Runs a prepared function on `spare` (cold when there is none, or it died before it was given the function). */
  private async launch(
    environment: LocalEnvironment,
    slug: string,
    { fn, bundle, fit }: PreparedFunction,
    spare: DenoSpare | undefined,
  ): Promise<DenoWorker> {
    const ref = environment.ref;
    const secret = await this.jwtSecret(ref);
    const env = {
      SUPABASE_URL: this.projectUrl(ref),
      SUPABASE_ANON_KEY: mintAnonKey(secret, ref, new Date()),
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey(secret, ref),
    };
    const log = (line: string) => this.logger.debug(`${ref}/${slug}: ${line}`);
    let worker = spare && (await this.runOnSpare(spare, bundle, env, log));
    // A cold start's directory is its own (named like a spare's, so that one a killed provisioner left can be
    // told from a running one's), removed with what Deno made of it when the worker exits.
    let dir: string | undefined;
    if (!worker) {
      const own = join(this.root, 'functions', ref, slug, `v${fn.version}-${fn.id.slice(0, 8)}-${ownedName()}`);
      dir = own;
      try {
        await writeAside(own, bundle.files);
        worker = await DenoWorker.start(
          {
            dir: own,
            main: bundle.main,
            config: bundle.config,
            socketPath: join(await this.socketDir(), `${randomBytes(8).toString('hex')}.sock`),
            env,
          },
          this.denoSettings(log),
        );
      } catch (error) {
        await this.removeLaidOut(own);
        throw error;
      }
    }
    const how = worker.spare ? 'on a spare' : `cold (${fit.spare ? 'no spare ready' : fit.reason})`;
    this.logger.log(`${ref}/${slug} v${fn.version} started in ${worker.startedInMs} ms ${how} (pid ${worker.pid})`);
    const started = worker;
    started.onExit(() => {
      void rm(started.socketPath, { force: true });
      if (dir) void this.removeLaidOut(dir);
    });
    return started;
  }

  /**
   * Lays the function's files out in the spare's directory (aside, then renamed into place) and gives the
   * spare the function. Undefined when the spare died before it was given it: the caller starts cold.
   */
  private async runOnSpare(
    spare: DenoSpare,
    bundle: FunctionBundle,
    env: Record<string, string>,
    log: (line: string) => void,
  ): Promise<DenoWorker | undefined> {
    try {
      await writeAside(join(spare.dir, SOURCE_DIR), sourceFiles(bundle));
    } catch (error) {
      await spare.stop();
      throw error;
    }
    if (spare.exited) {
      // Its directory went with it, perhaps before the files came: they are not left behind.
      await rm(spare.dir, { recursive: true, force: true });
      return undefined;
    }
    return spare.assign(
      { entry: bundle.entry, env },
      { startTimeoutMs: this.config.EDGE_RUNTIME_START_TIMEOUT_MS, log },
    );
  }

  /**
   * A spare in a fresh directory of its own under EDGE_RUNTIME_DIR/spares (its read permission, fixed at
   * spawn), with its own socket; both removed when it exits. Both named `<this process's pid>-<random>`, so
   * that a provisioner that was killed, and could not remove them, can be told from a running one.
   */
  private async startSpare(signal: AbortSignal): Promise<DenoSpare> {
    const id = ownedName();
    const dir = join(this.root, 'spares', id);
    const socketPath = join(await this.socketDir(), `${id}.sock`);
    // At once on exit: the provisioner may be about to end (close() waits for its spares to exit).
    const cleanUp = () => {
      for (const path of [dir, this.emitted(dir), socketPath]) rmSync(path, { recursive: true, force: true });
    };
    const runtime = (await this.runtimeFiles()).spare;
    let spare: DenoSpare;
    try {
      // The warm-up goes to this server, as the function's supabase-js calls will (its port is known once it
      // listens).
      await this.listen();
      const warmUpUrl = new URL(WARM_UP_PATH, this.projectUrl('warm-up')).href;
      for (const file of runtime.files) {
        await mkdir(dirname(join(dir, file.path)), { recursive: true, mode: 0o700 });
        await writeFile(join(dir, file.path), file.content, { mode: 0o600 });
      }
      spare = await DenoSpare.start(
        { dir, main: runtime.main, config: runtime.config, socketPath, warmUpUrl },
        { ...this.denoSettings((line) => this.logger.debug(`spare ${id}: ${line}`)), signal },
      );
    } catch (error) {
      cleanUp();
      throw error;
    }
    spare.onExit(cleanUp);
    return spare;
  }

  /**
   * Where Deno keeps the JavaScript it made of the TypeScript under `dir` (DENO_DIR/gen/file/<path>). It is kept
   * by path and never dropped, and every spare and cold start has a directory of its own: left there, it grew by
   * about 50 KB per start (128 MB here after a day of benchmarks).
   */
  private emitted(dir: string): string {
    return join(this.root, 'deno', 'gen', 'file', dir);
  }

  /** A cold start's directory and what Deno made of it. */
  private async removeLaidOut(dir: string): Promise<void> {
    await Promise.all([dir, this.emitted(dir)].map((path) => rm(path, { recursive: true, force: true })));
  }

  /**
   * Removes what provisioners that are gone (killed) left: spares' directories and sockets, cold starts'
   * directories, and what Deno made of both. Named with a pid (`ownedName`), they are told from a running one's.
   */
  private async sweepLeftovers(): Promise<void> {
    const gone = (name: string) => {
      const pid = Number(/(?:^|-)(\d+)-[0-9a-f]+(?:\.sock)?$/.exec(name)?.[1]);
      return pid > 0 && pid !== process.pid && !processExists(pid);
    };
    const list = (dir: string) => readdir(dir).catch(() => [] as string[]);
    const functions = join(this.root, 'functions');
    const starts: string[] = [];
    for (const ref of await list(functions)) {
      for (const slug of await list(join(functions, ref))) {
        starts.push(...(await list(join(functions, ref, slug))).map((name) => join(functions, ref, slug, name)));
      }
    }
    const spares = (await list(join(this.root, 'spares'))).map((name) => join(this.root, 'spares', name));
    const emittedSpares = (await list(this.emitted(join(this.root, 'spares')))).map((name) =>
      join(this.root, 'spares', name),
    );
    const sockets = (await list(join(this.root, 's'))).filter((name) => name.endsWith('.sock'));
    const stale = [
      ...[...new Set([...spares, ...emittedSpares, ...starts])]
        .filter((dir) => gone(basename(dir)))
        .flatMap((dir) => [dir, this.emitted(dir)]),
      ...sockets.filter(gone).map((name) => join(this.root, 's', name)),
    ];
    await Promise.all(stale.map((path) => rm(path, { recursive: true, force: true })));
  }

  private async socketDir(): Promise<string> {
    const sockets = join(this.root, 's');
    await mkdir(sockets, { recursive: true, mode: 0o700 });
    return sockets;
  }

  /** The runtime's libraries (made the first time, local-library.ts) and the spares' files. */
  private runtimeFiles(): Promise<{ libraries: RuntimeLibraries; spare: SpareRuntime }> {
    this.runtime ??= runtimeLibraries(
      this.root,
      this.denoSettings(() => undefined),
      (message) => this.logger.warn(message),
    ).then((libraries) => ({ libraries, spare: spareRuntime(libraries) }));
    return this.runtime;
  }

  private denoSettings(log: (line: string) => void): DenoRuntimeSettings {
    return {
      denoPath: this.config.EDGE_RUNTIME_DENO ?? defaultDenoPath(),
      deniedNet: this.platformServers,
      denoDir: join(this.root, 'deno'),
      readable: [join(this.root, LIBRARY_DIR)],
      memoryMb: this.config.EDGE_RUNTIME_MEMORY_MB,
      startTimeoutMs: this.config.EDGE_RUNTIME_START_TIMEOUT_MS,
      log,
    };
  }

  private environment(ref: string): LocalEnvironment {
    return new LocalEnvironment(ref, this.driver, {
      apiUrlTemplate: this.template,
      jwtSecret: this.config.ENV_JWT_SECRET,
    });
  }

  /** The environment's JWT secret, kept in memory once read (it never changes); bounded. */
  private async jwtSecret(ref: string): Promise<string> {
    const cached = this.secrets.get(ref);
    if (cached) return cached;
    const secret = await this.environment(ref).jwtSecret();
    if (this.secrets.size >= 1000) this.secrets.delete(this.secrets.keys().next().value!);
    this.secrets.set(ref, secret);
    return secret;
  }
}

/**
 * The environment's service-role key, the same in every replica (a fixed issue time): what functions get as
 * SUPABASE_SERVICE_ROLE_KEY, and what `invoke_edge_function` looks for in responses. Never returned.
 */
export function serviceRoleKey(secret: string, ref: string): string {
  return mintApiKey(secret, ref, 'service_role', SERVICE_KEY_ISSUED_AT);
}

/**
 * How long a worker must have had no request before a warm start may stop it. Without it, once the pool was full
 * of earlier builds' idle workers (8 by default, stopped after a minute), no function was started at deploy any
 * more: in the e2e bench from the fifth build on, which put a cold start back on every build's path.
 */
const WARM_STOPS_QUIET_MS = 2_000;

const SERVICE_KEY_ISSUED_AT = new Date('2026-01-01T00:00:00Z');

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Forwards the request to the worker's socket and streams its answer back. */
function proxy(
  req: IncomingMessage,
  res: ServerResponse,
  socketPath: string,
  path: string,
  options: { timeoutMs: number; cold: boolean },
): Promise<void> {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
  return new Promise<void>((resolve) => {
    const upstream = httpRequest(
      { socketPath, path, method: req.method, headers: { ...headers, host: 'localhost' }, timeout: options.timeoutMs },
      (answer) => {
        const out = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
        res.writeHead(answer.statusCode ?? 502, { ...out, 'x-vibe-worker': options.cold ? 'cold' : 'warm' });
        answer.pipe(res);
        answer.once('end', () => resolve());
        answer.once('error', () => {
          res.destroy();
          resolve();
        });
      },
    );
    upstream.once('timeout', () => {
      upstream.destroy();
      if (!res.headersSent) send(res, 504, { code: 'WORKER_TIMEOUT', message: 'the function did not answer in time' });
      resolve();
    });
    upstream.once('error', () => {
      if (!res.headersSent) send(res, 502, { code: 'WORKER_ERROR', message: 'the function failed' });
      else res.destroy();
      resolve();
    });
    req.pipe(upstream);
  });
}

/**
 * A name for a directory or socket of this process: `<pid>-<random>`, so that one left by a provisioner that was
 * killed can be told from a running one's.
 */
function ownedName(): string {
  return `${process.pid}-${randomBytes(8).toString('hex')}`;
}

/** Writes `files` into `dir`: aside first, then renamed into place, so a half-written directory is never run. */
async function writeAside(dir: string, files: FunctionBundle['files']): Promise<void> {
  const staging = `${dir}.staging-${randomBytes(4).toString('hex')}`;
  // The folders first, then every file at once, and the old directory removed meanwhile: four waits on the
  // file system rather than two per file (each wait is a turn of a busy event loop).
  const folders = [...new Set(files.map((file) => dirname(join(staging, file.path))))];
  await Promise.all(folders.map((folder) => mkdir(folder, { recursive: true, mode: 0o700 })));
  await Promise.all([
    ...files.map((file) => writeFile(join(staging, file.path), file.content, { mode: 0o600 })),
    rm(dir, { recursive: true, force: true }),
  ]);
  await rename(staging, dir);
}

/** The bundle's function files (under src/), relative to src/: what a spare is given. */
function sourceFiles(bundle: FunctionBundle): FunctionBundle['files'] {
  const prefix = `${SOURCE_DIR}/`;
  return bundle.files
    .filter((file) => file.path.startsWith(prefix))
    .map((file) => ({ path: file.path.slice(prefix.length), content: file.content }));
}

/** Whether a process of this pid runs (ours or another user's). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The nearest folder at or above `dir` that holds a package.json, or null. */
function packageJsonAbove(dir: string): string | null {
  for (let current = resolve(dir); ; current = dirname(current)) {
    if (existsSync(join(current, 'package.json'))) return current;
    if (dirname(current) === current) return null;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
