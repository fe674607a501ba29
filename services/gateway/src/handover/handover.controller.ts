import { ConflictException, Controller, Get, Header, NotFoundException, Param } from '@nestjs/common';
import { z } from 'zod';
import { ReadsSession } from '../auth/auth.decorators.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { HandoverRepository } from './handover.repository.js';

const SessionPath = z.strictObject({ id: z.uuid() });
type SessionPath = z.infer<typeof SessionPath>;

/** The media type of the types file (TypeScript source, as Deno and editors serve `.ts`). */
export const TYPESCRIPT_CONTENT_TYPE = 'application/typescript; charset=utf-8';

/** What a succeeded build hands a frontend (issue 12), for its owner and holders of its share token. */
@Controller('sessions')
export class HandoverController {
  constructor(private readonly handover: HandoverRepository) {}

  /**
   * The TypeScript types of the session's schema (`outputs.frontend.types`), as a file: `database.types.ts`.
   * 404 for an unknown or foreign session (the AuthGuard), 409 while the build has not succeeded, or for a build
   * from before builds handed over their types.
   */
  @Get(':id/types')
  @ReadsSession('path', 'id')
  @Header('content-type', TYPESCRIPT_CONTENT_TYPE)
  @Header('content-disposition', 'inline; filename="database.types.ts"')
  @Header('cache-control', 'private, no-cache')
  async types(@Param(new ZodValidationPipe(SessionPath, 'path')) path: SessionPath): Promise<string> {
    const found = await this.handover.types(path.id);
    if (!found) throw new NotFoundException(`id: no session ${path.id}`);
    if (found.status !== 'succeeded') {
      throw new ConflictException(
        `id: session ${path.id} is ${found.status}; its types exist once its build has succeeded`,
      );
    }
    if (found.types === null) {
      throw new ConflictException(
        `id: session ${path.id} was built before builds handed over TypeScript types; build the vibe again`,
      );
    }
    return found.types;
  }
}
