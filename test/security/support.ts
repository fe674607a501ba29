/**
 * The gateway in this process, as `main.ts` starts it (its module, its body limit, its HTTP security), on a free
 * port of 127.0.0.1, recording every route Fastify registers, so that tests can hold a table of routes against it.
 */
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { BODY_LIMIT_BYTES, GatewayConfig } from '../../services/gateway/src/config.js';
import { GatewayModule } from '../../services/gateway/src/gateway.module.js';
import { configureHttpSecurity } from '../../services/gateway/src/http/http-security.js';
import { CapturedLog } from '../support/app.js';
import { NATS_URL } from '../support/index.js';

export interface TestGateway {
  app: NestFastifyApplication;
  url: string;
  log: CapturedLog;
  config: GatewayConfig;
  /** `GET /sessions/{id}/stream`, ...: every method and path registered, HEAD routes of GET routes left out. */
  routes(): string[];
  close(): Promise<void>;
}

export async function startGateway(env: Record<string, string>): Promise<TestGateway> {
  const config = GatewayConfig.parse({ NATS_URL, PORT: '0', ...env });
  const registered: string[] = [];
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES });
  adapter.getInstance().addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) registered.push(`${method} ${route.url}`);
  });
  const log = new CapturedLog();
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config), adapter, {
    logger: log,
  });
  configureHttpSecurity(app, config);
  await app.listen(0, '127.0.0.1');
  return {
    app,
    url: await app.getUrl(),
    log,
    config,
    routes: () =>
      [
        ...new Set(
          registered
            .filter((route) => !route.startsWith('HEAD ') || !registered.includes(route.replace(/^HEAD /, 'GET ')))
            .map((route) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')),
        ),
      ].sort(),
    close: () => app.close(),
  };
}

/** A response's status and body, for an SSE stream only its status (the stream is hung up at once). */
export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const controller = new AbortController();
  // A request the gateway never answers is a failure of its own, not a test timeout.
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer within 10 s: ${init.method ?? 'GET'} ${url.slice(0, 300)}`)),
    10_000,
  );
  try {
    const response = await fetch(url, { ...init, signal: controller.signal });
    if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      controller.abort();
      return { status: response.status, text: '', headers: response.headers };
    }
    return { status: response.status, text: await response.text(), headers: response.headers };
  } finally {
    clearTimeout(timer);
  }
}
