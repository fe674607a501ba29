import { BadRequestException, Controller, Get, Headers, Param, Query, Req, Res } from '@nestjs/common';
import { decodeCursor, type EventCursor } from '@vibe/contracts';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ReadsSession } from '../auth/auth.decorators.js';
import { CursorParam } from '../events/events.controller.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { SessionStreamService } from './session-stream.service.js';

// `share_token` is a credential: the AuthGuard reads it and takes it out of the query.
const StreamQuery = z.strictObject({ after: CursorParam.optional() });
type StreamQuery = z.infer<typeof StreamQuery>;

@Controller('sessions')
export class StreamController {
  constructor(private readonly streams: SessionStreamService) {}

  /**
   * The build as server-sent events, for clients without supabase-js: every event of the session (`id:` its
   * cursor, `event:` its type, `data:` the event as `GET /events` shows it) from the start or after `after` /
   * `Last-Event-ID`, then live; and `presence` events with the architect's presence. Authorized like the
   * Realtime channel (the AuthGuard): the owner's JWT (`Authorization: Bearer`), or the share token
   * (`X-Share-Token` header or `share_token` parameter). 401 without usable credentials, 404 for an unknown or
   * foreign session.
   */
  @Get(':id/stream')
  @ReadsSession('path', 'id')
  async stream(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(StreamQuery, 'query')) query: StreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (!z.uuid().safeParse(id).success) throw new BadRequestException('id: not a session id (a uuid)');
    const after = query.after ?? lastEventCursor(lastEventId);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    const follow = this.streams.follow(id, after, {
      write: (chunk) => raw.write(chunk),
      pending: () => raw.writableLength,
      end: () => raw.end(),
    });
    request.raw.on('close', () => void follow.stop());
  }
}

function lastEventCursor(header: string | undefined): EventCursor | undefined {
  if (!header) return undefined;
  const cursor = decodeCursor(header.trim());
  if (!cursor) throw new BadRequestException('last-event-id: not a cursor from this API');
  return cursor;
}
