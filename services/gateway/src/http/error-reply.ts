import { STATUS_CODES } from 'node:http';
import { HttpException, HttpStatus } from '@nestjs/common';
import { redact, redactText } from '@vibe/platform';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** Only on a 500: the id under which the cause was logged. */
  errorId?: string;
}

export type ErrorReply =
  | { internal: false; status: number; body: ErrorBody | Record<string, unknown> }
  | { internal: true; status: number; body: ErrorBody };

/** Fastify's own request errors (raised before a handler runs), said in the API's words. */
const FASTIFY_ERRORS: Record<string, (bodyLimit: number) => { status: number; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => ({ status: HttpStatus.BAD_REQUEST, message: 'body: not valid JSON' }),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => ({
    status: HttpStatus.BAD_REQUEST,
    message: 'body: required (empty, but content-type is application/json)',
  }),
  FST_ERR_CTP_BODY_TOO_LARGE: (bodyLimit) => ({
    status: HttpStatus.PAYLOAD_TOO_LARGE,
    message: `body: larger than the limit of ${bodyLimit} bytes`,
  }),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => ({
    status: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
    message: 'content-type: must be application/json',
  }),
};

function body(status: number, message: string): ErrorBody {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
}

/** The message of an HttpException's response: a string, or the `message` of Nest's `{ statusCode, message, error }`. */
function messageOf(response: string | object): string | undefined {
  if (typeof response === 'string') return response;
  const message: unknown = 'message' in response ? response.message : undefined;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return undefined;
}

function fastifyCode(exception: HttpException): string | undefined {
  const cause: unknown = exception.cause;
  return typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
    ? cause.code
    : undefined;
}

/**
 * What the client is told about a failed request. Known errors (HttpExceptions, among them Fastify's
 * request errors as Nest maps them) keep their status and a message naming the field; anything else is a
 * 500 that says only its error id, never a stack or a message that could hold a secret.
 */
export function errorReply(exception: unknown, options: { bodyLimit: number; errorId: string }): ErrorReply {
  if (exception instanceof HttpException) {
    const known = FASTIFY_ERRORS[fastifyCode(exception) ?? ''];
    if (known) {
      const { status, message } = known(options.bodyLimit);
      return { internal: false, status, body: body(status, message) };
    }
    const status = exception.getStatus();
    const message = messageOf(exception.getResponse());
    return {
      internal: false,
      status,
      // A response without a message of its own (the health check's) is passed on as it is, redacted; a message
      // may quote what the client sent, and is redacted too (secrets never appear in a response).
      body:
        message === undefined
          ? redact(exception.getResponse() as Record<string, unknown>)
          : body(status, redactText(message)),
    };
  }
  const status = HttpStatus.INTERNAL_SERVER_ERROR;
  return {
    internal: true,
    status,
    body: { ...body(status, `unexpected error; quote error id ${options.errorId}`), errorId: options.errorId },
  };
}
