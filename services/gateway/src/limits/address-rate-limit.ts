import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type FastifyAdapter } from '@nestjs/platform-fastify';
import { BODY_LIMIT_BYTES, GATEWAY_CONFIG, type GatewayConfig } from '../config.js';
import { errorReply } from '../http/error-reply.js';
import { clientAddress } from './client-address.js';
import { RateLimits } from './rate-limits.js';

/** Probes and scrapes are never limited: a busy address must not make a replica look unready. */
const UNLIMITED = new Set(['/health', '/health/live', '/metrics']);

/**
 * The per-address rate limit, as Fastify's first request hook: before routing to a handler, before a body is
 * read and before any token is verified, so a flood costs as little as possible, whatever route it hits
 * (unknown ones too). Answered 429 with `Retry-After`, in the error shape of every other error.
 */
@Injectable()
export class AddressRateLimit implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost<FastifyAdapter>,
    private readonly limits: RateLimits,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  onModuleInit(): void {
    this.adapterHost.httpAdapter.getInstance().addHook('onRequest', async (request, reply) => {
      if (UNLIMITED.has(request.url.split('?')[0]!)) return;
      const address = clientAddress(request.ip, request.headers['x-forwarded-for'], this.config.TRUSTED_PROXY_HOPS);
      const refusal = this.limits.address(address);
      if (!refusal) return;
      const { status, body } = errorReply(refusal, { bodyLimit: BODY_LIMIT_BYTES, errorId: randomUUID() });
      await reply.code(status).header('retry-after', String(refusal.retryAfterSeconds)).send(body);
    });
  }
}
