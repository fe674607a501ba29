import { z } from 'zod';

/**
 * Drift checks (spec §10.1). WIRE CONTRACT: the commands and results below travel on JetStream
 * (`DRIFT_CHECKS`, `DRIFT_RESULTS`); the finding and alert shapes are also the gateway's answers. Add
 * fields as optional or add a version; never edit a published one.
 */

/** How bad a drift is (the `drift_alerts.severity` check of spec §2.4). */
export const DriftSeverity = z.enum(['low', 'medium', 'high', 'critical']);
export type DriftSeverity = z.infer<typeof DriftSeverity>;

/** Severities from least to most severe. */
export const DRIFT_SEVERITY_ORDER: readonly DriftSeverity[] = ['low', 'medium', 'high', 'critical'];

/**
 * What drifted. PERSISTED in `drift_alerts.type`: add, never rename.
 * - `rls_disabled`: a planned table has row level security off.
 * - `policy_missing` | `policy_changed` | `policy_added`: a planned policy is gone, differs (command, roles,
 *   `using`, `with check`, permissive), or a policy the plan does not have is on a planned table.
 * - `table_*`, `column_*`, `constraint_*`, `index_*`, `view_*`: schema deviations from the plan.
 * - `edge_function_missing`: a planned (and deployed) Edge Function is not there.
 * - `security_lint`: an ERROR or WARN security lint that no finding above explains.
 */
export const DriftFindingType = z.enum([
  'rls_disabled',
  'policy_missing',
  'policy_changed',
  'policy_added',
  'table_missing',
  'table_added',
  'column_missing',
  'column_added',
  'column_changed',
  'constraint_missing',
  'constraint_added',
  'constraint_changed',
  'index_missing',
  'index_added',
  'view_missing',
  'view_added',
  'view_changed',
  'edge_function_missing',
  'security_lint',
]);
export type DriftFindingType = z.infer<typeof DriftFindingType>;

/** The spec chunk that explains why a drift matters (`spec_chunks`), and how it was chosen. */
export const DriftSpecChunk = z.object({
  id: z.uuid(),
  chunkIndex: z.number().int(),
  content: z.string(),
  /** Cosine similarity of the finding's description and the chunk; null when chosen by the plan's source. */
  similarity: z.number().nullable(),
  /** `vector`: nearest by embedding; `plan_source`: the chunk the plan item was made from (another embedder). */
  method: z.enum(['vector', 'plan_source']),
});
export type DriftSpecChunk = z.infer<typeof DriftSpecChunk>;

/** One finding of a check, as the sentinel reports it (with the alert that records it). */
export const DriftFindingView = z.object({
  /** The open `drift_alerts` row that records this finding. */
  alertId: z.uuid(),
  /** True when this check opened the alert; false when it was already open. */
  new: z.boolean(),
  severity: DriftSeverity,
  type: DriftFindingType,
  /** `table:public.bids`, `policy:public.bids.bids_read_own`, `column:public.bids.amount`, `edge_function:drift_check`, ... */
  resource: z.string(),
  /** What drifted, in one sentence. */
  summary: z.string(),
  /** Why it matters. */
  rationale: z.string(),
  /** SQL that restores the plan (or, for an Edge Function, how to redeploy it). */
  recommendation: z.string(),
  /** Security lints (Supabase's advisor names) that confirm the finding. */
  lints: z.array(z.string()),
  specChunk: DriftSpecChunk.nullable(),
});
export type DriftFindingView = z.infer<typeof DriftFindingView>;

/** What one check found. */
export const DriftReport = z.object({
  checkId: z.uuid(),
  sessionId: z.uuid(),
  environmentRef: z.string(),
  startedAt: z.iso.datetime(),
  durationMs: z.number(),
  findings: z.array(DriftFindingView),
  /** Alerts this check resolved: their drift is gone. */
  resolved: z.array(z.object({ alertId: z.uuid(), type: DriftFindingType, resource: z.string() })),
});
export type DriftReport = z.infer<typeof DriftReport>;

/**
 * A scheduled check of one environment in one round. Subject `cmd.drift.scheduled`; the Nats-Msg-Id is
 * `jobId` = stableId(sessionId, `drift-round:<round>`), so every replica may publish a round and JetStream
 * keeps one job per environment and round.
 */
export const ScheduledDriftCheck = z.object({
  kind: z.literal('scheduled'),
  version: z.literal(1),
  jobId: z.uuid(),
  sessionId: z.uuid(),
  /** The schedule's tick (ISO 8601), the same on every replica. */
  round: z.iso.datetime(),
});
export type ScheduledDriftCheck = z.infer<typeof ScheduledDriftCheck>;

/** A check now, asked for by `POST /sessions/:id/drift-check`. Subject `cmd.drift.request`. */
export const RequestedDriftCheck = z.object({
  kind: z.literal('request'),
  version: z.literal(1),
  requestId: z.uuid(),
  sessionId: z.uuid(),
});
export type RequestedDriftCheck = z.infer<typeof RequestedDriftCheck>;

export const DriftCheckCommand = z.discriminatedUnion('kind', [ScheduledDriftCheck, RequestedDriftCheck]);
export type DriftCheckCommand = z.infer<typeof DriftCheckCommand>;

/**
 * Why a requested check did not run: `not_found` (no such session), `not_checkable` (no environment, not
 * succeeded, or a build is running), `failed` (the check itself failed; `transient` when a retry may work).
 */
export const DriftCheckErrorCode = z.enum(['not_found', 'not_checkable', 'failed']);
export type DriftCheckErrorCode = z.infer<typeof DriftCheckErrorCode>;

/** The answer to a requested check, published to `res.drift.<requestId>` on the `DRIFT_RESULTS` stream. */
export const DriftCheckResult = z.discriminatedUnion('ok', [
  z.object({
    version: z.literal(1),
    requestId: z.uuid(),
    sessionId: z.uuid(),
    ok: z.literal(true),
    report: DriftReport,
  }),
  z.object({
    version: z.literal(1),
    requestId: z.uuid(),
    sessionId: z.uuid(),
    ok: z.literal(false),
    error: z.object({ code: DriftCheckErrorCode, message: z.string(), transient: z.boolean() }),
  }),
]);
export type DriftCheckResult = z.infer<typeof DriftCheckResult>;

export const DriftAlertStatus = z.enum(['open', 'resolved']);
export type DriftAlertStatus = z.infer<typeof DriftAlertStatus>;

/** One row of `GET /sessions/:id/drift`: a `drift_alerts` row with its spec chunk. */
export const DriftAlertView = z.object({
  id: z.uuid(),
  sessionId: z.uuid(),
  /** When the drift was first detected. */
  ts: z.iso.datetime(),
  severity: DriftSeverity,
  type: z.string(),
  resource: z.string(),
  status: DriftAlertStatus,
  /** The last check that still found it. */
  lastSeenAt: z.iso.datetime().nullable(),
  resolvedAt: z.iso.datetime().nullable(),
  summary: z.string().nullable(),
  rationale: z.string().nullable(),
  recommendation: z.string().nullable(),
  lints: z.array(z.string()),
  specChunk: DriftSpecChunk.nullable(),
});
export type DriftAlertView = z.infer<typeof DriftAlertView>;
