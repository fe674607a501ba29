import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  CreateSessionRequest,
  type CancelSessionResponse,
  type CreateSessionResponse,
  type SessionView,
} from '@vibe/contracts';
import { z } from 'zod';
import { CreatesSession, CurrentCaller, ReadsSession, WritesSession, type Caller } from '../auth/auth.decorators.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { SessionsService } from './sessions.service.js';

const GetSessionQuery = z.strictObject({ id: z.uuid() });
type GetSessionQuery = z.infer<typeof GetSessionQuery>;
const SessionPath = z.strictObject({ id: z.uuid() });
type SessionPath = z.infer<typeof SessionPath>;

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

  /** Spec §4.2; its owner also sees its share token. */
  @Get()
  @ReadsSession('query', 'id')
  get(
    @Query(new ZodValidationPipe(GetSessionQuery, 'query')) query: GetSessionQuery,
    @CurrentCaller() caller: Caller,
  ): Promise<SessionView> {
    return this.sessions.get(query.id, { withShareToken: caller.access === 'owner' });
  }
}
