import {
  Controller,
  Get,
  Inject,
  Injectable,
  Logger,
  Module,
  ServiceUnavailableException,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
  type HealthCheckResult,
  type HealthIndicatorFunction,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { Topology } from '@vibe/contracts';
import { createPool, type Pool } from './db.js';
import { connectJetStream, consumeLoops, ensureTopology, type JetStreamContext } from './jetstream.js';
import { MetricsController, metrics } from './metrics.js';
import { redactText } from './redact.js';

/** Injection tokens of the shared connections. */
export const PG_POOL = Symbol('PG_POOL');
export const JETSTREAM = Symbol('JETSTREAM');
export const SERVICE_NAME = Symbol('SERVICE_NAME');
export const PLATFORM_OPTIONS = Symbol('PLATFORM_OPTIONS');

export interface PlatformOptions {
  service: string;
  databaseUrl: string;
  natsUrl: string;
  natsNamespace: string;
  poolSize?: number;
  /**
   * The durable consumers this service consumes (names as in the topology). Readiness requires each one's
   * consume loop to be running and the consumer to answer on the server.
   */
  consumers?: ReadonlyArray<keyof Topology['consumers']>;
}

/** How long one readiness check may take before it counts as down (probes time out at 5 s). */
const CHECK_TIMEOUT_MS = 2000;

@Injectable()
class ConnectionCloser implements OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.jetstream.nc.drain().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

/** The readiness checks of a service: its Postgres, its NATS connection and its JetStream consumers. */
@Injectable()
export class PlatformHealthIndicators {
  constructor(
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    private readonly indicators: HealthIndicatorService,
  ) {}

  postgres(): PromiseLike<HealthIndicatorResult<'postgres'>> {
    return this.indicators
      .check('postgres')
      .attempt(async () => {
        await this.pool.query('select 1');
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /** Connected: a round trip to the server answers (it fails at once while the client is reconnecting). */
  nats(): PromiseLike<HealthIndicatorResult<'nats'>> {
    return this.indicators
      .check('nats')
      .attempt(async () => {
        if (this.jetstream.nc.isClosed()) throw new Error('the connection is closed');
        await this.jetstream.nc.rtt();
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /**
   * Every consumer this service consumes: its consume loop is pulling, and the server knows the consumer
   * (its lag is recorded for the metrics on the way).
   */
  consumers(): PromiseLike<HealthIndicatorResult<'consumers'>> {
    return this.indicators
      .check('consumers')
      .attempt(async () => {
        const loops = consumeLoops(this.jetstream).map(({ loop }) => loop);
        const expected = (this.options.consumers ?? []).map((key) => this.jetstream.topology.consumers[key]);
        const problems = expected
          .filter((durable) => !loops.some((loop) => loop.durable === durable))
          .map((durable) => `${durable}: not consuming (no consume loop)`);
        for (const loop of loops.filter((candidate) => candidate.state() !== 'consuming')) {
          const why = loop.lastError();
          problems.push(`${loop.durable}: not consuming (${loop.state()}${why ? `: ${why}` : ''})`);
        }
        if (problems.length === 0 && loops.length > 0) {
          await this.jetstream.nc.rtt();
          const answers = await metrics.consumerLag();
          for (const loop of loops) {
            if (!answers.some((lag) => lag.consumer === loop.durable && lag.stream === loop.stream)) {
              problems.push(`${loop.durable}: no answer from the server about the consumer`);
            }
          }
        }
        if (problems.length > 0) throw new Error(problems.join('; '));
      })
      .withTimeout(CHECK_TIMEOUT_MS);
  }

  /** Whether this service has consumers to check. */
  hasConsumers(): boolean {
    return (this.options.consumers ?? []).length > 0 || consumeLoops(this.jetstream).length > 0;
  }
}

/** What /health and /health/live answer (the shape predates Terminus and is kept). */
export interface HealthReport {
  service: string;
  status: 'ok' | 'unavailable';
  checks?: Record<string, string>;
}

@Controller('health')
export class HealthController {
  constructor(
    @Inject(SERVICE_NAME) private readonly service: string,
    private readonly health: HealthCheckService,
    private readonly indicators: PlatformHealthIndicators,
  ) {}

  /** Liveness: the process answers (no dependency: a database outage must not restart every pod). */
  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  async live(): Promise<HealthReport> {
    await this.report(this.health.check([]));
    return { service: this.service, status: 'ok' };
  }

  /**
   * Readiness: Postgres answers, NATS is connected and every JetStream consumer of the service is being
   * consumed. 503 naming what is not, and 503 once the service is shutting down.
   */
  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  async ready(): Promise<HealthReport> {
    const checks: HealthIndicatorFunction[] = [() => this.indicators.postgres(), () => this.indicators.nats()];
    if (this.indicators.hasConsumers()) checks.push(() => this.indicators.consumers());
    return this.report(this.health.check(checks));
  }

  private async report(check: Promise<HealthCheckResult>): Promise<HealthReport> {
    let result: HealthCheckResult;
    try {
      result = await check;
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      result = error.getResponse() as HealthCheckResult;
    }
    const checks: Record<string, string> = {};
    for (const [key, detail] of Object.entries(result.details)) {
      const message: unknown = (detail as Record<string, unknown>).message;
      checks[key] =
        detail.status === 'up' ? 'ok' : redactText(typeof message === 'string' ? message : String(detail.status));
    }
    const report: HealthReport = {
      service: this.service,
      status: result.status === 'ok' ? 'ok' : 'unavailable',
      ...(Object.keys(checks).length > 0 || result.status !== 'ok' ? { checks } : {}),
    };
    if (result.status === 'shutting_down') report.checks = { ...checks, shutdown: 'the service is shutting down' };
    if (report.status !== 'ok') throw new ServiceUnavailableException(report);
    return report;
  }
}

/**
 * Postgres pool, JetStream connection (topology ensured at start), health endpoints (Terminus) and
 * Prometheus metrics for a service.
 */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const logger = new Logger('Platform');
    return {
      module: PlatformModule,
      global: true,
      imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_NAME, useValue: options.service },
        { provide: PLATFORM_OPTIONS, useValue: options },
        { provide: PG_POOL, useFactory: () => createPool(options.databaseUrl, options.service, options.poolSize) },
        {
          provide: JETSTREAM,
          useFactory: async () => {
            const ctx = await connectJetStream(options.natsUrl, options.natsNamespace, options.service);
            await ensureTopology(ctx);
            logger.log(`JetStream topology ready (namespace "${options.natsNamespace}")`);
            return ctx;
          },
        },
        ConnectionCloser,
        PlatformHealthIndicators,
      ],
      exports: [PG_POOL, JETSTREAM, SERVICE_NAME],
    };
  }
}
