import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { PlatformModule } from '@vibe/platform';
import { AuthGuard } from './auth/auth.guard.js';
import { DevTokenController } from './auth/dev-token.controller.js';
import { JWT_VERIFIER_PROVIDER } from './auth/jwt-verifier.provider.js';
import { SessionOwnersRepository } from './auth/session-owners.repository.js';
import { GATEWAY_CONFIG, type GatewayConfig } from './config.js';
import { EventsController } from './events/events.controller.js';
import { EventsRepository } from './events/events.repository.js';
import { HandoverController } from './handover/handover.controller.js';
import { HandoverRepository } from './handover/handover.repository.js';
import { HttpErrorFilter } from './http/http-error.filter.js';
import { JsonOnlyBodies } from './http/json-only-bodies.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { BuildCommandsPublisher } from './sessions/build-commands.publisher.js';
import { SessionsController } from './sessions/sessions.controller.js';
import { SessionsRepository } from './sessions/sessions.repository.js';
import { SessionsService } from './sessions/sessions.service.js';
import { SessionStreamService } from './stream/session-stream.service.js';
import { StreamController } from './stream/stream.controller.js';
import { ViewerController } from './viewer/viewer.controller.js';
import { AddressRateLimit } from './limits/address-rate-limit.js';
import { RateLimits } from './limits/rate-limits.js';
import { DriftModule } from './drift/drift.module.js';

/** REST edge (spec §4): creates sessions, queues their builds, reads sessions and their events. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        PlatformModule.forRoot({
          service: 'gateway',
          databaseUrl: config.DATABASE_URL,
          natsUrl: config.NATS_URL,
          natsNamespace: config.NATS_NAMESPACE,
        }),
        DriftModule,
      ],
      controllers: [
        SessionsController,
        EventsController,
        StreamController,
        ViewerController,
        OpenApiController,
        DevTokenController,
        HandoverController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        // Global and unscoped, so it also answers Fastify's own errors (bad JSON, too large a body).
        { provide: APP_FILTER, useClass: HttpErrorFilter },
        // Every route of every module: who may call it is declared on it (auth/auth.decorators.ts), default deny.
        { provide: APP_GUARD, useClass: AuthGuard },
        JWT_VERIFIER_PROVIDER,
        SessionOwnersRepository,
        RateLimits,
        AddressRateLimit,
        JsonOnlyBodies,
        SessionsService,
        SessionsRepository,
        BuildCommandsPublisher,
        EventsRepository,
        SessionStreamService,
        HandoverRepository,
      ],
    };
  }
}
