import {
  BuildEventView,
  CancelSessionResponse,
  CreateSessionRequest,
  CreateSessionResponse,
  DeleteSessionResponse,
  SESSION_LIST_DEFAULT_LIMIT,
  SESSION_LIST_MAX_LIMIT,
  SessionList,
  SessionStatus,
  DriftAlertStatus,
  DriftAlertView,
  DriftReport,
  SessionView,
  VIBE_TEXT_MAX_LENGTH,
} from '@vibe/contracts';
import { z } from 'zod';

/**
 * The gateway's routes as the OpenAPI document describes them. A test compares this table with the routes
 * the running gateway registers (both ways), so a route added to a controller and not here fails it.
 * Bodies come from the contracts' zod schemas; the gateway's own shapes are below.
 */

/** Every error the gateway answers (its exception filter, `http/error-reply.ts`). */
export const ErrorBody = z.object({
  statusCode: z.int().min(400).max(599),
  error: z.string().describe('The HTTP reason phrase'),
  message: z.string().describe('What went wrong; a request error names the field first (`body.vibeText: ...`)'),
  errorId: z.uuid().optional().describe('Only on a 500: the id under which the cause was logged'),
});

/** `GET /health` and `GET /health/live` (libs/platform `HealthReport`). */
export const HealthReport = z.object({
  service: z.string(),
  status: z.enum(['ok', 'unavailable']),
  checks: z
    .record(z.string(), z.string())
    .optional()
    .describe('Per dependency (postgres, nats, consumers): "ok" or what is wrong'),
});

/** `GET /config.json`: where the viewer page reaches Realtime (`viewer/viewer.controller.ts`). */
export const ViewerConfig = z.object({
  realtime: z.object({
    mode: z.enum(['local', 'supabase']),
    url: z.url(),
    apiKey: z.string(),
  }),
  auth: z.object({
    devTokens: z.boolean().describe('POST /auth/dev-token is served (local development only)'),
    anonymousBuilds: z.boolean().describe('POST /sessions accepts callers without a JWT (the demo switch)'),
  }),
});

/** `POST /auth/dev-token` (`auth/dev-token.controller.ts`), local development only. */
export const DevTokenResponse = z.object({
  accessToken: z.string().describe('A JWT for the local development user, signed with the local secret'),
  tokenType: z.literal('bearer'),
  expiresIn: z.int().describe('Seconds'),
  user: z.object({ id: z.uuid() }),
});

/** Named schemas: `#/components/schemas/<name>`. Requests are documented as sent, responses as received. */
export const REQUEST_SCHEMAS = { CreateSessionRequest } satisfies Record<string, z.ZodType>;
export const RESPONSE_SCHEMAS = {
  CreateSessionResponse,
  CancelSessionResponse,
  DeleteSessionResponse,
  SessionView,
  SessionList,
  BuildEventView,
  DriftReport,
  DriftAlertView,
  ErrorBody,
  HealthReport,
  ViewerConfig,
  DevTokenResponse,
} satisfies Record<string, z.ZodType>;
export type SchemaName = keyof typeof REQUEST_SCHEMAS | keyof typeof RESPONSE_SCHEMAS;

export interface ParameterDoc {
  name: string;
  in: 'query' | 'path' | 'header';
  required: boolean;
  description: string;
  schema: z.ZodType;
}

export interface ResponseDoc {
  description: string;
  /** A named schema (JSON), one of several named schemas (JSON), or a media type with an inline schema. */
  body?:
    { schema: SchemaName; array?: boolean } | { oneOf: SchemaName[] } | { contentType: string; schema?: z.ZodType };
  headers?: Record<string, { description: string; schema: z.ZodType }>;
}

export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI form: `/sessions/{id}/cancel`. */
  path: string;
  operationId: string;
  tag: 'sessions' | 'drift' | 'events' | 'viewer' | 'operations';
  summary: string;
  description?: string;
  /** Which of the security schemes authorize it (any one of them); none: open. */
  security?: Array<'ownerJwt' | 'shareTokenHeader' | 'shareTokenQuery'>;
  parameters?: ParameterDoc[];
  requestBody?: { schema: keyof typeof REQUEST_SCHEMAS; description: string };
  responses: Record<number, ResponseDoc>;
}

const json = (schema: SchemaName, array = false) => ({ schema, array });
const error = (description: string): ResponseDoc => ({ description, body: json('ErrorBody') });

/** Errors any JSON POST may meet before its handler runs (Fastify's parser, JsonOnlyBodies, the body limit). */
const POST_BODY_ERRORS: Record<number, ResponseDoc> = {
  413: error('The body is larger than 64 KiB (`body: larger than the limit of 65536 bytes`)'),
  415: error('The body is not JSON (`content-type: must be application/json`)'),
};

/**
 * The AuthGuard's answers (`auth/auth.guard.ts`) and the rate limits (`limits/`): 429 per client address on
 * every route but health and metrics, per user on every route a user signs in to.
 */
const UNAUTHORIZED = (what: string): Record<number, ResponseDoc> => ({
  401: error(`No usable credentials: ${what}, or a JWT that is invalid, expired, for another audience or issuer`),
});
const RATE_LIMITED: Record<number, ResponseDoc> = {
  429: {
    ...error('Too many requests from this address or user: retry after `Retry-After` seconds'),
    headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: z.int() } },
  },
};
const READERS: RouteDoc['security'] = ['ownerJwt', 'shareTokenHeader', 'shareTokenQuery'];
const NOT_VISIBLE = 'No such session, or one these credentials may not see (the same answer for both)';

/** Every route may fail unexpectedly: the answer carries only an error id, which is also in the log. */
const UNEXPECTED: Record<number, ResponseDoc> = {
  500: error('Unexpected error: the message quotes an `errorId` under which the cause was logged'),
};

const sessionId = (where: 'query' | 'path', name = 'id'): ParameterDoc => ({
  name,
  in: where,
  required: true,
  description: 'The session id (a uuid)',
  schema: z.uuid(),
});

const cursor: ParameterDoc = {
  name: 'after',
  in: 'query',
  required: false,
  description: 'Only what follows this event: a cursor from `X-Next-Cursor` (or an SSE `id:`), opaque to clients',
  schema: z.string(),
};

const text = (contentType: string, description: string): ResponseDoc => ({
  description,
  body: { contentType, schema: z.string() },
});

export const ROUTES: readonly RouteDoc[] = [
  {
    method: 'post',
    path: '/sessions',
    operationId: 'createSession',
    tag: 'sessions',
    summary: 'Start a build from a vibe (spec §4.1)',
    description:
      `The session is stored and its build queued before the answer. \`vibeText\` is trimmed and must hold 1 to ` +
      `${VIBE_TEXT_MAX_LENGTH} characters; options default to no analytics, no drift sentinel, branch mode.`,
    security: ['ownerJwt'],
    requestBody: { schema: 'CreateSessionRequest', description: 'The vibe and how to build it' },
    responses: {
      201: {
        description: 'Created: the session id, and its share token (for its creator only)',
        body: json('CreateSessionResponse'),
      },
      400: error('Invalid body or not JSON; the message names every field at fault (`template: ...`)'),
      ...UNAUTHORIZED('no JWT (unless the gateway allows anonymous builds)'),
      429: {
        ...error(
          'Too many requests (see `Retry-After`), or the user already has MAX_ACTIVE_BUILDS_PER_USER builds queued or running',
        ),
        headers: RATE_LIMITED[429]!.headers,
      },
      ...POST_BODY_ERRORS,
      503: error('The build queue (NATS) is unavailable: nothing was created, retry later'),
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/sessions',
    operationId: 'getSession',
    tag: 'sessions',
    summary: "Read a session (spec §4.2), or without `id` list the caller's sessions",
    description:
      'With `id`: the session (`SessionView`); its owner also gets its `shareToken`, a share-token holder does not. ' +
      "Without `id`: the signed-in caller's own sessions (`SessionList`), newest first, " +
      `${SESSION_LIST_DEFAULT_LIMIT} per page unless \`limit\` says otherwise; continue with \`cursor\` = \`next\` of ` +
      'the previous page (null on the last). Deleted sessions are left out unless `include_deleted=true`. A share ' +
      'token does not list (401).',
    security: READERS,
    parameters: [
      { ...sessionId('query'), required: false, description: 'The session id (a uuid); without it, the listing' },
      {
        name: 'limit',
        in: 'query',
        required: false,
        description: `Listing: at most this many sessions (1 to ${SESSION_LIST_MAX_LIMIT})`,
        schema: z.int().min(1).max(SESSION_LIST_MAX_LIMIT),
      },
      {
        name: 'cursor',
        in: 'query',
        required: false,
        description: 'Listing: continue after the previous page (its `next`), opaque to clients',
        schema: z.string(),
      },
      {
        name: 'status',
        in: 'query',
        required: false,
        description: 'Listing: only sessions in this status',
        schema: SessionStatus,
      },
      {
        name: 'include_deleted',
        in: 'query',
        required: false,
        description: 'Listing: also sessions that were deleted or expired (default false)',
        schema: z.enum(['true', 'false']),
      },
    ],
    responses: {
      200: {
        description: 'The session (with `id`), or a page of sessions',
        body: { oneOf: ['SessionView', 'SessionList'] },
      },
      400: error(
        '`id` is not a uuid, `limit` is out of range, `cursor` is not a cursor of this API, `status` is unknown, ' +
          'or an unknown parameter was given (listing parameters beside `id` included); the message names it',
      ),
      ...UNAUTHORIZED('neither a JWT nor a share token (to list: no JWT)'),
      404: error(NOT_VISIBLE),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'delete',
    path: '/sessions/{id}',
    operationId: 'deleteSession',
    tag: 'sessions',
    summary: 'Delete a session: tear its environment down, keep its audit trail',
    description:
      'Queues the teardown: a build still going is canceled first, then the environment is removed (the local ' +
      'database dropped, the cloud branch or project deleted) and `environment_deleted` is emitted. The session and ' +
      'its events stay readable, with `deletion` set; listings leave it out. Repeating it is harmless.',
    security: ['ownerJwt'],
    parameters: [sessionId('path')],
    responses: {
      202: { description: 'Accepted: the teardown is queued', body: json('DeleteSessionResponse') },
      400: error('`id` is not a uuid'),
      ...UNAUTHORIZED('no JWT (a share token never changes a session)'),
      404: error(`${NOT_VISIBLE}; only its owner may do this`),
      ...RATE_LIMITED,
      503: error('The build queue (NATS) is unavailable: the delete was not recorded, retry later'),
      ...UNEXPECTED,
    },
  },
  {
    method: 'post',
    path: '/sessions/{id}/cancel',
    operationId: 'cancelSession',
    tag: 'sessions',
    summary: 'Cancel a queued or running build',
    description:
      'The request is recorded; the build stops at its next node boundary and the session becomes `canceled`.',
    security: ['ownerJwt'],
    parameters: [sessionId('path')],
    responses: {
      202: { description: 'Accepted: the cancel is recorded', body: json('CancelSessionResponse') },
      400: error('`id` is not a uuid, or a body was sent that is not valid JSON'),
      ...UNAUTHORIZED('no JWT (a share token never changes a session)'),
      404: error(`${NOT_VISIBLE}; only its owner may do this`),
      ...RATE_LIMITED,
      409: error('The build has already finished'),
      ...POST_BODY_ERRORS,
      503: error('The build queue (NATS) is unavailable: the cancel was not recorded, retry later'),
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/sessions/{id}/stream',
    operationId: 'streamSession',
    tag: 'sessions',
    summary: 'Follow a build live as server-sent events',
    description:
      'Every event of the session (`id:` its cursor, `event:` its type, `data:` the event as `GET /events` shows ' +
      'it) from the start or after `after` / `Last-Event-ID`, then live; and `presence` events with the ' +
      "architect's presence. Authorized by the owner's JWT or the session's share token.",
    security: ['ownerJwt', 'shareTokenHeader', 'shareTokenQuery'],
    parameters: [
      sessionId('path'),
      cursor,
      {
        name: 'share_token',
        in: 'query',
        required: false,
        description: 'The share token, for clients that cannot send headers (EventSource)',
        schema: z.string().min(1).max(200),
      },
      {
        name: 'Last-Event-ID',
        in: 'header',
        required: false,
        description: 'Sent by a reconnecting EventSource: resume after this event',
        schema: z.string(),
      },
    ],
    responses: {
      200: text('text/event-stream', 'The event stream (kept open; `: keep-alive` comments every 15 s)'),
      400: error('`id` is not a uuid, or `after` / `Last-Event-ID` is not a cursor of this API'),
      401: error('No usable credentials: no token, or an invalid or expired JWT'),
      404: error(NOT_VISIBLE),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'post',
    path: '/sessions/{id}/drift-check',
    operationId: 'checkDrift',
    tag: 'drift',
    summary: "Check a session's environment for drift now (spec §10.1)",
    description:
      'Runs a drift check through a drift sentinel and answers what it found: each finding with its alert, ' +
      'severity, spec chunk and the SQL that restores the plan, and the alerts it resolved.',
    security: ['ownerJwt'],
    parameters: [sessionId('path')],
    responses: {
      200: { description: 'The drift report', body: json('DriftReport') },
      400: error('`id` is not a uuid, or a body was sent that is not valid JSON'),
      ...UNAUTHORIZED('no JWT (a share token never changes a session)'),
      404: error(`${NOT_VISIBLE}; only its owner may do this`),
      ...RATE_LIMITED,
      409: error('The session cannot be checked now (not succeeded, a build running, no environment)'),
      ...POST_BODY_ERRORS,
      502: error('The check failed for good'),
      503: error('No drift sentinel answered in time, or the check failed for a while: retry later'),
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/sessions/{id}/drift',
    operationId: 'listDriftAlerts',
    tag: 'drift',
    summary: "A session's drift alerts, open ones first, newest first",
    security: READERS,
    parameters: [
      sessionId('path'),
      {
        name: 'status',
        in: 'query',
        required: false,
        description: 'Only alerts in this state',
        schema: DriftAlertStatus,
      },
    ],
    responses: {
      200: { description: 'The alerts', body: json('DriftAlertView', true) },
      400: error('`id` is not a uuid, or `status` is not open or resolved'),
      ...UNAUTHORIZED('neither a JWT nor a share token'),
      404: error(NOT_VISIBLE),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/sessions/{id}/types',
    operationId: 'getSessionTypes',
    tag: 'sessions',
    summary: "The TypeScript types of a succeeded build's schema (`database.types.ts`)",
    description:
      'What `supabase gen types typescript` writes for the environment (the `Database` type of ' +
      '`createClient<Database>(url, key)`), generated from its catalog when the build finished; the same text as ' +
      '`outputs.frontend.types`.',
    security: READERS,
    parameters: [sessionId('path')],
    responses: {
      200: text('application/typescript', 'The types file'),
      400: error('`id` is not a uuid'),
      ...UNAUTHORIZED('neither a JWT nor a share token'),
      404: error(NOT_VISIBLE),
      409: error('The build has not succeeded (yet), or it is from before builds handed over their types'),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/events',
    operationId: 'listEvents',
    tag: 'events',
    summary: "A session's events, ordered by time (spec §4.3)",
    description:
      '`[]` before the first event. Page with `limit`, continue from the `X-Next-Cursor` header with `after`.',
    security: READERS,
    parameters: [
      sessionId('query', 'session_id'),
      cursor,
      {
        name: 'limit',
        in: 'query',
        required: false,
        description: 'At most this many events (1 to 1000)',
        schema: z.int().min(1).max(1000),
      },
    ],
    responses: {
      200: {
        description: 'The events',
        body: json('BuildEventView', true),
        headers: {
          'X-Next-Cursor': {
            description: 'The cursor of the last event returned (or the `after` given)',
            schema: z.string(),
          },
        },
      },
      400: error('`session_id` is missing or not a uuid, `after` is not a cursor, `limit` is out of range'),
      ...UNAUTHORIZED('neither a JWT nor a share token'),
      404: error(NOT_VISIBLE),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/',
    operationId: 'viewerPage',
    tag: 'viewer',
    summary: 'The build viewer page: start a build and follow it live',
    responses: {
      200: text('text/html', 'The page'),
      404: error('Not installed with this gateway'),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/viewer.js',
    operationId: 'viewerScript',
    tag: 'viewer',
    summary: "The viewer page's script",
    responses: {
      200: text('text/javascript', 'The script'),
      404: error('Not installed with this gateway'),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/viewer.css',
    operationId: 'viewerStyle',
    tag: 'viewer',
    summary: "The viewer page's style sheet",
    responses: {
      200: text('text/css', 'The style sheet'),
      404: error('Not installed with this gateway'),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/vendor/supabase.js',
    operationId: 'viewerSupabaseJs',
    tag: 'viewer',
    summary: "supabase-js's browser bundle, served locally (the page loads nothing from elsewhere)",
    responses: {
      200: text('text/javascript', 'The bundle'),
      404: error('supabase-js is not installed with this gateway'),
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/config.json',
    operationId: 'viewerConfig',
    tag: 'viewer',
    summary: 'Where the viewer page reaches Realtime',
    responses: {
      200: { description: 'The Realtime endpoint and key', body: json('ViewerConfig') },
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'post',
    path: '/auth/dev-token',
    operationId: 'devToken',
    tag: 'viewer',
    summary: "Local development only: a token for the local development user (the viewer's local dev sign-in)",
    description:
      'Served only when the gateway runs with DEV_TOKENS=true, which it accepts only with the local JWT secret, ' +
      'so the token is worthless to any real project. Otherwise 404.',
    responses: {
      200: { description: 'The token', body: json('DevTokenResponse') },
      404: error('Dev tokens are not enabled on this gateway'),
      ...POST_BODY_ERRORS,
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/health',
    operationId: 'readiness',
    tag: 'operations',
    summary: 'Readiness: Postgres answers and NATS is connected',
    responses: {
      200: { description: 'Ready', body: json('HealthReport') },
      503: { description: 'Not ready (or shutting down); `checks` names what is wrong', body: json('HealthReport') },
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/health/live',
    operationId: 'liveness',
    tag: 'operations',
    summary: 'Liveness: the process answers',
    responses: {
      200: { description: 'Alive', body: json('HealthReport') },
      503: { description: 'Shutting down', body: json('HealthReport') },
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tag: 'operations',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    responses: { 200: text('text/plain', 'The metrics'), ...UNEXPECTED },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    tag: 'operations',
    summary: 'This document (OpenAPI 3.1)',
    responses: {
      200: { description: 'The document', body: { contentType: 'application/json' } },
      ...RATE_LIMITED,
      ...UNEXPECTED,
    },
  },
  {
    method: 'get',
    path: '/docs',
    operationId: 'apiDocs',
    tag: 'operations',
    summary: 'This document as a page',
    responses: { 200: text('text/html', 'The page'), ...RATE_LIMITED, ...UNEXPECTED },
  },
];
