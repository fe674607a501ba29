import { type LoggerService, type LogLevel } from '@nestjs/common';
import { redact, redactText } from './redact.js';

/** Nest's levels, most severe first; LOG_LEVEL names the least severe one printed. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const satisfies readonly LogLevel[];
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** How each level is written in the `level` field (`log` is Nest's name for info). */
const LEVEL_NAMES: Record<LogLevelName, string> = {
  fatal: 'FATAL',
  error: 'ERROR',
  warn: 'WARN',
  log: 'INFO',
  debug: 'DEBUG',
  verbose: 'VERBOSE',
};

/**
 * One log line. LOG FORMAT: log pipelines parse these fields; add fields, do not rename them.
 */
export interface LogRecord {
  level: string;
  /** ISO 8601, UTC. */
  time: string;
  service: string;
  context?: string;
  message: string;
  /** The build session the line is about, when the message or its context names one. */
  sessionId?: string;
  stack?: string;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** "session <id>", "session=<id>", "sessionId: <id>", "session_id <id>", `"sessionId":"<id>"`. */
const SESSION_IN_TEXT = new RegExp(`\\bsession(?:[ _-]?id)?"?\\s*[:=]?\\s*"?(${UUID})\\b`, 'i');
const BARE_UUID = new RegExp(`^(${UUID})$`, 'i');

/** The session a message or context carries, lower-cased; undefined when it names none. */
export function sessionIdIn(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const match = SESSION_IN_TEXT.exec(text) ?? BARE_UUID.exec(text.trim());
  return match?.[1]?.toLowerCase();
}

/** The last string argument of a Nest log call is its context (as Nest's ConsoleLogger reads it). */
function splitContext(params: unknown[]): { context?: string; rest: unknown[] } {
  const last = params.at(-1);
  return typeof last === 'string' ? { context: last, rest: params.slice(0, -1) } : { rest: params };
}

const STACK_LINE = /\n\s+at .+/;

/**
 * The record of one Nest log call, secrets redacted. `error(message, stack?, context?)` and
 * `log(message, context?)` as Nest calls them; an Error as the message gives its message and stack.
 */
export function toLogRecord(
  service: string,
  level: LogLevelName,
  message: unknown,
  params: unknown[],
  now: Date = new Date(),
): LogRecord {
  let { context, rest } = splitContext(params);
  let stack: string | undefined;
  if (level === 'error' || level === 'fatal') {
    // `error(message, stack)` without a context: the one string is a stack when it looks like one.
    if (params.length === 1 && typeof params[0] === 'string' && STACK_LINE.test(params[0])) {
      stack = params[0];
      context = undefined;
      rest = [];
    } else if (rest.length > 0 && (typeof rest.at(-1) === 'string' || rest.at(-1) === undefined)) {
      stack = rest.at(-1) as string | undefined;
      rest = rest.slice(0, -1);
    }
  }
  let text: string;
  let sessionId: string | undefined;
  if (message instanceof Error) {
    text = message.message || message.name;
    stack ??= message.stack;
  } else if (typeof message === 'string') {
    text = message;
  } else {
    const value: unknown = redact(message);
    if (typeof value === 'object' && value !== null && 'sessionId' in value && typeof value.sessionId === 'string') {
      sessionId = sessionIdIn(`sessionId ${value.sessionId}`);
    }
    text = JSON.stringify(value) ?? String(value);
  }
  if (rest.length > 0)
    text = `${text} ${rest.map((item) => (typeof item === 'string' ? item : JSON.stringify(redact(item)))).join(' ')}`;
  sessionId ??= sessionIdIn(text) ?? sessionIdIn(context);
  const record: LogRecord = {
    level: LEVEL_NAMES[level],
    time: now.toISOString(),
    service,
    ...(context ? { context: redactText(context) } : {}),
    message: redactText(text),
    ...(sessionId ? { sessionId } : {}),
    ...(stack ? { stack: redactText(stack) } : {}),
  };
  return record;
}

export interface JsonLoggerOptions {
  /** The least severe level printed (default `log`). */
  level?: LogLevelName;
  /** Where a finished line goes (default: stdout, and stderr for error and fatal). */
  write?: (line: string, level: LogLevelName) => void;
}

function defaultWrite(line: string, level: LogLevelName): void {
  (level === 'error' || level === 'fatal' ? process.stderr : process.stdout).write(line);
}

/**
 * Nest's logger for every service: one JSON object per line (level, time, service, context, message, and
 * sessionId when the line is about a session), secrets redacted with the one redaction function.
 */
export class JsonLogger implements LoggerService {
  private enabled: Set<LogLevel>;
  private readonly write: (line: string, level: LogLevelName) => void;

  constructor(
    private readonly service: string,
    options: JsonLoggerOptions = {},
  ) {
    this.enabled = new Set(LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(options.level ?? 'log') + 1));
    this.write = options.write ?? defaultWrite;
  }

  log(message: unknown, ...params: unknown[]): void {
    this.print('log', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.print('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.print('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.print('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.print('verbose', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.print('fatal', message, params);
  }

  setLogLevels(levels: LogLevel[]): void {
    this.enabled = new Set(levels);
  }

  private print(level: LogLevelName, message: unknown, params: unknown[]): void {
    if (!this.enabled.has(level)) return;
    this.write(`${JSON.stringify(toLogRecord(this.service, level, message, params))}\n`, level);
  }
}
