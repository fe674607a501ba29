import { z } from 'zod';
import { BuildVerification } from './verification.js';

/** The longest vibe accepted, in characters (documented in the README and the API errors). */
export const VIBE_TEXT_MAX_LENGTH = 4000;

export const Template = z.enum(['marketplace', 'saas']);
export type Template = z.infer<typeof Template>;

export const EnvironmentMode = z.enum(['branch', 'project']);
export type EnvironmentMode = z.infer<typeof EnvironmentMode>;

export const SessionStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled']);
export type SessionStatus = z.infer<typeof SessionStatus>;

export const BuildOptions = z.strictObject({
  enableAnalytics: z.boolean().default(false),
  enableDriftSentinel: z.boolean().default(false),
  environmentMode: EnvironmentMode.default('branch'),
  /**
   * A demo environment: torn down by the orchestrator's sweeper DEMO_ENVIRONMENT_TTL_SECONDS after the session
   * was created (`environment_expired`). Absent means false (added later: optional, so stored options still
   * parse unchanged). Anonymous builds (ALLOW_ANONYMOUS_BUILDS) are always demo builds.
   */
  demo: z.boolean().optional(),
});
export type BuildOptions = z.infer<typeof BuildOptions>;

/** `POST /sessions` body (spec §4.1). */
export const CreateSessionRequest = z.strictObject({
  vibeText: z
    .string()
    .trim()
    .min(1, 'vibeText must not be empty')
    .max(VIBE_TEXT_MAX_LENGTH, `vibeText must be at most ${VIBE_TEXT_MAX_LENGTH} characters`)
    // Postgres text cannot hold NUL; refused here, named, rather than failing in the database.
    .refine((text) => !text.includes('\u0000'), 'vibeText must not contain NUL characters'),
  template: Template,
  options: BuildOptions.default(BuildOptions.parse({})),
});
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const CreateSessionResponse = z.object({
  sessionId: z.uuid(),
  /**
   * The session's share token, returned to its creator only: it lets anyone it is given to follow the build
   * read-only (Realtime channel, event stream). Optional so that earlier responses still parse.
   */
  shareToken: z.string().optional(),
});
export type CreateSessionResponse = z.infer<typeof CreateSessionResponse>;

/** `POST /sessions/:id/cancel` response (202): the request is recorded; the build stops at the next node boundary. */
export const CancelSessionResponse = z.object({ sessionId: z.uuid(), cancelRequested: z.literal(true) });
export type CancelSessionResponse = z.infer<typeof CancelSessionResponse>;

/**
 * Where a provisioned environment lives. Never holds a secret: no password, no service key, no token.
 */
export const EnvironmentInfo = z.object({
  driver: z.enum(['local', 'supabase']),
  mode: EnvironmentMode,
  /** The environment's identifier: a project ref in the cloud, a database name locally. */
  ref: z.string().min(1),
  database: z.string().min(1).optional(),
  host: z.string().optional(),
  port: z.number().int().optional(),
  apiUrl: z.string().nullable().optional(),
  createdAt: z.iso.datetime(),
});
export type EnvironmentInfo = z.infer<typeof EnvironmentInfo>;

/**
 * Why and when a session's environment was torn down for good: `owner` (`DELETE /sessions/:id`) or `expired` (a
 * demo environment past DEMO_ENVIRONMENT_TTL_SECONDS). `completedAt` is null while the teardown is under way.
 */
export const SessionDeletion = z.object({
  reason: z.enum(['owner', 'expired']),
  requestedAt: z.iso.datetime(),
  completedAt: z.iso.datetime().nullable(),
});
export type SessionDeletion = z.infer<typeof SessionDeletion>;

/** `GET /sessions?id=` response (spec §4.2). */
export const SessionView = z.object({
  id: z.uuid(),
  status: SessionStatus,
  template: Template,
  vibeText: z.string(),
  options: z.record(z.string(), z.unknown()),
  environment: z.record(z.string(), z.unknown()).nullable(),
  outputs: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** The session's share token: shown to its owner only, never to a share-token holder (added later: optional). */
  shareToken: z.string().optional(),
  /**
   * Set once the session was deleted (`DELETE /sessions/:id`) or its demo environment expired: its environment
   * is torn down, its row and events stay as the audit trail, and listings leave it out (added later: optional).
   */
  deletion: SessionDeletion.nullable().optional(),
});
export type SessionView = z.infer<typeof SessionView>;

/** The most sessions one page of `GET /sessions` holds (`limit`), and how many when `limit` is not given. */
export const SESSION_LIST_MAX_LIMIT = 100;
export const SESSION_LIST_DEFAULT_LIMIT = 20;

/** One row of `GET /sessions` (the caller's sessions): the session without its outputs and plan. */
export const SessionSummary = z.object({
  id: z.uuid(),
  status: SessionStatus,
  template: Template,
  vibeText: z.string(),
  options: z.record(z.string(), z.unknown()),
  /** The environment's ref (a database name locally, a project ref in the cloud), or null before it exists. */
  environmentRef: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  deletion: SessionDeletion.nullable(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

/** `GET /sessions` without `id`: a page of the caller's sessions, newest first; `next` continues it (`cursor`). */
export const SessionList = z.object({
  sessions: z.array(SessionSummary),
  /** An opaque cursor for the next page, or null on the last one. */
  next: z.string().nullable(),
});
export type SessionList = z.infer<typeof SessionList>;

/**
 * `DELETE /sessions/:id` response (202): the teardown is queued. A running build is canceled first; then the
 * environment is removed and `environment_deleted` is emitted. Repeating it is harmless.
 */
export const DeleteSessionResponse = z.object({ sessionId: z.uuid(), deleteRequested: z.literal(true) });
export type DeleteSessionResponse = z.infer<typeof DeleteSessionResponse>;

/** One row of `GET /events?session_id=` (spec §4.3). */
export const BuildEventView = z.object({
  id: z.uuid(),
  sessionId: z.uuid(),
  ts: z.iso.datetime(),
  type: z.string(),
  message: z.string(),
  payload: z.record(z.string(), z.unknown()),
});
export type BuildEventView = z.infer<typeof BuildEventView>;

/**
 * What a succeeded build hands a frontend (spec §8.2): everything a browser may hold, and nothing else. No
 * service-role key, password, JWT secret, access token or connection string ever goes here: the publishable key
 * is the environment's anon key (a JWT with role `anon`) or an `sb_publishable_` key.
 */
export const FrontendHandover = z.object({
  /** The environment's API URL, what `createClient(url, key)` takes (`<url>/rest/v1`, `<url>/functions/v1`). */
  apiUrl: z.url(),
  /** The publishable key a browser sends as `apikey` (the anon key). */
  publishableKey: z.string().min(1),
  publishableKeyType: z.enum(['legacy', 'publishable']),
  /** Each deployed Edge Function and its URL (`<apiUrl>/functions/v1/<slug>`). */
  edgeFunctions: z.array(z.object({ slug: z.string(), url: z.url(), verifyJwt: z.boolean().nullable() })),
  /**
   * A link that opens the session read-only in the viewer (the share token rides in the fragment). Always
   * written; shown to the session's owner only, as the share token is (the gateway leaves it out for others).
   */
  shareUrl: z.url().optional(),
  /** TypeScript types of the schema, as `supabase gen types typescript` writes them (`database.types.ts`). */
  types: z.string().min(1),
  /** Where the gateway serves the same types: `GET /sessions/:id/types`. */
  typesPath: z.string(),
  /** A short supabase-js example that uses the URL, the key and the types. */
  snippet: z.string(),
});
export type FrontendHandover = z.infer<typeof FrontendHandover>;

/** What a succeeded build hands over in `build_sessions.outputs`. */
export const BuildOutputs = z.object({
  tables: z.array(z.object({ name: z.string(), rlsEnabled: z.boolean() })),
  policies: z.array(z.object({ table: z.string(), name: z.string(), command: z.string(), roles: z.array(z.string()) })),
  functions: z.array(z.string()),
  analytics: z.object({ configured: z.boolean(), provenance: z.string().nullable(), rowCount: z.number() }),
  deferred: z.array(z.string()),
  durationMs: z.number(),
  /** What the environment was proved to be before the build succeeded (added later: optional). */
  verification: BuildVerification.optional(),
  /** What a frontend needs to use the environment (issue 12; added later: optional for older builds). */
  frontend: FrontendHandover.optional(),
});
export type BuildOutputs = z.infer<typeof BuildOutputs>;
