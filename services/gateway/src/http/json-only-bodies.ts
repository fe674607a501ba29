import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type FastifyAdapter } from '@nestjs/platform-fastify';

/**
 * The API reads JSON only. Nest's Fastify adapter also parses form posts and Fastify parses text/plain;
 * both are "simple" requests that a browser sends cross-origin without a CORS preflight, so they are
 * removed and answered 415.
 */
@Injectable()
export class JsonOnlyBodies implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost<FastifyAdapter>) {}

  onModuleInit(): void {
    this.adapterHost.httpAdapter
      .getInstance()
      .removeContentTypeParser(['application/x-www-form-urlencoded', 'text/plain']);
  }
}
