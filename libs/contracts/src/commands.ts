import { z } from 'zod';
import { EnvironmentInfo, EnvironmentMode } from './session.js';
import { AccessCellResult, AccessMatrixSpec, LivePolicy, NormalizedPolicy, PlannedPolicy } from './verification.js';

/**
 * Commands. WIRE CONTRACT: published to JetStream work queues; the command id is the Nats-Msg-Id.
 */

/** Orchestrator work: start (or resume) the build of a session. Subject `cmd.build.start`. */
export const StartBuild = z.object({
  kind: z.literal('start'),
  version: z.literal(1),
  commandId: z.uuid(),
  sessionId: z.uuid(),
});
export type StartBuild = z.infer<typeof StartBuild>;

/**
 * Cancel the build of a session. Subject `cmd.build.cancel`. The orchestrator records the request and the
 * session becomes `canceled` at the next node boundary; a finished session is left as it is.
 */
export const CancelBuild = z.object({
  kind: z.literal('cancel'),
  version: z.literal(1),
  commandId: z.uuid(),
  sessionId: z.uuid(),
});
export type CancelBuild = z.infer<typeof CancelBuild>;

/**
 * Tear a session's environment down for good, keeping its row and events (the audit trail). Subject
 * `cmd.build.delete`; the command id is stableId(sessionId, 'delete'). `owner`: `DELETE /sessions/:id`;
 * `expired`: the demo sweeper. The orchestrator cancels a build still going, has the provisioner remove the
 * environment, and emits `environment_deleted` or `environment_expired` once.
 */
export const DeleteSession = z.object({
  kind: z.literal('delete'),
  version: z.literal(1),
  commandId: z.uuid(),
  sessionId: z.uuid(),
  reason: z.enum(['owner', 'expired']),
});
export type DeleteSession = z.infer<typeof DeleteSession>;

export const BuildCommand = z.discriminatedUnion('kind', [StartBuild, CancelBuild, DeleteSession]);
export type BuildCommand = z.infer<typeof BuildCommand>;

/**
 * Provisioner work. The tool names follow the Supabase MCP server's where one exists (`apply_migration`,
 * `list_tables`, `execute_sql`, `get_advisors`, ...): the provisioner runs each command as calls to the MCP
 * server of the command's environment. Fields are ours (camelCase); the MCP tools' are Supabase's.
 * Subject `cmd.provision.<tool>`.
 */
const provisionBase = {
  version: z.literal(1),
  commandId: z.uuid(),
  sessionId: z.uuid(),
};

export const CreateEnvironment = z.object({
  ...provisionBase,
  tool: z.literal('create_environment'),
  mode: EnvironmentMode,
});
export const ApplyMigration = z.object({
  ...provisionBase,
  tool: z.literal('apply_migration'),
  environmentRef: z.string().min(1),
  /** snake_case migration name, unique per environment; a name already applied is not applied again. */
  name: z.string().regex(/^[a-z0-9_]+$/),
  query: z.string().min(1),
});
export const ListTables = z.object({
  ...provisionBase,
  tool: z.literal('list_tables'),
  environmentRef: z.string().min(1),
  schemas: z.array(z.string()).default(['public']),
});
export const ExecuteSql = z.object({
  ...provisionBase,
  tool: z.literal('execute_sql'),
  environmentRef: z.string().min(1),
  query: z.string().min(1),
  /** Runs in a read-only transaction when true. */
  readOnly: z.boolean().default(true),
});

/** The advisor's findings (Supabase's database linter): `security` or `performance` lints. */
export const GetAdvisors = z.object({
  ...provisionBase,
  tool: z.literal('get_advisors'),
  environmentRef: z.string().min(1),
  type: z.enum(['security', 'performance']),
});
/** The environment's migration ledger (`supabase_migrations.schema_migrations`), oldest first. */
export const ListMigrations = z.object({
  ...provisionBase,
  tool: z.literal('list_migrations'),
  environmentRef: z.string().min(1),
});
export const ListExtensions = z.object({
  ...provisionBase,
  tool: z.literal('list_extensions'),
  environmentRef: z.string().min(1),
});
export const EdgeFunctionFile = z.object({ name: z.string().min(1), content: z.string() });
/** Deploys (a new version of) an Edge Function; `name` is also its slug, as on Supabase. */
export const DeployEdgeFunction = z.object({
  ...provisionBase,
  tool: z.literal('deploy_edge_function'),
  environmentRef: z.string().min(1),
  name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/),
  entrypointPath: z.string().min(1).default('index.ts'),
  importMapPath: z.string().min(1).optional(),
  verifyJwt: z.boolean().default(true),
  files: z.array(EdgeFunctionFile).min(1),
});
export const ListEdgeFunctions = z.object({
  ...provisionBase,
  tool: z.literal('list_edge_functions'),
  environmentRef: z.string().min(1),
});
export const GetEdgeFunction = z.object({
  ...provisionBase,
  tool: z.literal('get_edge_function'),
  environmentRef: z.string().min(1),
  slug: z.string().min(1),
});
/** The environment's API URL (locally: the URL the local API will serve it under). */
export const GetProjectUrl = z.object({
  ...provisionBase,
  tool: z.literal('get_project_url'),
  environmentRef: z.string().min(1),
});
/** The keys a browser may hold (the anon key); never a service-role key. */
export const GetPublishableKeys = z.object({
  ...provisionBase,
  tool: z.literal('get_publishable_keys'),
  environmentRef: z.string().min(1),
});

/**
 * TypeScript types of the environment's schema, as `supabase gen types typescript` writes them (the `Database`
 * type supabase-js takes, and the Tables / TablesInsert / TablesUpdate / Enums helpers), from its catalog.
 */
export const GenerateTypescriptTypes = z.object({
  ...provisionBase,
  tool: z.literal('generate_typescript_types'),
  environmentRef: z.string().min(1),
});

/**
 * Calls a deployed Edge Function over HTTP as a client would (`<project url>/functions/v1/<slug>`), with the
 * environment's anon key as the bearer token, or no token, to verify it (spec §11.4). The answer says which
 * of the environment's secrets (service-role key, JWT secret) appear in the response: none must.
 */
export const InvokeEdgeFunction = z.object({
  ...provisionBase,
  tool: z.literal('invoke_edge_function'),
  environmentRef: z.string().min(1),
  slug: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  /** `anon`: `Authorization: Bearer <anon key>` and `apikey`; `none`: neither header. */
  auth: z.enum(['anon', 'none']).default('anon'),
  /** A JSON body (POST and the like). */
  body: z.unknown().optional(),
});

/**
 * Executes an access matrix (DESIGN.md §6) in the environment: each cell in its own transaction that is
 * rolled back, its fixture rows inserted by the superuser, its statement run as the actor's role with
 * Supabase-style `request.jwt.claims`. First, in one more rolled-back transaction, the planned policies are
 * created beside the live ones so that Postgres prints both the same way. Nothing persists.
 */
export const RunAccessMatrix = z.object({
  ...provisionBase,
  tool: z.literal('run_access_matrix'),
  environmentRef: z.string().min(1),
  matrix: AccessMatrixSpec,
  policies: z.array(PlannedPolicy).max(400).default([]),
});

/**
 * Removes the environment that `create_environment` made for the session (a canceled or failed build).
 * Idempotent: an environment that is already gone is answered with `deleted: false`. When given,
 * `environmentRef` must be the session's own environment: a command cannot remove another session's.
 */
export const DeleteEnvironment = z.object({
  ...provisionBase,
  tool: z.literal('delete_environment'),
  environmentRef: z.string().min(1).nullable().default(null),
});

export const ProvisionCommand = z.discriminatedUnion('tool', [
  CreateEnvironment,
  ApplyMigration,
  ListTables,
  ExecuteSql,
  GetAdvisors,
  ListMigrations,
  ListExtensions,
  DeployEdgeFunction,
  ListEdgeFunctions,
  GetEdgeFunction,
  GetProjectUrl,
  GetPublishableKeys,
  GenerateTypescriptTypes,
  InvokeEdgeFunction,
  RunAccessMatrix,
  DeleteEnvironment,
]);
export type ProvisionCommand = z.infer<typeof ProvisionCommand>;
export type ProvisionTool = ProvisionCommand['tool'];
export type ProvisionCommandOf<T extends ProvisionTool> = Extract<ProvisionCommand, { tool: T }>;

export const TableColumnInfo = z.object({
  name: z.string(),
  dataType: z.string(),
  nullable: z.boolean(),
});
export const TableInfo = z.object({
  schema: z.string(),
  name: z.string(),
  rlsEnabled: z.boolean(),
  columns: z.array(TableColumnInfo),
});
export type TableInfo = z.infer<typeof TableInfo>;

/** One finding of the advisor, named and levelled as Supabase's database linter names them. */
export const AdvisorLint = z.object({
  /** The lint's name, e.g. `rls_disabled_in_public`. */
  name: z.string(),
  title: z.string(),
  level: z.enum(['ERROR', 'WARN', 'INFO']),
  facing: z.string(),
  categories: z.array(z.string()),
  description: z.string(),
  /** What was found, naming the object. */
  detail: z.string(),
  /** Where to read how to fix it (a URL on Supabase's linter docs). */
  remediation: z.string(),
  /** The object: at least `schema` and `name`, and `type` (table, view, function). */
  metadata: z.record(z.string(), z.unknown()),
});
export type AdvisorLint = z.infer<typeof AdvisorLint>;

export const MigrationInfo = z.object({ version: z.string(), name: z.string().nullable() });
export const ExtensionInfo = z.object({
  name: z.string(),
  schema: z.string().nullable(),
  defaultVersion: z.string().nullable(),
  installedVersion: z.string().nullable(),
});
export const EdgeFunctionInfo = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  /**
   * Supabase's status (`ACTIVE`, ...); locally `ACTIVE` too (the provisioner's local API serves deployed
   * functions); `STORED` in environments from before the local runtime.
   */
  status: z.string(),
  version: z.number().int(),
  verifyJwt: z.boolean().nullable(),
  entrypointPath: z.string().nullable(),
  importMapPath: z.string().nullable(),
  /** Milliseconds since the epoch, as Supabase reports them. */
  createdAt: z.number().nullable(),
  updatedAt: z.number().nullable(),
});
export type EdgeFunctionInfo = z.infer<typeof EdgeFunctionInfo>;
export const PublishableKey = z.object({
  name: z.string(),
  type: z.enum(['legacy', 'publishable']),
  apiKey: z.string(),
  disabled: z.boolean(),
});

/** What each tool returns on success. */
export const ProvisionOutputs = {
  create_environment: z.object({ environment: EnvironmentInfo }),
  apply_migration: z.object({ name: z.string(), applied: z.boolean() }),
  list_tables: z.object({ tables: z.array(TableInfo) }),
  execute_sql: z.object({ rows: z.array(z.record(z.string(), z.unknown())) }),
  get_advisors: z.object({ lints: z.array(AdvisorLint) }),
  list_migrations: z.object({ migrations: z.array(MigrationInfo) }),
  list_extensions: z.object({ extensions: z.array(ExtensionInfo) }),
  deploy_edge_function: z.object({ function: EdgeFunctionInfo }),
  list_edge_functions: z.object({ functions: z.array(EdgeFunctionInfo) }),
  get_edge_function: z.object({ function: EdgeFunctionInfo.extend({ files: z.array(EdgeFunctionFile) }) }),
  get_project_url: z.object({ url: z.string() }),
  get_publishable_keys: z.object({ keys: z.array(PublishableKey) }),
  /** The types file's text (TypeScript source). */
  generate_typescript_types: z.object({ types: z.string().min(1) }),
  invoke_edge_function: z.object({
    url: z.string(),
    status: z.number().int(),
    /** The response body: parsed JSON, or text (cut at 64 KiB). */
    body: z.unknown(),
    contentType: z.string().nullable(),
    durationMs: z.number(),
    /** Names of the environment's secrets found in the response (`service_role_key`, `jwt_secret`, ...). */
    secretsFound: z.array(z.string()),
  }),
  run_access_matrix: z.object({
    cells: z.array(AccessCellResult),
    policies: z.object({
      /** Every policy on `public` tables and `storage.objects`. */
      live: z.array(LivePolicy),
      /** The command's planned policies, as Postgres prints them. */
      planned: z.array(NormalizedPolicy),
    }),
  }),
  delete_environment: z.object({ ref: z.string(), deleted: z.boolean() }),
} satisfies Record<ProvisionTool, z.ZodType>;
export type ProvisionOutput<T extends ProvisionTool> = z.infer<(typeof ProvisionOutputs)[T]>;

/**
 * A provisioner result, published to `res.provision.<commandId>` on a stream so that a restarted
 * orchestrator can read it again. `transient` failures may be retried; the others are final.
 */
export const ProvisionResult = z.discriminatedUnion('ok', [
  z.object({
    version: z.literal(1),
    commandId: z.uuid(),
    sessionId: z.uuid(),
    tool: z.string(),
    ok: z.literal(true),
    output: z.unknown(),
  }),
  z.object({
    version: z.literal(1),
    commandId: z.uuid(),
    sessionId: z.uuid(),
    tool: z.string(),
    ok: z.literal(false),
    error: z.object({ message: z.string(), code: z.string().nullable(), transient: z.boolean() }),
  }),
]);
export type ProvisionResult = z.infer<typeof ProvisionResult>;
