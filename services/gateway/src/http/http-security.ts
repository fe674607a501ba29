import { type SecurityHeadersOptions } from '@nestjs/common';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type GatewayConfig } from '../config.js';

/**
 * Headers on every response (NestJS's built-in `useSecurityHeaders`, helmet's headers). The JSON API may be
 * rendered by nothing and framed by no one; the viewer page and the docs page set their own, wider CSP.
 */
export function securityHeaders(config: GatewayConfig): SecurityHeadersOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    xContentTypeOptions: true,
    // No-cors embedding from other sites is refused; pages of CORS_ORIGINS read through CORS, which CORP leaves alone.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    // Only meaningful over HTTPS: sent when the deployment says it is served over TLS.
    strictTransportSecurity:
      config.HSTS_MAX_AGE_SECONDS > 0 ? { maxAge: config.HSTS_MAX_AGE_SECONDS, includeSubDomains: true } : false,
  };
}

/**
 * The gateway's HTTP edge, applied to the application before it listens (main.ts, and tests that start it):
 * security headers, and CORS for the configured origins only (none by default: browsers then refuse every
 * cross-origin call). Credentials are bearer tokens, never cookies, so CORS never allows credentials.
 */
export function configureHttpSecurity(app: NestFastifyApplication, config: GatewayConfig): void {
  app.useSecurityHeaders(securityHeaders(config));
  if (config.CORS_ORIGINS.length > 0) {
    app.enableCors({
      origin: config.CORS_ORIGINS,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'x-share-token', 'last-event-id'],
      exposedHeaders: ['x-next-cursor', 'retry-after'],
      credentials: false,
      maxAge: 600,
    });
  }
}
