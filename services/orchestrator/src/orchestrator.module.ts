import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule } from '@vibe/platform';
import { AdoptionScheduler } from './build/adoption.scheduler.js';
import { BuildConsumer } from './build/build.consumer.js';
import { BuildService } from './build/build.service.js';
import { DemoSweeper } from './build/demo-sweeper.js';
import { ORCHESTRATOR_CONFIG, type OrchestratorConfig } from './config.js';

@Module({})
export class OrchestratorModule {
  static forRoot(config: OrchestratorConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [
        PlatformModule.forRoot({
          service: 'orchestrator',
          databaseUrl: config.DATABASE_URL,
          natsUrl: config.NATS_URL,
          natsNamespace: config.NATS_NAMESPACE,
          consumers: ['orchestrator'],
          // Builds, their checkpoints and the adoption scan share it; session leases have connections of their own.
          poolSize: 20,
        }),
      ],
      providers: [
        { provide: ORCHESTRATOR_CONFIG, useValue: config },
        BuildService,
        BuildConsumer,
        AdoptionScheduler,
        DemoSweeper,
      ],
    };
  }
}
