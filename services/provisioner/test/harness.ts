/**
 * A provisioner running in this process against the machine's real Postgres and NATS, each test file with
 * its own control-plane database, NATS namespace and environment-database prefix (DESIGN.md §5).
 */
import 'reflect-metadata';
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  BuildEvent,
  newId,
  ProvisionCommand,
  ProvisionResult,
  type BuildEventType,
  type EnvironmentMode,
  type ProvisionCommandOf,
} from '@vibe/contracts';
import { connectJetStream, decodeJson, publishJson, withDatabase, type JetStreamContext } from '@vibe/platform';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import pg from 'pg';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  NATS_URL,
  PG_ADMIN_URL,
  uniqueName,
  type TestDatabase,
} from '../../../test/support/index.js';
import { loadProvisionerConfig, type ProvisionerConfig } from '../src/config.js';
import { ProvisionerModule } from '../src/provisioner.module.js';

export interface Provisioner {
  readonly config: ProvisionerConfig;
  readonly app: NestFastifyApplication;
  /** A client connection of the test's own, in the provisioner's namespace. */
  readonly client: JetStreamContext;
  readonly controlPlane: TestDatabase;
  readonly prefix: string;
  /** Publishes a command (Nats-Msg-Id = its id unless given) and waits for its result. */
  send(command: ProvisionCommand, msgID?: string): Promise<ProvisionResult>;
  /** Publishes the same message under several Nats-Msg-Ids and collects every result published for it. */
  sendCopies(command: ProvisionCommand, msgIDs: string[]): Promise<ProvisionResult[]>;
  /** A connection of the test's own to an environment database, as the admin user. */
  inEnvironment<T>(ref: string, work: (db: pg.Client) => Promise<T>): Promise<T>;
  controlPlaneQuery<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** How many events of one type the stream holds for a session, and the last of them. */
  events(sessionId: string, type: BuildEventType): Promise<{ count: number; last: BuildEvent | null }>;
  /** Every event the stream holds for a session, in stream order. */
  sessionEvents(sessionId: string): Promise<BuildEvent[]>;
  close(): Promise<void>;
}

export async function startProvisioner(
  env: Record<string, string> = {},
  options: { logger?: LoggerService } = {},
): Promise<Provisioner> {
  const controlPlane = await createControlPlaneDatabase('vibe_test_prov');
  const namespace = createNamespace('prov');
  const prefix = `${uniqueName('pv')}_`;
  const config = loadProvisionerConfig({
    DATABASE_URL: controlPlane.url,
    NATS_URL,
    NATS_NAMESPACE: namespace.namespace,
    ENV_DATABASE_URL: PG_ADMIN_URL,
    ENV_DB_PREFIX: prefix,
    PORT: '0',
    // The local API (Edge Functions, REST) on a free port, so test files running at once do not collide.
    ENV_API_URL: 'http://127.0.0.1:0/env/{ref}',
    ...env,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    ProvisionerModule.forRoot(config),
    new FastifyAdapter(),
    { logger: options.logger ?? ['error'] },
  );
  await app.listen(0, '127.0.0.1');
  const client = await connectJetStream(NATS_URL, namespace.namespace, 'provisioner-test');

  const collect = async (command: ProvisionCommand, msgIDs: string[], timeoutMs = 60_000) => {
    const subscription = client.nc.subscribe(client.topology.subjects.provisionResult(command.commandId), {
      max: msgIDs.length,
      timeout: timeoutMs,
    });
    const subject = client.topology.subjects.provisionCommand(command.tool);
    for (const msgID of msgIDs) await publishJson(client, subject, command, msgID);
    const results: ProvisionResult[] = [];
    for await (const msg of subscription) results.push(ProvisionResult.parse(decodeJson(msg.data)));
    return results;
  };

  return {
    config,
    app,
    client,
    controlPlane,
    prefix,
    async send(command, msgID = command.commandId) {
      const [result] = await collect(command, [msgID]);
      return result!;
    },
    sendCopies: (command, msgIDs) => collect(command, msgIDs),
    async inEnvironment(ref, work) {
      const db = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, ref) });
      await db.connect();
      try {
        return await work(db);
      } finally {
        await db.end();
      }
    },
    async controlPlaneQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
      const db = new pg.Client({ connectionString: controlPlane.url });
      await db.connect();
      try {
        return (await db.query<R>(sql, params)).rows;
      } finally {
        await db.end();
      }
    },
    async events(sessionId, type) {
      const stream = client.topology.streams.events;
      const subject = client.topology.subjects.event(sessionId, type);
      const info = await client.jsm.streams.info(stream, { subjects_filter: subject });
      const count = info.state.subjects?.[subject] ?? 0;
      const stored = count ? await client.jsm.streams.getMessage(stream, { last_by_subj: subject }) : null;
      return { count, last: stored ? BuildEvent.parse(stored.json()) : null };
    },
    sessionEvents: (sessionId) => readEvents(client, client.topology.subjects.sessionEvents(sessionId)),
    async close() {
      await app.close();
      await client.nc.close();
      await namespace.cleanup();
      await controlPlane.drop();
      await dropDatabasesLike(prefix);
    },
  };
}

/**
 * Every event of the events stream on `subject` (a wildcard subject too), in stream order: an ephemeral
 * consumer with one filter subject (NATS 2.9 takes one), read to its end and deleted.
 */
export async function readEvents(client: JetStreamContext, subject: string): Promise<BuildEvent[]> {
  const stream = client.topology.streams.events;
  const info = await client.jsm.consumers.add(stream, {
    filter_subject: subject,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    inactive_threshold: nanos(60_000),
  });
  try {
    const consumer = await client.js.consumers.get(stream, info.name);
    const events: BuildEvent[] = [];
    while (events.length < info.num_pending) {
      const batch = await consumer.fetch({
        max_messages: Math.min(1000, info.num_pending - events.length),
        expires: 5000,
      });
      let received = 0;
      for await (const msg of batch) {
        events.push(BuildEvent.parse(msg.json()));
        received++;
      }
      if (!received) throw new Error(`read ${events.length} of ${info.num_pending} events on ${subject}`);
    }
    return events;
  } finally {
    await client.jsm.consumers.delete(stream, info.name).catch(() => undefined);
  }
}

/** Factories of provision commands: a fresh command id each time. */
export const commands = {
  createEnvironment: (sessionId: string, mode: EnvironmentMode): ProvisionCommandOf<'create_environment'> => ({
    version: 1,
    tool: 'create_environment',
    commandId: newId(),
    sessionId,
    mode,
  }),
  applyMigration: (
    sessionId: string,
    environmentRef: string,
    name: string,
    query: string,
  ): ProvisionCommandOf<'apply_migration'> => ({
    version: 1,
    tool: 'apply_migration',
    commandId: newId(),
    sessionId,
    environmentRef,
    name,
    query,
  }),
  listTables: (sessionId: string, environmentRef: string, schemas = ['public']): ProvisionCommandOf<'list_tables'> => ({
    version: 1,
    tool: 'list_tables',
    commandId: newId(),
    sessionId,
    environmentRef,
    schemas,
  }),
  executeSql: (
    sessionId: string,
    environmentRef: string,
    query: string,
    readOnly = true,
  ): ProvisionCommandOf<'execute_sql'> => ({
    version: 1,
    tool: 'execute_sql',
    commandId: newId(),
    sessionId,
    environmentRef,
    query,
    readOnly,
  }),
};

/** Any provision command with a fresh id: `inEnvironment(sessionId, ref, { tool: 'get_advisors', type })`. */
export function inEnvironment<
  R extends Omit<ProvisionCommand, 'version' | 'commandId' | 'sessionId' | 'environmentRef'>,
>(sessionId: string, environmentRef: string, request: R): ProvisionCommandOf<R['tool']> {
  return ProvisionCommand.parse({
    ...request,
    version: 1,
    commandId: newId(),
    sessionId,
    environmentRef,
  }) as ProvisionCommandOf<R['tool']>;
}

/** The output of a result that must have succeeded (a failure fails the test with its message). */
export function outputOf(result: ProvisionResult): unknown {
  if (!result.ok) throw new Error(`${result.tool} failed: ${result.error.message}`);
  return result.output;
}
