import { Controller, Get, NotFoundException, Query, Res } from '@nestjs/common';
import { decodeCursor, encodeCursor, type BuildEventView, type EventCursor } from '@vibe/contracts';
import { type FastifyReply } from 'fastify';
import { z } from 'zod';
import { ReadsSession } from '../auth/auth.decorators.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { EventsRepository } from './events.repository.js';

/** An `after` cursor as a query parameter: opaque to clients, checked here. */
export const CursorParam = z.string().transform((text, ctx): EventCursor => {
  const cursor = decodeCursor(text);
  if (!cursor) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor from this API (take X-Next-Cursor or an event id: of it)' });
    return z.NEVER;
  }
  return cursor;
});

const ListEventsQuery = z.strictObject({
  session_id: z.uuid(),
  after: CursorParam.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
type ListEventsQuery = z.infer<typeof ListEventsQuery>;

/** The response header with the cursor of the last event returned (or the `after` given, when none was). */
export const NEXT_CURSOR_HEADER = 'X-Next-Cursor';

@Controller('events')
export class EventsController {
  constructor(private readonly events: EventsRepository) {}

  /**
   * Spec §4.3: the session's events ordered by ts; `[]` for a session with none yet, 404 for no session.
   * `after=<cursor>` returns only the events published after that one (what a client missed), `limit` pages;
   * the cursor to continue from is in the `X-Next-Cursor` header, so the body stays the spec's array.
   */
  @Get()
  @ReadsSession('query', 'session_id')
  async list(
    @Query(new ZodValidationPipe(ListEventsQuery, 'query')) query: ListEventsQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BuildEventView[]> {
    const page = await this.events.listForSession(query.session_id, { after: query.after, limit: query.limit });
    if (!page) throw new NotFoundException(`session_id: no session ${query.session_id}`);
    const next = page.last ?? query.after;
    if (next) void reply.header(NEXT_CURSOR_HEADER, encodeCursor(next));
    return page.events;
  }
}
