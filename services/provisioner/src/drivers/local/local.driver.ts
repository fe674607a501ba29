import { Inject, Injectable, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { EnvironmentInfo, ProvisionCommand, ProvisionCommandOf, ProvisionOutput } from '@vibe/contracts';
import { createPool, pgErrorCode, quoteIdent, withDatabase, type Pool, type PoolClient } from '@vibe/platform';
import { CommandActivity, SPARE_REFILL_MAX_WAIT_MS, SPARE_REFILL_QUIET_MS } from '../../activity.js';
import { PROVISIONER_CONFIG, type ProvisionerConfig } from '../../config.js';
import { PermanentFailure, type EnvironmentDriver } from '../driver.js';
import { ConnectionBudget } from './connection-budget.js';
import { CLUSTER_ROLES_SQL, ENVIRONMENT_BOOTSTRAP_SQL } from './bootstrap.sql.js';
import {
  bootstrapFingerprint,
  environmentDatabaseName,
  environmentMarker,
  environmentRefProblem,
  isTemplateReady,
  parseEnvironmentMarker,
  serverAddress,
  spareDatabasePattern,
  spareDatabaseName,
  templateDatabaseName,
  templateMarker,
  type EnvironmentMarker,
} from './naming.js';
import { asFailure } from './pg-errors.js';

const APPLICATION_NAME = 'vibe-provisioner';
/** First key of every advisory lock the driver takes ("vibe" in ASCII); the second is hashtext(name). */
const LOCK_CLASS = 0x76696265;
/** An environment connection unused this long is closed. */
const ENVIRONMENT_IDLE_MS = 10_000;
/** A clone finds its template busy while anything is connected to it; that passes within milliseconds. */
const CLONE_ATTEMPTS = 8;
/** After a failed refill of spare databases, the next one waits this long. */
const SPARE_RETRY_MS = 5_000;

/**
 * The local driver (DESIGN.md §3): one database per session on a Postgres server, bootstrapped to look like
 * a Supabase project. "branch" clones a prepared template database; "project" bootstraps an empty one.
 *
 * The admin connection (ENV_DATABASE_URL) creates databases; connections to the environments share one budget
 * (ENV_MAX_CONNECTIONS), the least recently used idle one closed first when another environment needs it.
 * Locks that must hold across provisioner replicas are advisory locks on the admin database.
 */
@Injectable()
export class LocalDriver implements EnvironmentDriver, BeforeApplicationShutdown {
  readonly kind = 'local';
  private readonly admin: Pool;
  private readonly connections: ConnectionBudget<pg.Client>;
  /** Environments seen finished (marked by create_environment): not looked up again. */
  private readonly known = new Set<string>();
  /** Connections whose server side is gone (an `error` event while idle): closed, not reused. */
  private readonly broken = new WeakSet<pg.Client>();
  private readonly server: { host: string; port: number };
  private readonly fingerprint = bootstrapFingerprint(ENVIRONMENT_BOOTSTRAP_SQL);
  private readonly template: string;
  /**
   * Where the local API serves environments (`{ref}` standing for the ref): ENV_API_URL until the local API
   * says which port it really listens on (ENV_API_URL's port 0, or a taken one).
   */
  private apiUrlTemplate: () => Promise<string> = () => Promise.resolve(this.config.ENV_API_URL);
  private rolesReady: Promise<void> | undefined;
  private templateReady: Promise<void> | undefined;
  /** The refill of spare databases under way, if any. */
  private refilling: Promise<void> | undefined;
  private spareRetryAt = 0;
  /** Cancels the refill waiting for a quiet moment, if any. */
  private refillPending: (() => void) | undefined;
  private shuttingDown = false;

  constructor(
    @Inject(PROVISIONER_CONFIG) private readonly config: ProvisionerConfig,
    /** When spares are replaced: once the provisioner's commands leave it a quiet moment. */
    @Optional() @Inject(CommandActivity) private readonly activity: CommandActivity = new CommandActivity(),
  ) {
    this.admin = createPool(config.ENV_DATABASE_URL, APPLICATION_NAME, 4);
    this.server = serverAddress(config.ENV_DATABASE_URL);
    this.template = templateDatabaseName(config.ENV_DB_PREFIX, ENVIRONMENT_BOOTSTRAP_SQL);
    this.connections = new ConnectionBudget<pg.Client>({
      max: config.ENV_MAX_CONNECTIONS,
      idleMs: ENVIRONMENT_IDLE_MS,
      open: (ref) => this.connect(ref),
      close: (client) => client.end(),
    });
  }

  /** The local API tells the driver the URL it serves (src/edge-runtime/local-api.server.ts). */
  serveApiAt(template: () => Promise<string>): void {
    this.apiUrlTemplate = template;
  }

  targetOf(command: ProvisionCommand): string | null {
    return command.tool === 'create_environment' || command.tool === 'delete_environment'
      ? environmentDatabaseName(this.config.ENV_DB_PREFIX, command.sessionId)
      : command.environmentRef;
  }

  async createEnvironment(
    command: ProvisionCommandOf<'create_environment'>,
  ): Promise<ProvisionOutput<'create_environment'>> {
    const what = `create_environment (${command.mode}) of ${this.targetOf(command)}`;
    try {
      return await this.createEnvironmentOnce(command);
    } catch (error) {
      // 3D000 on a clone: the template was dropped behind our back. Build it again, once.
      if (command.mode !== 'branch' || pgErrorCode(error) !== '3D000') throw asFailure(error, what);
      this.templateReady = undefined;
      return this.createEnvironmentOnce(command).catch((again: unknown) => {
        throw asFailure(again, what);
      });
    }
  }

  /**
   * Drops the session's database (`with (force)`: connections to it, ours included, are ended). Only the
   * database that create_environment made for this session can be named; one already gone is not an error.
   * Serialized with create_environment of the same environment by their shared lock.
   */
  async deleteEnvironment(
    command: ProvisionCommandOf<'delete_environment'>,
  ): Promise<ProvisionOutput<'delete_environment'>> {
    const ref = environmentDatabaseName(this.config.ENV_DB_PREFIX, command.sessionId);
    if (command.environmentRef !== null && command.environmentRef !== ref) {
      throw new PermanentFailure(
        `environment ref "${command.environmentRef.slice(0, 80)}" is not the environment of session ${command.sessionId}`,
        'invalid_environment_ref',
      );
    }
    try {
      return await this.withAdminLock(`environment:${ref}`, async (admin) => {
        this.known.delete(ref);
        this.connections.forget(ref);
        if (!(await databaseState(admin, ref))) return { ref, deleted: false };
        await admin.query(`drop database if exists ${quoteIdent(ref)} with (force)`);
        return { ref, deleted: true };
      });
    } catch (error) {
      throw asFailure(error, `delete_environment of ${ref}`);
    }
  }

  private async createEnvironmentOnce(
    command: ProvisionCommandOf<'create_environment'>,
  ): Promise<ProvisionOutput<'create_environment'>> {
    const ref = environmentDatabaseName(this.config.ENV_DB_PREFIX, command.sessionId);
    await this.ensureRoles();
    if (command.mode === 'branch') await this.ensureTemplate();
    return this.withAdminLock(`environment:${ref}`, async (admin) => {
      const apiUrl = (await this.apiUrlTemplate()).replaceAll('{ref}', encodeURIComponent(ref));
      const state = await databaseState(admin, ref);
      const existing = parseEnvironmentMarker(state?.comment);
      if (existing) return { environment: this.environmentInfo(ref, existing, apiUrl) };
      let bootstrapped = false;
      if (!state) {
        if (command.mode === 'branch') {
          // A spare clone made ahead of time is renamed (well under a millisecond) rather than cloned now
          // (tens of milliseconds, the longest part of create_environment).
          if (!(await this.takeSpare(admin, ref))) await this.cloneTemplate(admin, ref);
          this.refillSoon();
          bootstrapped = true;
        } else {
          await admin.query(`create database ${quoteIdent(ref)}`);
        }
      }
      // A project starts empty; a database that a crash left unfinished is finished here.
      if (!bootstrapped && !(await this.isBootstrapped(ref))) await this.bootstrap(ref);
      const marker: EnvironmentMarker = { mode: command.mode, createdAt: new Date().toISOString() };
      // Database settings are not copied from a template, so every environment gets its own.
      await admin.query(`alter database ${quoteIdent(ref)} set search_path to "$user", public, extensions`);
      await admin.query(`comment on database ${quoteIdent(ref)} is ${admin.escapeLiteral(environmentMarker(marker))}`);
      return { environment: this.environmentInfo(ref, marker, apiUrl) };
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    this.refillPending?.();
    await this.refilling;
    await Promise.allSettled([this.connections.close(), this.admin.end()]);
  }

  /**
   * Renames a spare clone of the template to `ref`, or returns false when there is none. Spares are shared by
   * the replicas: one that another replica renamed first is gone (3D000) and the next is tried.
   */
  private async takeSpare(admin: PoolClient, ref: string): Promise<boolean> {
    if (this.config.ENV_SPARE_DATABASES === 0) return false;
    const { rows } = await admin.query<{ datname: string }>(
      'select datname from pg_database where datname ~ $1 order by oid',
      [spareDatabasePattern(this.config.ENV_DB_PREFIX, this.fingerprint)],
    );
    for (const { datname } of rows) {
      try {
        // Renames of one database by two sessions at once fail ("tuple concurrently updated"): takers take
        // turns (a transaction lock), and the one that comes second finds the spare gone (3D000).
        await admin.query(
          `select pg_advisory_xact_lock(${LOCK_CLASS}, hashtext('spares'));
           alter database ${quoteIdent(datname)} rename to ${quoteIdent(ref)};
           alter database ${quoteIdent(ref)} with allow_connections true`,
        );
        return true;
      } catch (error) {
        // Taken by another replica (3D000), or visited right now (55006): the next one.
        if (!['3D000', '55006'].includes(pgErrorCode(error) ?? '')) throw error;
      }
    }
    return false;
  }

  /**
   * Replaces taken spares once no command has run for SPARE_REFILL_QUIET_MS (at most SPARE_REFILL_MAX_WAIT_MS
   * later), not while the build that took one goes on: a clone is 80-100 ms of Postgres' CPU.
   */
  private refillSoon(): void {
    if (this.refillPending || this.config.ENV_SPARE_DATABASES === 0) return;
    this.refillPending = this.activity.whenQuiet(SPARE_REFILL_QUIET_MS, SPARE_REFILL_MAX_WAIT_MS, () => {
      this.refillPending = undefined;
      this.refillSpares();
    });
  }

  /**
   * Keeps ENV_SPARE_DATABASES clones of the template ready, made in the background after a branch is
   * created. A spare accepts no connection (autovacuum's neither) until it becomes an environment, so renaming
   * it never finds it busy. Spares of an older bootstrap are dropped.
   */
  private refillSpares(): void {
    const wanted = this.config.ENV_SPARE_DATABASES;
    if (wanted === 0 || this.refilling || this.shuttingDown || Date.now() < this.spareRetryAt) return;
    this.refilling = (async () => {
      const admin = await this.admin.connect();
      let broken = false;
      try {
        const { rows } = await admin.query<{ datname: string; ready: boolean }>(
          'select datname, datname ~ $2 as ready from pg_database where datname ~ $1',
          [
            spareDatabasePattern(this.config.ENV_DB_PREFIX),
            spareDatabasePattern(this.config.ENV_DB_PREFIX, this.fingerprint),
          ],
        );
        // Of an older bootstrap: never taken again. (Spares being made now, by us or a replica, are current.)
        const current = `${this.template}_`;
        for (const stale of rows.filter((row) => !row.datname.startsWith(current))) {
          await admin.query(`drop database if exists ${quoteIdent(stale.datname)} with (force)`);
        }
        let count = rows.filter((row) => row.ready).length;
        while (count < wanted && !this.shuttingDown) {
          // Made under a name no taker looks for, and renamed once it takes no connection.
          const suffix = randomBytes(6).toString('hex');
          const making = spareDatabaseName(this.config.ENV_DB_PREFIX, this.fingerprint, suffix, 'making');
          await this.cloneTemplate(admin, making);
          await admin.query(
            `alter database ${quoteIdent(making)} with allow_connections false;
             alter database ${quoteIdent(making)} rename to ${quoteIdent(spareDatabaseName(this.config.ENV_DB_PREFIX, this.fingerprint, suffix))}`,
          );
          count++;
        }
      } catch {
        broken = true;
        // Builds clone on demand meanwhile; the next branch tries again after a pause.
        this.spareRetryAt = Date.now() + SPARE_RETRY_MS;
      } finally {
        admin.release(broken);
        this.refilling = undefined;
      }
    })();
  }

  /**
   * `apiUrl` is what supabase-js is created with for this environment: the local API serves
   * `<apiUrl>/functions/v1/<slug>` and `<apiUrl>/rest/v1/rpc/<fn>` (the same URL get_project_url answers).
   */
  private environmentInfo(ref: string, marker: EnvironmentMarker, apiUrl: string): EnvironmentInfo {
    return {
      driver: 'local',
      mode: marker.mode,
      ref,
      database: ref,
      host: this.server.host,
      port: this.server.port,
      apiUrl,
      createdAt: marker.createdAt,
    };
  }

  /** The API roles are cluster-wide: made once per process, under a lock shared with the other replicas. */
  private ensureRoles(): Promise<void> {
    this.rolesReady ??= this.withAdminLock('roles', async (admin) => {
      await admin.query(CLUSTER_ROLES_SQL);
    }).catch((error: unknown) => {
      this.rolesReady = undefined;
      throw error;
    });
    return this.rolesReady;
  }

  /** The template of "branch" environments: built once per bootstrap version, by one replica. */
  private ensureTemplate(): Promise<void> {
    this.templateReady ??= this.withAdminLock(`template:${this.template}`, async (admin) => {
      const state = await databaseState(admin, this.template);
      if (state && isTemplateReady(state.comment, this.fingerprint)) return;
      // Left unfinished by a crash: nobody clones an unmarked template, so it can go.
      if (state) await admin.query(`drop database ${quoteIdent(this.template)} with (force)`);
      await admin.query(`create database ${quoteIdent(this.template)}`);
      await this.bootstrap(this.template);
      // Nothing connects to the template from now on (autovacuum neither), so clones do not find it busy.
      await admin.query(`alter database ${quoteIdent(this.template)} with allow_connections false`);
      await admin.query(
        `comment on database ${quoteIdent(this.template)} is ${admin.escapeLiteral(templateMarker(this.fingerprint))}`,
      );
    }).catch((error: unknown) => {
      this.templateReady = undefined;
      throw error;
    });
    return this.templateReady;
  }

  private async cloneTemplate(admin: PoolClient, ref: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`create database ${quoteIdent(ref)} template ${quoteIdent(this.template)}`);
        return;
      } catch (error) {
        // 55006: "source database is being accessed by other users", a passing state.
        if (pgErrorCode(error) !== '55006' || attempt >= CLONE_ATTEMPTS) throw error;
        await sleep(25 * attempt);
      }
    }
  }

  private async isBootstrapped(database: string): Promise<boolean> {
    return this.withDatabaseClient(database, async (client) => {
      const { rows } = await client.query<{ ok: boolean }>(
        `select to_regclass('supabase_migrations.schema_migrations') is not null as ok`,
      );
      return rows[0]?.ok === true;
    });
  }

  /** All of the bootstrap or none of it: one transaction. */
  private async bootstrap(database: string): Promise<void> {
    await this.withDatabaseClient(database, async (client) => {
      await client.query('begin');
      try {
        await client.query(ENVIRONMENT_BOOTSTRAP_SQL);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  /** A short-lived connection, for databases that must not keep one open (a template, a bootstrap). */
  private async withDatabaseClient<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({
      connectionString: withDatabase(this.config.ENV_DATABASE_URL, database),
      application_name: APPLICATION_NAME,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Runs `work` on the admin connection while holding a named advisory lock. */
  private async withAdminLock<T>(name: string, work: (admin: PoolClient) => Promise<T>): Promise<T> {
    const admin = await this.admin.connect();
    try {
      await admin.query('select pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS, name]);
    } catch (error) {
      admin.release(true);
      throw error;
    }
    let broken = false;
    try {
      return await work(admin);
    } finally {
      await admin.query('select pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS, name]).catch(() => {
        // A connection that may still hold the lock must not go back to the pool.
        broken = true;
      });
      admin.release(broken);
    }
  }

  /**
   * A connection to an environment (from the shared budget), given back clean whatever the caller's SQL did to
   * its session: what the local MCP server works with (src/mcp/local).
   */
  async withEnvironment<T>(ref: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    await this.checkEnvironment(ref);
    let client: pg.Client;
    for (;;) {
      try {
        client = await this.connections.acquire(ref);
      } catch (error) {
        if (pgErrorCode(error) !== '3D000') throw error;
        this.known.delete(ref);
        this.connections.forget(ref);
        throw new PermanentFailure(`environment "${ref}" does not exist`, 'environment_not_found');
      }
      if (!this.broken.has(client)) break;
      this.connections.release(ref, client, false);
    }
    let reusable = true;
    try {
      // A pg.Client does what the callers use of a PoolClient (query); release is the budget's.
      return await work(client as PoolClient);
    } finally {
      await client.query('discard all').catch(() => {
        reusable = false;
      });
      this.connections.release(ref, client, reusable && !this.broken.has(client));
    }
  }

  private async connect(ref: string): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: withDatabase(this.config.ENV_DATABASE_URL, ref),
      application_name: APPLICATION_NAME,
      // Catalog queries (types, list_tables, verification, drift) look expensive to the planner and JIT
      // compiling them took 95% of their time (140 ms of 146 ms for the types catalog). A startup option, so
      // `discard all` keeps it.
      options: '-c jit=off',
    });
    // The server ending an idle connection (a dropped database, a restart) must not crash the process.
    client.on('error', () => this.broken.add(client));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private async checkEnvironment(ref: string): Promise<void> {
    const problem = environmentRefProblem(this.config.ENV_DB_PREFIX, ref);
    if (problem) throw new PermanentFailure(problem, 'invalid_environment_ref');
    if (this.known.has(ref)) return;
    const state = await databaseState(this.admin, ref);
    if (!state || !parseEnvironmentMarker(state.comment)) {
      throw new PermanentFailure(
        `environment "${ref}" does not exist (no finished create_environment made it)`,
        'environment_not_found',
      );
    }
    this.known.add(ref);
  }
}

async function databaseState(db: Pool | PoolClient, name: string): Promise<{ comment: string | null } | null> {
  const { rows } = await db.query<{ comment: string | null }>(
    `select shobj_description(oid, 'pg_database') as comment from pg_database where datname = $1`,
    [name],
  );
  return rows[0] ?? null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
