import { z } from 'zod';
import { EnvironmentInfo, Template } from './session.js';

/**
 * Build events. WIRE CONTRACT: every shape here is published to JetStream and stored in `build_events`.
 * Never edit a published version; add version 2 and upcast on read.
 *
 * Envelope: `{ id, sessionId, type, version, ts, message, payload }`. The `id` is the JetStream Nats-Msg-Id
 * and the `build_events.id`, so re-publishing and re-projecting are both no-ops.
 */
const envelope = {
  id: z.uuid(),
  sessionId: z.uuid(),
  version: z.literal(1),
  ts: z.iso.datetime(),
  message: z.string(),
};

function event<T extends string, P extends z.ZodType>(type: T, payload: P) {
  return z.object({ ...envelope, type: z.literal(type), payload });
}

/** The eleven timeline event types of spec §5.2, in the order a build emits them. */
export const TIMELINE_EVENT_TYPES = [
  'plan_created',
  'environment_created',
  'migration_started',
  'table_created',
  'rls_enabled',
  'policy_created',
  'edge_function_deployed',
  'analytics_configured',
  'build_succeeded',
  'build_failed',
  'drift_detected',
] as const;
export type TimelineEventType = (typeof TIMELINE_EVENT_TYPES)[number];

export const PlanCreated = event(
  'plan_created',
  z.object({
    template: Template,
    tables: z.array(z.string()),
    policies: z.number().int(),
    chunks: z.number().int(),
    planner: z.enum(['rules', 'openai']).optional(),
    buckets: z.array(z.string()).optional(),
    /** What the vibe asked for that nothing was planned for, with the reason. */
    unrecognized: z
      .array(z.object({ chunk: z.number().int().nullable(), text: z.string(), note: z.string() }))
      .optional(),
  }),
);
export const EnvironmentCreated = event('environment_created', z.object({ environment: EnvironmentInfo }));
export const MigrationStarted = event('migration_started', z.object({ migrations: z.array(z.string()) }));
export const TableCreated = event('table_created', z.object({ table: z.string(), columns: z.array(z.string()) }));
export const RlsEnabled = event('rls_enabled', z.object({ table: z.string() }));
export const PolicyCreated = event(
  'policy_created',
  z.object({ table: z.string(), policy: z.string(), command: z.string(), roles: z.array(z.string()) }),
);
export const EdgeFunctionDeployed = event(
  'edge_function_deployed',
  z.object({ slug: z.string(), url: z.string().nullable(), verified: z.boolean() }),
);
export const AnalyticsConfigured = event(
  'analytics_configured',
  z.object({ views: z.array(z.string()), provenance: z.string(), rowCount: z.number().int() }),
);
export const BuildSucceeded = event(
  'build_succeeded',
  z.object({ durationMs: z.number(), tables: z.number().int(), policies: z.number().int() }),
);
export const BuildFailed = event(
  'build_failed',
  z.object({
    step: z.string(),
    error: z.string(),
    /** When verification failed: one line per failure (a cell, an ERROR lint, a difference). Added later. */
    failures: z.array(z.string()).optional(),
  }),
);
export const DriftDetected = event(
  'drift_detected',
  z.object({
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    type: z.string(),
    resource: z.string(),
    /** Added later (optional, so earlier events still parse): the `drift_alerts` row, its spec chunk and fix. */
    alertId: z.uuid().optional(),
    specChunkId: z.uuid().nullable().optional(),
    recommendation: z.string().optional(),
  }),
);

/**
 * A node's closing note, for steps that emit no timeline event of their own or did only part of their work:
 * it says what was done and what was left for later, so that no event claims what did not happen.
 */
export const StepCompleted = event(
  'step_completed',
  z.object({ step: z.string(), done: z.array(z.string()), deferred: z.array(z.string()) }),
);

/** The model planner failed (invalid output, API error) and the rules planner made the plan instead. */
export const PlannerFallback = event(
  'planner_fallback',
  z.object({ from: z.literal('openai'), to: z.literal('rules'), reason: z.string() }),
);

/**
 * The build was canceled (`POST /sessions/:id/cancel`) and stopped at the boundary before `step`; the
 * session is `canceled`. Not one of the eleven timeline types of spec §5.2: an extra type like
 * `step_completed`. `environmentRemoved` says whether an environment of the build was removed.
 */
export const BuildCanceled = event(
  'build_canceled',
  z.object({ step: z.string(), environmentRemoved: z.boolean(), environment: z.string().nullable() }),
);

/**
 * The session's environment was torn down for good at its owner's request (`DELETE /sessions/:id`); the session
 * row and its events stay. `environment`: what was (or would have been) removed, null when the build never had
 * one; `removed`: it existed until now (false when a cancel or failure had removed it already);
 * `buildCanceled`: a build was still going and was canceled first. Not a §5.2 timeline type.
 */
export const EnvironmentDeleted = event(
  'environment_deleted',
  z.object({ environment: z.string().nullable(), removed: z.boolean(), buildCanceled: z.boolean() }),
);

/**
 * A demo environment (`options.demo`) outlived DEMO_ENVIRONMENT_TTL_SECONDS and the sweeper tore it down, as
 * `environment_deleted` says for a deletion; `expiredAt` is when its time ran out (created + TTL).
 */
export const EnvironmentExpired = event(
  'environment_expired',
  z.object({
    environment: z.string().nullable(),
    removed: z.boolean(),
    buildCanceled: z.boolean(),
    ttlSeconds: z.number().int(),
    expiredAt: z.iso.datetime(),
  }),
);

/** Audit record of one call into a provisioned environment (spec §7.4). Inputs and outputs are redacted. */
export const ProvisionerCall = event(
  'provisioner_call',
  z.object({
    tool: z.string(),
    environment: z.string().nullable(),
    commandId: z.uuid(),
    input: z.unknown(),
    output: z.unknown(),
    ok: z.boolean(),
    startedAt: z.iso.datetime(),
    durationMs: z.number(),
    /** Added later (optional, so earlier events still parse): when the call ended, and who ran it. */
    endedAt: z.iso.datetime().optional(),
    /** The provisioner process that executed the command (`host:pid`). */
    worker: z.string().optional(),
  }),
);

/**
 * Audit record of one MCP tool call made while executing a provisioner command (spec §7.4): a command makes
 * one or more calls, each its own event, with the id stableId(sessionId, `mcp:${commandId}:${call}`) (a
 * retried command's calls, attempt > 1: `mcp:${commandId}:${attempt}:${call}`).
 * Inputs, outputs and errors are summarized and redacted.
 */
export const McpCall = event(
  'mcp_call',
  z.object({
    /** The MCP tool called, e.g. `execute_sql`. */
    tool: z.string(),
    environment: z.string().nullable(),
    commandId: z.uuid(),
    /** The provisioner command the call served, e.g. `apply_migration`. */
    command: z.string(),
    /** 1 for the command's first MCP call, 2 for its second, ... */
    call: z.number().int().min(1),
    /** The command's delivery that made the call: above 1 when the command was retried. */
    attempt: z.number().int().min(1),
    server: z.object({
      /** `local`: the project's own MCP server; `supabase`: the official `@supabase/mcp-server-supabase`. */
      driver: z.enum(['local', 'supabase']),
      mode: z.enum(['read-only', 'read-write']),
      transport: z.enum(['in-memory', 'stdio']),
    }),
    input: z.unknown(),
    /** A summary of the result, or `{ error, code }` when the call failed. */
    output: z.unknown(),
    ok: z.boolean(),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime(),
    durationMs: z.number(),
    /** The provisioner process that made the call (`host:pid`). */
    worker: z.string(),
  }),
);

/**
 * Audit record of one HTTP request to Supabase's Management API made while executing a provisioner command
 * (the cloud driver: creating, polling and deleting branches and projects, keys, secrets), as `mcp_call` is
 * for MCP calls (spec §7.4). Each request is its own event, a retried one (429, 5xx) too, with the id
 * stableId(sessionId, `api:${commandId}:${attempt}:${call}`). The path names the environment but never a
 * token; request and response bodies are summarized and redacted.
 */
export const ManagementApiCall = event(
  'management_api_call',
  z.object({
    /** `POST`, `GET`, ... */
    method: z.string(),
    /** The request path without its query, e.g. `/v1/projects/abcdefghijklmnopqrst/branches`. */
    path: z.string(),
    environment: z.string().nullable(),
    commandId: z.uuid(),
    /** The provisioner command the call served, e.g. `create_environment`. */
    command: z.string(),
    /** 1 for the command's first request, 2 for its second, ... */
    call: z.number().int().min(1),
    /** The command's delivery that made the call: above 1 when the command was retried. */
    attempt: z.number().int().min(1),
    /** The HTTP status, or null when no response came (network error, timeout). */
    status: z.number().int().nullable(),
    input: z.unknown(),
    /** A summary of the response body, or `{ error }`. */
    output: z.unknown(),
    ok: z.boolean(),
    /** When the response asked to wait (429 with X-RateLimit-Reset or Retry-After, 5xx): how long before the next try. */
    retryAfterMs: z.number().nullable(),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime(),
    durationMs: z.number(),
    /** The provisioner process that made the call (`host:pid`). */
    worker: z.string(),
  }),
);

/** Audit events: one per executed provisioner command, one per MCP call or Management API request it made. */
export const AUDIT_EVENT_TYPES = ['provisioner_call', 'mcp_call', 'management_api_call'] as const;
export function isAuditEvent(type: string): boolean {
  return (AUDIT_EVENT_TYPES as readonly string[]).includes(type);
}

export const BuildEvent = z.discriminatedUnion('type', [
  PlanCreated,
  EnvironmentCreated,
  MigrationStarted,
  TableCreated,
  RlsEnabled,
  PolicyCreated,
  EdgeFunctionDeployed,
  AnalyticsConfigured,
  BuildSucceeded,
  BuildFailed,
  DriftDetected,
  StepCompleted,
  BuildCanceled,
  PlannerFallback,
  EnvironmentDeleted,
  EnvironmentExpired,
  ProvisionerCall,
  McpCall,
  ManagementApiCall,
]);
export type BuildEvent = z.infer<typeof BuildEvent>;
export type BuildEventType = BuildEvent['type'];
export type BuildEventOf<T extends BuildEventType> = Extract<BuildEvent, { type: T }>;
export type BuildEventPayload<T extends BuildEventType> = BuildEventOf<T>['payload'];

export function isTimelineEvent(type: string): type is TimelineEventType {
  return (TIMELINE_EVENT_TYPES as readonly string[]).includes(type);
}
