import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { PoolClient } from '@vibe/platform';
import { PermanentFailure } from '../../drivers/driver.js';
import { toJsonRows } from '../../drivers/local/json-rows.js';
import { asFailure } from '../../drivers/local/pg-errors.js';
import { transactionEndingStatement } from '../../drivers/local/sql-text.js';
import { advisorsQuery, toLintRows, type AdvisorType, type LintRow } from './advisors.js';
import { mintAnonKey } from './api-keys.js';
import { renderTypescriptTypes, TypesCatalog } from './typescript-types.js';
import { TYPES_CATALOG_SQL } from './typescript-types.sql.js';
import {
  LIST_EXTENSIONS_SQL,
  LIST_MIGRATIONS_SQL,
  LIST_TABLES_SQL,
  RECORD_MIGRATION_SQL,
  SYSTEM_SCHEMAS,
  USER_SCHEMAS_SQL,
} from './catalog.sql.js';
import {
  DEPLOY_FUNCTION_SQL,
  FUNCTION_COLUMNS,
  FUNCTIONS_STORE_SQL,
  JWT_SECRET_STORE_SQL,
  type FunctionRow,
} from './platform-store.sql.js';

/** Pooled connections to environment databases (the local driver's), handed back clean. */
export interface EnvironmentConnections {
  withEnvironment<T>(ref: string, work: (client: PoolClient) => Promise<T>): Promise<T>;
}

export interface LocalEnvironmentSettings {
  /** The URL of the local API, `{ref}` standing for the environment's ref. */
  apiUrlTemplate: string;
  /** A configured JWT secret for every environment; otherwise each environment keeps its own. */
  jwtSecret?: string;
  /** Told of each function version deployed (committed): the local API starts its worker ahead of its first request. */
  onFunctionDeployed?: (ref: string, slug: string) => void;
}

/** A table as pg-meta (and so the official server) describes it, before the tool reshapes it. */
export interface TableRow {
  schema: string;
  name: string;
  rls_enabled: boolean;
  rows: string | number;
  comment: string | null;
  columns: ColumnRow[];
  primary_keys: string[];
  foreign_key_constraints: Array<{
    name: string;
    source_table: string;
    source_columns: string[];
    target_table: string;
    target_columns: string[];
  }>;
}

export interface ColumnRow {
  name: string;
  data_type: string;
  format: string;
  is_identity: boolean;
  identity_generation: string | null;
  is_generated: boolean;
  is_nullable: boolean;
  is_updatable: boolean;
  is_unique: boolean;
  default_value: string | null;
  check: string | null;
  enums: string[];
  comment: string | null;
}

export interface DeployOptions {
  name: string;
  entrypointPath: string;
  importMapPath: string | undefined;
  verifyJwt: boolean;
  files: Array<{ name: string; content: string }>;
}

/** Advisory-lock class of the environment's own serialization ("vibe" in ASCII, as the driver's). */
const LOCK_CLASS = 0x76696265;
const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const IMPORT_MAP_FILES = ['deno.json', 'import_map.json'];

/**
 * What the local MCP server does inside one environment database: the Supabase platform's side of each tool
 * (the Management API's, in the cloud). Failures are PermanentFailures that name what went wrong, with the
 * SQLSTATE as code; an unreachable server passes through as the Postgres error, which is transient.
 */
export class LocalEnvironment {
  constructor(
    readonly ref: string,
    private readonly connections: EnvironmentConnections,
    private readonly settings: LocalEnvironmentSettings,
  ) {}

  async listTables(schemas: string[]): Promise<TableRow[]> {
    return this.query(`list_tables on ${this.ref}`, async (client) => {
      const wanted = schemas.length
        ? schemas
        : ((await client.query<{ schemas: string[] }>(USER_SCHEMAS_SQL, [SYSTEM_SCHEMAS])).rows[0]?.schemas ?? []);
      return (await client.query<TableRow>(LIST_TABLES_SQL, [wanted])).rows;
    });
  }

  async listExtensions(): Promise<Array<Record<string, unknown>>> {
    return this.query(
      `list_extensions on ${this.ref}`,
      async (client) => (await client.query<Record<string, unknown>>(LIST_EXTENSIONS_SQL)).rows,
    );
  }

  async listMigrations(): Promise<Array<{ version: string; name: string | null }>> {
    return this.query(`list_migrations on ${this.ref}`, async (client) => {
      return (await client.query<{ version: string; name: string | null }>(LIST_MIGRATIONS_SQL)).rows;
    });
  }

  /**
   * Applies a migration and records it in the migration ledger, in one transaction. A name already recorded
   * is not applied again (`applied: false`), decided under a lock, so two calls with one name apply it once.
   */
  async applyMigration(name: string, query: string): Promise<{ applied: boolean }> {
    const what = `apply_migration "${name}" on ${this.ref}`;
    return this.connections.withEnvironment(this.ref, (client) =>
      serialized(client, 'apply_migration', async () => {
        await client.query('begin');
        try {
          const done = await client.query(
            'select 1 from supabase_migrations.schema_migrations where name = $1 limit 1',
            [name],
          );
          if (done.rowCount) {
            await client.query('rollback');
            return { applied: false };
          }
          await client.query(query).catch((error: unknown) => {
            throw asFailure(error, what, query);
          });
          await client.query(RECORD_MIGRATION_SQL, [name, [query]]);
          await client.query('commit');
          return { applied: true };
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw asFailure(error, what);
        }
      }),
    );
  }

  /**
   * Runs SQL and returns the last statement's rows. Read only: in a read-only transaction that is rolled back,
   * and a query that would end that transaction is refused before it runs.
   */
  async executeSql(query: string, readOnly: boolean): Promise<Array<Record<string, unknown>>> {
    const what = `execute_sql on ${this.ref}`;
    if (readOnly) {
      const ending = transactionEndingStatement(query);
      if (ending) {
        throw new PermanentFailure(
          `${what} refused: a read-only query may not end its transaction, and "${ending}" would`,
          'read_only_violation',
        );
      }
    }
    return this.connections.withEnvironment(this.ref, async (client) => {
      // Read only: Postgres refuses writes in the transaction; the snapshot that `select 1` takes stops the
      // query switching it to read-write; the rollback undoes whatever got through anyway. Pinning
      // standard_conforming_strings makes the server read literals as transactionEndingStatement did.
      await client.query(
        readOnly ? 'begin transaction read only; set local standard_conforming_strings = on; select 1' : 'begin',
      );
      try {
        const result = await client.query(query).catch((error: unknown) => {
          throw asFailure(error, what, query);
        });
        await client.query(readOnly ? 'rollback' : 'commit');
        return toJsonRows(lastRows(result));
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw asFailure(error, what);
      }
    });
  }

  /** The advisor's lints of one type, run in a read-only transaction. */
  async advisors(type: AdvisorType): Promise<LintRow[]> {
    return this.connections.withEnvironment(this.ref, async (client) => {
      await client.query('begin transaction read only');
      try {
        const { rows } = await client.query<{
          lint: string;
          detail: string;
          metadata: Record<string, unknown>;
          cache_key: string;
        }>(advisorsQuery(type));
        await client.query('rollback');
        return toLintRows(rows);
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw asFailure(error, `get_advisors (${type}) on ${this.ref}`);
      }
    });
  }

  async listFunctions(): Promise<FunctionRow[]> {
    return this.query(`list_edge_functions on ${this.ref}`, async (client) => {
      if (!(await functionsStoreExists(client))) return [];
      const { rows } = await client.query<FunctionRow>(
        `select ${FUNCTION_COLUMNS} from supabase_functions.edge_functions order by slug`,
      );
      return rows;
    });
  }

  async getFunction(slug: string): Promise<FunctionRow & { files: Array<{ name: string; content: string }> }> {
    const row = await this.query(`get_edge_function "${slug}" on ${this.ref}`, async (client) => {
      if (!(await functionsStoreExists(client))) return undefined;
      const { rows } = await client.query<FunctionRow & { files: Array<{ name: string; content: string }> }>(
        `select ${FUNCTION_COLUMNS}, files from supabase_functions.edge_functions where slug = $1`,
        [slug],
      );
      return rows[0];
    });
    if (!row) throw new PermanentFailure(`Edge Function "${slug}" not found in ${this.ref}`, 'function_not_found');
    return row;
  }

  /**
   * Stores a new version of an Edge Function (the first creates it). The import map is the one given, else
   * the function's earlier one, else a deno.json or import_map.json among the files, as Supabase picks it.
   */
  async deployFunction(options: DeployOptions): Promise<FunctionRow> {
    const { name, entrypointPath, importMapPath, verifyJwt, files } = options;
    const what = `deploy_edge_function "${name}" on ${this.ref}`;
    if (!FUNCTION_NAME.test(name)) {
      throw new PermanentFailure(
        `${what} refused: a function name starts with a letter and holds letters, digits, "_" and "-" only`,
        'invalid_function_name',
      );
    }
    if (!files.length) throw new PermanentFailure(`${what} refused: no files`, 'invalid_function_files');
    if (!files.some((file) => file.name === entrypointPath)) {
      throw new PermanentFailure(
        `${what} refused: the entrypoint "${entrypointPath}" is not among the files (${files.map((f) => f.name).join(', ')})`,
        'invalid_function_files',
      );
    }
    const guessedImportMap = files.find((file) => IMPORT_MAP_FILES.includes(file.name))?.name ?? null;
    return this.connections
      .withEnvironment(this.ref, (client) =>
        serialized(client, 'deploy_edge_function', async () => {
          await client.query('begin');
          try {
            await client.query(FUNCTIONS_STORE_SQL);
            const { rows } = await client.query<FunctionRow>(DEPLOY_FUNCTION_SQL, [
              name,
              verifyJwt,
              entrypointPath,
              importMapPath ?? null,
              guessedImportMap,
              JSON.stringify(files),
            ]);
            await client.query('commit');
            return rows[0]!;
          } catch (error) {
            await client.query('rollback').catch(() => undefined);
            throw asFailure(error, what);
          }
        }),
      )
      .then((deployed) => {
        this.settings.onFunctionDeployed?.(this.ref, deployed.slug);
        return deployed;
      });
  }

  /**
   * TypeScript types of the schemas (`public` by default), as `supabase gen types typescript` writes them, from
   * the catalog read in a read-only transaction.
   */
  async typescriptTypes(schemas: string[] = ['public']): Promise<string> {
    return this.connections.withEnvironment(this.ref, async (client) => {
      await client.query('begin transaction read only');
      try {
        const { rows } = await client.query<{ catalog: unknown }>(TYPES_CATALOG_SQL, [schemas]);
        await client.query('rollback');
        return renderTypescriptTypes(TypesCatalog.parse(rows[0]?.catalog));
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw asFailure(error, `generate_typescript_types on ${this.ref}`);
      }
    });
  }

  projectUrl(): string {
    return this.settings.apiUrlTemplate.replaceAll('{ref}', encodeURIComponent(this.ref));
  }

  /** The anon key, signed with the configured secret or the environment's own (made on first use). */
  async anonKey(now: Date = new Date()): Promise<string> {
    return mintAnonKey(await this.jwtSecret(), this.ref, now);
  }

  /**
   * The secret that signs and verifies the environment's JWTs: the configured one, or the environment's own.
   * For the local API (src/edge-runtime) alone; never returned by a tool.
   */
  async jwtSecret(): Promise<string> {
    return this.settings.jwtSecret ?? (await this.environmentJwtSecret());
  }

  /**
   * The environment's JWT secret, kept in the environment database where only its owner reads it (the local
   * API will verify keys with it). Made on first use in a transaction of its own: it is the platform's
   * bookkeeping, not the caller's SQL, so a read-only server makes it as well.
   */
  private async environmentJwtSecret(): Promise<string> {
    return this.query(`get_publishable_keys on ${this.ref}`, async (client) => {
      const existing = await readJwtSecret(client);
      if (existing) return existing;
      await serialized(client, 'jwt_secret', async () => {
        await client.query('begin');
        try {
          await client.query(JWT_SECRET_STORE_SQL);
          await client.query('insert into vibe_platform.jwt_secret (secret) values ($1) on conflict (id) do nothing', [
            randomBytes(32).toString('base64url'),
          ]);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        }
      });
      const made = await readJwtSecret(client);
      if (!made) throw new Error(`the JWT secret of ${this.ref} was not stored`);
      return made;
    });
  }

  private async query<T>(what: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.connections.withEnvironment(this.ref, async (client) => {
      try {
        return await work(client);
      } catch (error) {
        throw asFailure(error, what);
      }
    });
  }
}

/**
 * Runs `work` (which begins and ends its own transaction) holding the environment's advisory lock `name`, taken
 * before the transaction begins: a transaction takes in the catalog changes others committed when it starts
 * (and when it locks a table, not when it gets an advisory lock), so one that began and then waited for the
 * lock would not see the schema the holder made, and its `create schema if not exists` would fail on it (two
 * deploys at once did). The lock is the session's, released here, and by `discard all` in any case.
 */
async function serialized<T>(client: PoolClient, name: string, work: () => Promise<T>): Promise<T> {
  await client.query('select pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, name]);
  try {
    return await work();
  } finally {
    // A connection that cannot unlock cannot `discard all` either, and is closed rather than reused.
    await client.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name]).catch(() => undefined);
  }
}

async function functionsStoreExists(client: PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select to_regclass('supabase_functions.edge_functions') is not null as ok`,
  );
  return rows[0]?.ok === true;
}

async function readJwtSecret(client: PoolClient): Promise<string | null> {
  const { rows } = await client.query<{ ok: boolean }>(
    `select to_regclass('vibe_platform.jwt_secret') is not null as ok`,
  );
  if (!rows[0]?.ok) return null;
  const secret = await client.query<{ secret: string }>('select secret from vibe_platform.jwt_secret');
  return secret.rows[0]?.secret ?? null;
}

/** A multi-statement query yields one result per statement; the rows are the last one's. */
function lastRows(result: pg.QueryResult | pg.QueryResult[]): Array<Record<string, unknown>> {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  return (last?.rows ?? []) as Array<Record<string, unknown>>;
}
