/**
 * The local MCP server as the provisioner reaches it, without the service around it: a LocalDriver on the
 * machine's real Postgres (its own environment-database prefix per test file), environments made by its
 * create_environment, and sessions opened by the real LocalMcpConnector (SDK Client and Server in process).
 */
import 'reflect-metadata';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { newId, type EnvironmentMode } from '@vibe/contracts';
import pg from 'pg';
import { dropDatabasesLike, PG_ADMIN_URL, uniqueName } from '../../../test/support/index.js';
import { withDatabase } from '@vibe/platform';
import { loadProvisionerConfig, type ProvisionerConfig } from '../src/config.js';
import { LocalDriver } from '../src/drivers/local/local.driver.js';
import { LocalMcpConnector } from '../src/mcp/local/local-mcp.connector.js';
import type { McpSession, ServerMode } from '../src/mcp/mcp-session.js';
import { readToolResult, type ToolOutcome } from '../src/mcp/tool-result.js';

export interface LocalMcp {
  readonly config: ProvisionerConfig;
  readonly driver: LocalDriver;
  readonly connector: LocalMcpConnector;
  readonly prefix: string;
  /** A new environment ("branch" unless told), its ref. */
  createEnvironment(mode?: EnvironmentMode): Promise<string>;
  /** A session with the environment's server; closed by close(). */
  open(ref: string, mode: ServerMode): Promise<McpSession>;
  /** A connection of the test's own to an environment database, as the admin user. */
  inEnvironment<T>(ref: string, work: (db: pg.Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function startLocalMcp(env: Record<string, string> = {}): Promise<LocalMcp> {
  const prefix = `${uniqueName('pm')}_`;
  const config = loadProvisionerConfig({ ENV_DATABASE_URL: PG_ADMIN_URL, ENV_DB_PREFIX: prefix, ...env });
  const driver = new LocalDriver(config);
  const connector = new LocalMcpConnector(driver, {
    apiUrlTemplate: config.ENV_API_URL,
    jwtSecret: config.ENV_JWT_SECRET,
  });
  const sessions: McpSession[] = [];
  return {
    config,
    driver,
    connector,
    prefix,
    async createEnvironment(mode = 'branch') {
      const { environment } = await driver.createEnvironment({
        version: 1,
        tool: 'create_environment',
        commandId: newId(),
        sessionId: newId(),
        mode,
      });
      return environment.ref;
    },
    async open(ref, mode) {
      const session = await connector.open(ref, mode);
      sessions.push(session);
      return session;
    },
    async inEnvironment(ref, work) {
      const db = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, ref) });
      await db.connect();
      try {
        return await work(db);
      } finally {
        await db.end();
      }
    },
    async close() {
      await Promise.allSettled(sessions.map((session) => session.close()));
      await driver.beforeApplicationShutdown();
      await dropDatabasesLike(prefix);
    },
  };
}

/** Calls a tool and reads its result as the provisioner does. */
export async function callTool(
  session: McpSession,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ raw: CallToolResult; outcome: ToolOutcome }> {
  const raw = await session.callTool(name, args);
  return { raw, outcome: readToolResult(raw) };
}

/** The value of a call that must have succeeded (a failure fails the test with its message). */
export async function valueOf<T = Record<string, unknown>>(
  session: McpSession,
  name: string,
  args: Record<string, unknown> = {},
): Promise<T> {
  const { outcome } = await callTool(session, name, args);
  if (!outcome.ok) throw new Error(`${name} failed: ${outcome.error.message}`);
  return outcome.value as T;
}

/** The error of a call that must have failed. */
export async function errorOf(
  session: McpSession,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ message: string; code: string | null }> {
  const { outcome } = await callTool(session, name, args);
  if (outcome.ok) throw new Error(`${name} succeeded, but it should have failed: ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}

/** The tool names of our server, as the issue lists them. */
export const OUR_TOOLS = [
  'list_tables',
  'list_extensions',
  'list_migrations',
  'apply_migration',
  'execute_sql',
  'get_advisors',
  'list_edge_functions',
  'get_edge_function',
  'deploy_edge_function',
  'get_project_url',
  'get_publishable_keys',
  'generate_typescript_types',
] as const;
export const MUTATING_TOOLS = ['apply_migration', 'deploy_edge_function'];
