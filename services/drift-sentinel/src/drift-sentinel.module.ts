import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule } from '@vibe/platform';
import { AlertsRepository } from './checks/alerts.repository.js';
import { ChecksConsumer } from './checks/checks.consumer.js';
import { ChecksScheduler } from './checks/checks.scheduler.js';
import { DriftCheckService } from './checks/drift-check.service.js';
import { EnvironmentInspector } from './checks/environment.inspector.js';
import { SessionsRepository } from './checks/sessions.repository.js';
import { SpecChunksExplainer } from './checks/spec-chunks.explainer.js';
import { SENTINEL_CONFIG, type SentinelConfig } from './config.js';

/**
 * Drift checks (spec §10.1), scheduled and on request, through the provisioner: what drifted, how bad it is,
 * why it matters (the nearest spec chunk) and the SQL that restores the plan, as `drift_alerts` rows and
 * `drift_detected` events.
 */
@Module({})
export class DriftSentinelModule {
  static forRoot(config: SentinelConfig): DynamicModule {
    return {
      module: DriftSentinelModule,
      imports: [
        PlatformModule.forRoot({
          service: 'drift-sentinel',
          databaseUrl: config.DATABASE_URL,
          natsUrl: config.NATS_URL,
          natsNamespace: config.NATS_NAMESPACE,
        }),
      ],
      providers: [
        { provide: SENTINEL_CONFIG, useValue: config },
        SessionsRepository,
        AlertsRepository,
        EnvironmentInspector,
        SpecChunksExplainer,
        DriftCheckService,
        ChecksConsumer,
        ChecksScheduler,
      ],
    };
  }
}
