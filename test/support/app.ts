import { type DynamicModule, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

/** Keeps what the app logs, so a test can check that a cause was recorded (and nothing printed). */
export class CapturedLog implements LoggerService {
  readonly lines: string[] = [];
  log = (message: unknown, ...rest: unknown[]) => this.push('log', message, rest);
  error = (message: unknown, ...rest: unknown[]) => this.push('error', message, rest);
  warn = (message: unknown, ...rest: unknown[]) => this.push('warn', message, rest);
  debug = (message: unknown, ...rest: unknown[]) => this.push('debug', message, rest);
  verbose = (message: unknown, ...rest: unknown[]) => this.push('verbose', message, rest);
  fatal = (message: unknown, ...rest: unknown[]) => this.push('fatal', message, rest);

  private push(level: string, message: unknown, rest: unknown[]): void {
    this.lines.push(`${level} ${[message, ...rest].map(String).join(' ')}`);
  }
}

export interface StartedApp {
  app: NestFastifyApplication;
  url: string;
  log: CapturedLog;
}

/** The service in this process, as `bootstrapService` starts it, on a free port of 127.0.0.1. */
export async function startApp(module: DynamicModule, bodyLimit = 64 * 1024): Promise<StartedApp> {
  const log = new CapturedLog();
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter({ bodyLimit }), {
    logger: log,
  });
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl(), log };
}
