import { Logger } from '@nestjs/common';
import { JsonLogger, sessionIdIn, toLogRecord, type LogRecord } from './logger.js';

const SESSION = '3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b';
const NOW = new Date('2026-11-25T12:00:00.000Z');
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

/** A JsonLogger whose lines are kept, parsed. */
function capture(level?: 'log' | 'debug' | 'warn') {
  const lines: string[] = [];
  const logger = new JsonLogger('orchestrator', { level, write: (line) => lines.push(line) });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as LogRecord) };
}

describe('JSON logs', () => {
  it('write one JSON object per line: level, time, service, context, message', () => {
    const { logger, lines, records } = capture();
    logger.log('listening on http://0.0.0.0:3001', 'orchestrator');
    logger.warn('slow', 'Adoption');
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    expect(records()).toEqual([
      {
        level: 'INFO',
        time: expect.stringMatching(/Z$/),
        service: 'orchestrator',
        context: 'orchestrator',
        message: 'listening on http://0.0.0.0:3001',
      },
      { level: 'WARN', time: expect.any(String), service: 'orchestrator', context: 'Adoption', message: 'slow' },
    ]);
  });

  it.each([
    [`session ${SESSION}: building marketplace (attempt 1, command)`],
    [`VIBE_TEST_PAUSED node=configure_rls session=${SESSION}`],
    [`could not answer: sessionId: ${SESSION}`],
    [`{"sessionId":"${SESSION.toUpperCase()}","step":"x"}`],
  ])('carry the session id a message names: %s', (message) => {
    expect(toLogRecord('orchestrator', 'log', message, ['Build'], NOW).sessionId).toBe(SESSION);
  });

  it('carry the session id of a context or of a logged object, and none when nothing names one', () => {
    expect(toLogRecord('bridge', 'log', 'joined', [`session:${SESSION}`], NOW).sessionId).toBe(SESSION);
    expect(toLogRecord('bridge', 'log', 'joined', [SESSION], NOW).sessionId).toBe(SESSION);
    expect(toLogRecord('bridge', 'log', { sessionId: SESSION, n: 1 }, ['X'], NOW)).toMatchObject({
      sessionId: SESSION,
      message: `{"sessionId":"${SESSION}","n":1}`,
    });
    expect(toLogRecord('bridge', 'log', `event ${SESSION} stored`, ['X'], NOW).sessionId).toBeUndefined();
    expect(sessionIdIn(undefined)).toBeUndefined();
  });

  it('keep the stack of an error apart from its message, as Nest passes it', () => {
    const error = new Error('connection refused');
    expect(toLogRecord('gateway', 'error', error, ['HttpError'], NOW)).toMatchObject({
      level: 'ERROR',
      context: 'HttpError',
      message: 'connection refused',
      stack: expect.stringContaining('at '),
    });
    // Logger#error(message, stack) from a Logger with a context: [stack, context].
    const stack = 'Error: boom\n    at run (/app/x.js:1:1)';
    expect(toLogRecord('gateway', 'error', 'boom', [stack, 'Bootstrap'], NOW)).toMatchObject({
      context: 'Bootstrap',
      stack,
    });
    // Without a context, one string that looks like a stack is the stack.
    expect(toLogRecord('gateway', 'error', 'boom', [stack], NOW)).toEqual({
      level: 'ERROR',
      time: NOW.toISOString(),
      service: 'gateway',
      message: 'boom',
      stack,
    });
    // From a Logger with a context and no stack: [undefined, context].
    expect(toLogRecord('gateway', 'error', 'boom', [undefined, 'Ctx'], NOW)).toEqual({
      level: 'ERROR',
      time: NOW.toISOString(),
      service: 'gateway',
      context: 'Ctx',
      message: 'boom',
    });
  });

  it('redact secrets in messages, objects and stacks', () => {
    const record = toLogRecord(
      'provisioner',
      'error',
      `connect postgres://admin:hunter2@db:5432/x failed, token ${JWT}`,
      [`Error: Bearer abcdefghijklmnop\n    at x (y.js:1:1)`, 'Driver'],
      NOW,
    );
    const text = JSON.stringify(record);
    expect(text).not.toMatch(/hunter2|abcdefghijklmnop|eyJhbGciOiJIUzI1NiJ9/);
    expect(record.message).toContain('postgres://admin:[redacted]@db');
    const object = toLogRecord('provisioner', 'log', { accessToken: 'sbp_0123456789abcdef', ok: true }, [], NOW);
    expect(object.message).toBe('{"accessToken":"[redacted]","ok":true}');
  });

  it('print only the levels asked for', () => {
    const quiet = capture('warn');
    quiet.logger.log('hidden');
    quiet.logger.debug('hidden');
    quiet.logger.error('shown');
    expect(quiet.records().map((r) => r.message)).toEqual(['shown']);
    const chatty = capture('debug');
    chatty.logger.debug('shown');
    chatty.logger.verbose('hidden');
    expect(chatty.records().map((r) => [r.level, r.message])).toEqual([['DEBUG', 'shown']]);
  });

  it('are what a Nest Logger with a context writes through it', () => {
    const { logger, records } = capture();
    Logger.overrideLogger(logger);
    try {
      new Logger('BuildService').log(`session ${SESSION}: succeeded`);
      new Logger('BuildService').error(`session ${SESSION}: failed`);
    } finally {
      Logger.overrideLogger(true);
    }
    expect(records()).toEqual([
      expect.objectContaining({ level: 'INFO', context: 'BuildService', sessionId: SESSION }),
      expect.objectContaining({
        level: 'ERROR',
        context: 'BuildService',
        sessionId: SESSION,
        message: `session ${SESSION}: failed`,
      }),
    ]);
    expect(records()[1]).not.toHaveProperty('stack');
  });
});
