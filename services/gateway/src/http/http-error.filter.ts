import { randomUUID } from 'node:crypto';
import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { redactText } from '@vibe/platform';
import { BODY_LIMIT_BYTES } from '../config.js';
import { TooManyRequestsException } from '../limits/rate-limits.js';
import { errorReply } from './error-reply.js';

/** The gateway's one exception filter (STYLE.md "Errors"): every failed request is answered here. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = errorReply(exception, { bodyLimit: BODY_LIMIT_BYTES, errorId: randomUUID() });
    if (reply.internal) {
      const detail = exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
      this.logger.error(`error id ${reply.body.errorId}: ${redactText(detail)}`);
    }
    const response = host.switchToHttp().getResponse<{ header(name: string, value: string): unknown }>();
    if (exception instanceof TooManyRequestsException && exception.retryAfterSeconds !== undefined) {
      response.header('retry-after', String(exception.retryAfterSeconds));
    }
    this.adapterHost.httpAdapter.reply(response, reply.body, reply.status);
  }
}
