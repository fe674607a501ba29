import { z } from 'zod';
import { BaseConfig, loadConfig, port } from '@vibe/platform';

/** An empty variable (`SUPABASE_ACCESS_TOKEN=`) counts as unset. */
function unsetWhenEmpty<S extends z.ZodType>(schema: S) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema);
}

/**
 * The provisioner's environment, validated once at boot: a bad value stops it with the variable's name.
 *
 * ENV_DATABASE_URL is the admin connection to the server on which the local driver creates one database per
 * session (it never leaves this process: no event, log line or result carries it).
 */
export const ProvisionerConfig = BaseConfig.extend({
  PORT: port(3002),
  ENV_DATABASE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/postgres'),
  /**
   * Prefix of every environment database name. Lower-case letters, digits and "_" (environment refs are
   * matched against /^[a-z0-9_]+$/), starting with a letter; at most 31 characters so that the prefix plus a
   * session id (32 hex digits) fits Postgres' 63-character identifiers.
   */
  ENV_DB_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and "_" only, starting with a letter')
    .max(31)
    .default('vibe_env_'),
  /**
   * The URL the local API serves an environment under, `{ref}` standing for its ref: what the local MCP
   * server's `get_project_url` answers and what Edge Functions get as SUPABASE_URL. The provisioner listens on
   * its host and port (src/edge-runtime); port 0, or a port already taken, means a free port, and the URL
   * then names the port actually served.
   */
  ENV_API_URL: z
    .string()
    .default('http://127.0.0.1:54321/env/{ref}')
    .refine((value) => value.includes('{ref}'), 'must contain "{ref}"')
    .refine((value) => URL.canParse(value.replace('{ref}', 'ref')), 'must be a URL'),
  /**
   * The HS256 secret that signs the environments' anon keys (`get_publishable_keys`). Unset: each environment
   * gets a random secret of its own, kept in the environment database. At least 32 characters.
   */
  ENV_JWT_SECRET: unsetWhenEmpty(z.string().min(32).optional()),
  /**
   * Where the local API listens when ENV_API_URL is not this process's own address (behind a proxy): then the
   * URL is served as configured. Unset: ENV_API_URL's port.
   */
  ENV_API_PORT: unsetWhenEmpty(z.coerce.number().int().min(0).max(65535).optional()),
  /**
   * Connections this process keeps to environment databases, all environments together (the local driver):
   * idle ones are reused per environment and the least recently used closes when another needs the slot.
   * Keep replicas × this (plus the services' own pools) below the server's max_connections.
   */
  ENV_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1000).default(10),
  /**
   * Clones of the branch template kept ready (local driver): create_environment renames one instead of
   * cloning while the build waits, and a new one is cloned in the background. 0 clones on demand only.
   */
  ENV_SPARE_DATABASES: z.coerce.number().int().min(0).max(16).default(2),
  /** The Deno binary of the local Edge Functions runtime; unset, the `deno` npm package's. */
  EDGE_RUNTIME_DENO: unsetWhenEmpty(z.string().min(1).optional()),
  /**
   * Where function files, sockets and Deno's cache (DENO_DIR) live; unset, `<tmpdir>/vibe-edge-runtime-<uid>`.
   * Outside any folder with a package.json (DESIGN.md §3). The cache is kept between runs: a function's
   * first start downloads @supabase/supabase-js from the npm registry once. A worker's files, and what Deno
   * made of them, are removed when it exits (those of a killed provisioner at the next one's start).
   */
  EDGE_RUNTIME_DIR: unsetWhenEmpty(z.string().min(1).optional()),
  /** Deno processes running at once (one per function and version, started on demand). */
  EDGE_RUNTIME_MAX_WORKERS: z.coerce.number().int().min(1).max(256).default(8),
  /**
   * Spare Deno processes kept ready (supabase-js already loaded), beside EDGE_RUNTIME_MAX_WORKERS: a
   * function's first request runs on one instead of starting Deno cold, and another is started in the
   * background. 0: every function starts cold.
   */
  EDGE_RUNTIME_SPARES: z.coerce.number().int().min(0).max(16).default(2),
  /** A function's process stops after this long without a request. */
  EDGE_RUNTIME_IDLE_MS: z.coerce.number().int().min(100).default(60_000),
  /** V8 heap limit of each Deno process, in MiB. */
  EDGE_RUNTIME_MEMORY_MB: z.coerce.number().int().min(16).max(4096).default(150),
  /** How long a function may take to start (its first start fetches npm packages) and to answer. */
  EDGE_RUNTIME_START_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  EDGE_RUNTIME_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * The cloud driver: with a Supabase personal access token, MCP calls go to the official
   * `@supabase/mcp-server-supabase`, started per environment (`--project-ref`), the token in its environment.
   */
  SUPABASE_ACCESS_TOKEN: unsetWhenEmpty(z.string().min(1).optional()),
  /** The Management API (the cloud driver's branches, projects, keys); another URL for a test double. */
  SUPABASE_API_URL: z.url().default('https://api.supabase.com'),
  /** "branch" environments are branches of this project (20 lower-case letters); needs branching enabled. */
  SUPABASE_PARENT_PROJECT_REF: unsetWhenEmpty(
    z
      .string()
      .regex(/^[a-z]{20}$/, 'a project ref: 20 lower-case letters')
      .optional(),
  ),
  /** "project" environments are new projects in this organization (its id, which is its slug). */
  SUPABASE_ORG_ID: unsetWhenEmpty(z.string().min(1).optional()),
  /** The region of new projects. */
  SUPABASE_REGION: z.string().min(1).default('us-east-1'),
  /** An environment's API URL (Edge Functions, REST), `{ref}` standing for its project ref. */
  SUPABASE_PROJECT_URL: z
    .string()
    .default('https://{ref}.supabase.co')
    .refine((value) => value.includes('{ref}'), 'must contain "{ref}"')
    .refine((value) => URL.canParse(value.replace('{ref}', 'ref')), 'must be a URL'),
  /** How long a new branch or project may take to become usable before it is deleted and the command fails. */
  SUPABASE_CREATE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(900_000),
  /** Status polls start this far apart and slow down (×1.5) to at most SUPABASE_POLL_MAX_INTERVAL_MS. */
  SUPABASE_POLL_INTERVAL_MS: z.coerce.number().int().min(10).default(2_000),
  SUPABASE_POLL_MAX_INTERVAL_MS: z.coerce.number().int().min(10).default(15_000),
  /** Tries of one Management API request that is rate limited (429) or failing (5xx, network). */
  SUPABASE_API_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  /** The longest wait a 429's X-RateLimit-Reset may ask for; a longer one fails the command as transient. */
  SUPABASE_RATE_LIMIT_MAX_WAIT_MS: z.coerce.number().int().min(0).default(60_000),
  /** How the official server is started: `npx -y <package> --project-ref ... --features ...`. */
  SUPABASE_MCP_COMMAND: z.string().min(1).default('npx'),
  SUPABASE_MCP_PACKAGE: z.string().min(1).default('@supabase/mcp-server-supabase@^0.13.0'),
  /** Feature groups of the official server; `docs` is refused (it fetches at tool-list time, and is not needed). */
  SUPABASE_MCP_FEATURES: z
    .string()
    .default('database,development,functions,debugging')
    .transform((value) =>
      value
        .split(',')
        .map((feature) => feature.trim())
        .filter(Boolean),
    )
    .refine((features) => features.length > 0, 'name at least one feature group')
    .refine((features) => !features.includes('docs'), 'must not include "docs"')
    .refine((features) => features.every((feature) => /^[a-z_]+$/.test(feature)), 'lower-case feature names only'),
});
export type ProvisionerConfig = z.infer<typeof ProvisionerConfig>;

/** Injection token of the parsed configuration. */
export const PROVISIONER_CONFIG = Symbol('PROVISIONER_CONFIG');

export function loadProvisionerConfig(env: NodeJS.ProcessEnv = process.env): ProvisionerConfig {
  return loadConfig(ProvisionerConfig, env);
}

/** Where environments live: `supabase` when a Supabase access token is configured, else `local`. */
export function driverKind(config: ProvisionerConfig): 'local' | 'supabase' {
  return config.SUPABASE_ACCESS_TOKEN ? 'supabase' : 'local';
}
