import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  CreateSessionRequest,
  SESSION_LIST_DEFAULT_LIMIT,
  SESSION_LIST_MAX_LIMIT,
  SessionStatus,
  type CancelSessionResponse,
  type CreateSessionResponse,
  type DeleteSessionResponse,
  type SessionList,
  type SessionView,
} from '@vibe/contracts';
import { z } from 'zod';
import { CreatesSession, CurrentCaller, ReadsSession, WritesSession, type Caller } from '../auth/auth.decorators.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { decodeSessionCursor, type SessionCursor } from './session-cursor.js';
import { SessionsService } from './sessions.service.js';

const GetSessionQuery = z.strictObject({ id: z.uuid() });
type GetSessionQuery = z.infer<typeof GetSessionQuery>;
const SessionPath = z.strictObject({ id: z.uuid() });
type SessionPath = z.infer<typeof SessionPath>;

/** `GET /sessions` without `id`: the caller's sessions (issue 12). */
const ListSessionsQuery = z.strictObject({
  limit: z.coerce
    .number()
    .int()
    .min(1, `must be 1 to ${SESSION_LIST_MAX_LIMIT}`)
    .max(SESSION_LIST_MAX_LIMIT, `must be 1 to ${SESSION_LIST_MAX_LIMIT}`)
    .optional(),
  cursor: z
    .string()
    .transform((text, ctx): SessionCursor => {
      const cursor = decodeSessionCursor(text);
      if (!cursor) {
        ctx.addIssue({ code: 'custom', message: 'not a cursor of this API (take `next` of the previous page)' });
        return z.NEVER;
      }
      return cursor;
    })
    .optional(),
  status: SessionStatus.optional(),
  include_deleted: z
    .enum(['true', 'false'], { error: 'true or false' })
    .default('false')
    .transform((value) => value === 'true'),
});
const getSessionPipe = new ZodValidationPipe(GetSessionQuery, 'query');
const listSessionsPipe = new ZodValidationPipe(ListSessionsQuery, 'query');

@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  /**
   * Spec §4.1: 201 `{ sessionId, shareToken }`; the build is queued before the answer. The caller's user becomes
   * the session's owner (`created_by`); 429 when they already have MAX_ACTIVE_BUILDS_PER_USER builds going.
   */
  @Post()
  @CreatesSession()
  create(
    @Body(new ZodValidationPipe(CreateSessionRequest, 'body')) request: CreateSessionRequest,
    @CurrentCaller() caller: Caller,
  ): Promise<CreateSessionResponse> {
    return this.sessions.create(request, caller.userId);
  }

  /**
   * Cancels a queued or running build: 202 `{ sessionId, cancelRequested: true }`; the session becomes
   * `canceled` at the next node boundary. 404 for an unknown session, 409 for a finished one.
   */
  @Post(':id/cancel')
  @WritesSession('path', 'id')
  @HttpCode(HttpStatus.ACCEPTED)
  cancel(@Param(new ZodValidationPipe(SessionPath, 'path')) path: SessionPath): Promise<CancelSessionResponse> {
    return this.sessions.cancel(path.id);
  }

  /**
   * With `id`: spec §4.2, one session (its owner also sees its share token). Without `id` (issue 12): the signed-in
   * caller's own sessions, newest first, a page at a time (`limit`, `cursor` = the previous page's `next`), by
   * `status` when given, deleted ones only with `include_deleted=true`.
   */
  @Get()
  @ReadsSession('query', 'id', { whenAbsent: 'user' })
  get(@Query() raw: Record<string, unknown>, @CurrentCaller() caller: Caller): Promise<SessionView | SessionList> {
    if (raw.id === undefined) {
      const query = listSessionsPipe.transform(raw);
      return this.sessions.list(caller.userId!, {
        limit: query.limit ?? SESSION_LIST_DEFAULT_LIMIT,
        after: query.cursor,
        status: query.status,
        includeDeleted: query.include_deleted,
      });
    }
    const query = getSessionPipe.transform(raw);
    return this.sessions.get(query.id, { withShareToken: caller.access === 'owner' });
  }

  /**
   * Deletes a session for good (issue 12): 202 `{ sessionId, deleteRequested: true }`; a build still going is
   * canceled, the environment torn down, `environment_deleted` emitted. The session and its events stay readable
   * (with `deletion` set) as the audit trail. Owner only: others get 404, as for an unknown session.
   */
  @Delete(':id')
  @WritesSession('path', 'id')
  @HttpCode(HttpStatus.ACCEPTED)
  delete(@Param(new ZodValidationPipe(SessionPath, 'path')) path: SessionPath): Promise<DeleteSessionResponse> {
    return this.sessions.delete(path.id);
  }
}
