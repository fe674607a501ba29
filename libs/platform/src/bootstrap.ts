import { Logger, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { BaseConfig, loadConfig } from './config.js';
import { JsonLogger } from './logger.js';
import { redactText } from './redact.js';

/**
 * Starts a service: JSON logs (LOG_LEVEL), Fastify, shutdown hooks, listening on its port; a failure to
 * boot exits 1. `configure` sets up the application before it listens (security headers, CORS).
 */
export async function bootstrapService(
  service: string,
  module: Type | DynamicModule,
  listen: { host: string; port: number },
  bodyLimit = 64 * 1024,
  configure?: (app: NestFastifyApplication) => void,
): Promise<NestFastifyApplication> {
  const jsonLogger = new JsonLogger(service, { level: loadConfig(BaseConfig.pick({ LOG_LEVEL: true })).LOG_LEVEL });
  // Before the app exists, so that what is logged while it is created is JSON too.
  Logger.overrideLogger(jsonLogger);
  const logger = new Logger(service);
  try {
    const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter({ bodyLimit }), {
      logger: jsonLogger,
    });
    app.enableShutdownHooks();
    configure?.(app);
    await app.listen(listen.port, listen.host);
    logger.log(`listening on http://${listen.host}:${listen.port}`);
    return app;
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    logger.error(`failed to start: ${redactText(failure.message)}`, failure.stack);
    process.exit(1);
  }
}
