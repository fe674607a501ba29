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
});
export type SessionView = z.infer<typeof SessionView>;

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
});
export type BuildOutputs = z.infer<typeof BuildOutputs>;
