import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { JETSTREAM, PlatformModule, presenceBucket, type JetStreamContext } from '@vibe/platform';
import { BRIDGE_CONFIG, realtimeMode, type BridgeConfig } from './config.js';
import { BuildEventsRepository } from './projector/build-events.repository.js';
import { ProjectorConsumer } from './projector/projector.consumer.js';
import { ChannelAccess } from './realtime/channel-access.js';
import { LocalRealtime } from './realtime/local-realtime.js';
import { PRESENCE_KV, PresenceReader, PresenceWatcher } from './realtime/presence.js';
import { REALTIME_SINK } from './realtime/realtime-sink.js';
import { SupabaseRealtime } from './realtime/supabase-realtime.js';

/**
 * Projects the BUILD_EVENTS stream into `build_events` (its only writer, DESIGN.md §1) and broadcasts each
 * projected event, and the architect's presence, on `build:{sessionId}` (spec §5): through Supabase Realtime
 * when configured, else through its own Realtime endpoint.
 */
@Module({})
export class RealtimeBridgeModule {
  static forRoot(config: BridgeConfig): DynamicModule {
    const realtime: Provider[] =
      realtimeMode(config) === 'supabase'
        ? [
            {
              provide: REALTIME_SINK,
              useFactory: () =>
                new SupabaseRealtime({
                  supabaseUrl: config.SUPABASE_URL!,
                  serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY!,
                }),
            },
          ]
        : [LocalRealtime, { provide: REALTIME_SINK, useExisting: LocalRealtime }];
    return {
      module: RealtimeBridgeModule,
      imports: [
        PlatformModule.forRoot({
          service: 'realtime-bridge',
          databaseUrl: config.DATABASE_URL,
          natsUrl: config.NATS_URL,
          natsNamespace: config.NATS_NAMESPACE,
          consumers: ['projector'],
        }),
      ],
      providers: [
        { provide: BRIDGE_CONFIG, useValue: config },
        { provide: PRESENCE_KV, useFactory: (ctx: JetStreamContext) => presenceBucket(ctx), inject: [JETSTREAM] },
        BuildEventsRepository,
        ProjectorConsumer,
        ChannelAccess,
        PresenceReader,
        PresenceWatcher,
        ...realtime,
      ],
    };
  }
}
