/**
 * Integration-test support: every test file gets its own control-plane database and NATS namespace on the
 * machine's real Postgres and NATS (DESIGN.md §5), so test files never see each other.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { migrate, quoteIdent, withDatabase } from '@vibe/platform';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new, migrated control-plane database. */
export async function createControlPlaneDatabase(prefix = 'vibe_test'): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  const url = withDatabase(PG_ADMIN_URL, name);
  await migrate(url);
  return { url, name, drop: () => dropDatabase(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
  } finally {
    await admin.end();
  }
}

/** Drops every database whose name starts with the prefix (environment databases of a test run). */
export async function dropDatabasesLike(prefix: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      "select datname from pg_database where datname like $1 || '%' and not datistemplate",
      [prefix],
    );
    for (const row of rows) await admin.query(`drop database if exists ${quoteIdent(row.datname)} with (force)`);
  } finally {
    await admin.end();
  }
}

/** A fresh NATS namespace and a function that deletes its streams afterwards. */
export function createNamespace(prefix = 't'): { namespace: string; cleanup(): Promise<void> } {
  const namespace = uniqueName(prefix);
  return {
    namespace,
    async cleanup() {
      const nc = await connect({ servers: NATS_URL });
      try {
        const jsm = await jetstreamManager(nc);
        for await (const info of jsm.streams.list()) {
          if (info.config.name.startsWith(`${namespace}_`) || info.config.name.startsWith(`KV_${namespace}_`)) {
            await jsm.streams.delete(info.config.name);
          }
        }
      } finally {
        await nc.close();
      }
    },
  };
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
