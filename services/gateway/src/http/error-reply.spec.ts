import { BadRequestException, HttpException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { errorReply } from './error-reply.js';

const options = { bodyLimit: 65_536, errorId: '5b1c4a52-7a0f-4c55-9d0e-0b5c2f1e8a77' };

/** A Fastify request error as Nest's Fastify adapter hands it to the filter. */
function fastifyError(code: string, status: number): HttpException {
  const cause = Object.assign(new Error('fastify says'), { name: 'FastifyError', code, statusCode: status });
  return new HttpException(cause.message, status, { cause });
}

describe('errorReply', () => {
  it('keeps a known error as 4xx with its message in one shape', () => {
    expect(errorReply(new BadRequestException('vibeText: required'), options)).toEqual({
      internal: false,
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'vibeText: required' },
    });
    expect(errorReply(new NotFoundException('id: no session x'), options).body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'id: no session x',
    });
  });

  it.each([
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 400, 'body: not valid JSON'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 400, 'body: required (empty, but content-type is application/json)'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 413, 'body: larger than the limit of 65536 bytes'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 415, 'content-type: must be application/json'],
  ])("says Fastify's %s in the API's words", (code, raised, status, message) => {
    const reply = errorReply(fastifyError(code, raised), options);
    expect(reply).toEqual({ internal: false, status, body: expect.objectContaining({ statusCode: status, message }) });
  });

  it('passes on a response object without a message (the health check), redacted', () => {
    const health = new ServiceUnavailableException({
      status: 'unavailable',
      checks: { postgres: 'connect failed: postgres://svc:hunter2@db/vibe' },
    });
    const reply = errorReply(health, options);
    expect(reply.status).toBe(503);
    expect(JSON.stringify(reply.body)).not.toContain('hunter2');
  });

  it("redacts a known error's message, which may quote what the client sent", () => {
    const reply = errorReply(new BadRequestException('sk-abcdefghijklmnopqrstuvwxyz012345: unknown field'), options);
    expect(reply.status).toBe(400);
    expect(JSON.stringify(reply.body)).not.toContain('sk-abcdefghijklmnop');
  });

  it('turns anything else into a 500 that says only its error id', () => {
    const reply = errorReply(new Error('relation "build_sessions" does not exist; password=hunter2'), options);
    expect(reply).toEqual({
      internal: true,
      status: 500,
      body: {
        statusCode: 500,
        error: 'Internal Server Error',
        message: `unexpected error; quote error id ${options.errorId}`,
        errorId: options.errorId,
      },
    });
    expect(errorReply('a thrown string', options).status).toBe(500);
  });
});
