import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { databaseName, pgErrorCode, quoteIdent, withDatabase } from './db.js';

/** Where the control-plane migrations live: `db/migrations` at the repository root. */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, '../../../db/migrations');

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  database: string;
  applied: string[];
  alreadyApplied: string[];
}

// Arbitrary but fixed: the advisory lock every migrating process takes, so two at once apply each file once.
const MIGRATION_LOCK_KEY = 7_316_402_118;

export async function readMigrations(dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(path.join(dir, file), 'utf8');
      return {
        version: file.slice(0, 4),
        name: file.replace(/\.sql$/, ''),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    }),
  );
}

/** Creates the database named by the URL when it does not exist; safe when several processes race. */
export async function ensureDatabase(connectionString: string): Promise<void> {
  const name = databaseName(connectionString);
  const admin = new pg.Client({ connectionString: withDatabase(connectionString, 'postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return;
    await admin.query(`create database ${quoteIdent(name)}`);
  } catch (error) {
    // 42P04 duplicate_database, 23505: another process created it between our check and our create.
    if (pgErrorCode(error) !== '42P04' && pgErrorCode(error) !== '23505') throw error;
  } finally {
    await admin.end();
  }
}

/**
 * Applies every migration not yet in the ledger, each in its own transaction, under an advisory lock.
 * A file whose content changed after it was applied is an error: merged migrations are never edited.
 */
export async function migrate(connectionString: string, dir = DEFAULT_MIGRATIONS_DIR): Promise<MigrationReport> {
  await ensureDatabase(connectionString);
  const migrations = await readMigrations(dir);
  const client = new pg.Client({ connectionString, application_name: 'vibe-migrate' });
  await client.connect();
  const report: MigrationReport = { database: databaseName(connectionString), applied: [], alreadyApplied: [] };
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`
      create table if not exists public.control_plane_migrations (
        version text primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`);
    await client.query('alter table public.control_plane_migrations enable row level security');
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'select version, checksum from public.control_plane_migrations',
    );
    const done = new Map(rows.map((row) => [row.version, row.checksum]));
    for (const migration of migrations) {
      const checksum = done.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(`migration ${migration.name} changed after it was applied; add a new migration instead`);
        }
        report.alreadyApplied.push(migration.name);
        continue;
      }
      await client.query('begin');
      try {
        await client.query(migration.sql);
        await client.query(
          'insert into public.control_plane_migrations (version, name, checksum) values ($1, $2, $3)',
          [migration.version, migration.name, migration.checksum],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw new Error(
          `migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`,
          {
            cause: error,
          },
        );
      }
      report.applied.push(migration.name);
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return report;
}
