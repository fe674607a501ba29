import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectJetStream, migrate, quoteIdent, withDatabase, type JetStreamContext } from '@vibe/platform';
import { freePorts, SERVICES, startStack, type RunningStack, type ServiceProcess } from '../stack.js';

export interface ScratchOptions {
  adminUrl: string;
  natsUrl: string;
  /** Extra environment of every service. */
  env?: Record<string, string>;
  onLine?: (service: string, line: string) => void;
}

/**
 * The five services as processes on free ports, over a control-plane database, a NATS namespace and an
 * environment-database prefix of their own: a bench touches nothing of yours, and `close()` removes it all.
 */
export interface ScratchStack {
  stack: RunningStack;
  databaseUrl: string;
  namespace: string;
  envPrefix: string;
  jetstream: JetStreamContext;
  /** Every service process started so far (replicas included). */
  processes(): ServiceProcess[];
  startReplica(service: 'provisioner'): Promise<ServiceProcess>;
  /** Drops the environment databases made so far (not the branch template), to start the next bench clean. */
  dropEnvironments(): Promise<number>;
  close(): Promise<void>;
}

/** Limits of the gateway a bench runs into by design (one user starting 50 builds at once), lifted. */
export const BENCH_GATEWAY_ENV = {
  MAX_ACTIVE_BUILDS_PER_USER: '1000',
  RATE_LIMIT_ADDRESS_PER_MINUTE: '1000000',
  RATE_LIMIT_ADDRESS_BURST: '100000',
  RATE_LIMIT_USER_PER_MINUTE: '1000000',
  RATE_LIMIT_USER_BURST: '100000',
};

export async function startScratchStack(options: ScratchOptions): Promise<ScratchStack> {
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const database = `vibe_bench_${suffix}`;
  const namespace = `bench_${suffix}`;
  const envPrefix = `vibe_bn_${randomBytes(3).toString('hex')}_`;
  const databaseUrl = withDatabase(options.adminUrl, database);
  await migrate(databaseUrl);
  const ports = await freePorts(SERVICES.length);
  const replicas: ServiceProcess[] = [];
  let stack: RunningStack | undefined;
  let jetstream: JetStreamContext | undefined;
  const cleanUp = async () => {
    await jetstream?.nc.close().catch(() => undefined);
    await stack?.stop();
    await dropScratch(options, { database, envPrefix, namespace });
  };
  try {
    stack = await startStack({
      env: {
        ...BENCH_GATEWAY_ENV,
        ...options.env,
        DATABASE_URL: databaseUrl,
        NATS_URL: options.natsUrl,
        NATS_NAMESPACE: namespace,
        ENV_DATABASE_URL: options.adminUrl,
        ENV_DB_PREFIX: envPrefix,
        DRIFT_SCHEDULE: 'off',
        LOG_LEVEL: options.env?.LOG_LEVEL ?? 'warn',
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]!])),
      onLine: options.onLine,
      readyTimeoutMs: 60_000,
    });
    jetstream = await connectJetStream(options.natsUrl, namespace, 'bench');
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const running = stack;
  return {
    stack: running,
    databaseUrl,
    namespace,
    envPrefix,
    jetstream,
    processes: () => [...SERVICES.map((service) => running.process(service)), ...replicas],
    async startReplica(service) {
      const replica = await running.startReplica(service);
      replicas.push(replica);
      return replica;
    },
    async dropEnvironments() {
      const admin = new pg.Client({ connectionString: options.adminUrl });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ datname: string }>(
          `select datname from pg_database where datname like $1 || '%' and datname not like $1 || 'template%'`,
          [envPrefix],
        );
        for (const row of rows) await admin.query(`drop database if exists ${quoteIdent(row.datname)} with (force)`);
        return rows.length;
      } finally {
        await admin.end();
      }
    },
    close: cleanUp,
  };
}

/**
 * Removes what a benchmark made: its control-plane database, the environment databases named by its prefix,
 * and the streams and buckets of its NATS namespace.
 */
export async function dropScratch(
  urls: { adminUrl: string; natsUrl: string },
  scratch: { database: string; envPrefix: string; namespace: string },
): Promise<void> {
  const admin = new pg.Client({ connectionString: urls.adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `select datname from pg_database where datname = $1 or datname like $2 || '%'`,
      [scratch.database, scratch.envPrefix],
    );
    for (const row of rows) await admin.query(`drop database if exists ${quoteIdent(row.datname)} with (force)`);
  } finally {
    await admin.end();
  }
  const jetstream = await connectJetStream(urls.natsUrl, scratch.namespace, 'bench-cleanup');
  try {
    for await (const info of jetstream.jsm.streams.list()) {
      const name = info.config.name;
      if (name.startsWith(`${scratch.namespace}_`) || name.startsWith(`KV_${scratch.namespace}_`))
        await jetstream.jsm.streams.delete(name);
    }
  } finally {
    await jetstream.nc.close();
  }
}
