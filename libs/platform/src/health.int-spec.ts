import {
  Inject,
  Injectable,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';
import { startApp, type StartedApp } from '../../../test/support/app.js';
import { ACK, consumeDurable, consumerConfigs, type ConsumeLoop, type JetStreamContext } from './jetstream.js';
import { JETSTREAM, PlatformModule } from './nest.js';

/** A service that consumes the projector's consumer, as the realtime-bridge does, and can stop doing so. */
@Injectable()
class Projector implements OnApplicationBootstrap, BeforeApplicationShutdown {
  loop: ConsumeLoop | undefined;
  constructor(@Inject(JETSTREAM) readonly jetstream: JetStreamContext) {}

  onApplicationBootstrap(): void {
    this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  start(): void {
    const { streams, consumers } = this.jetstream.topology;
    this.loop = consumeDurable(this.jetstream, streams.events, consumers.projector, async () => ACK);
  }
}

@Module({})
class ConsumingService {
  static forRoot(databaseUrl: string, namespace: string, startLoop: boolean): DynamicModule {
    return {
      module: ConsumingService,
      imports: [
        PlatformModule.forRoot({
          service: 'consuming-service',
          databaseUrl,
          natsUrl: NATS_URL,
          natsNamespace: namespace,
          consumers: ['projector'],
        }),
      ],
      providers: startLoop ? [Projector] : [],
    };
  }
}

/** Readiness includes the JetStream consumers a service consumes: its consume loop runs, the server knows it. */
describe('readiness of a consuming service', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  const apps: StartedApp[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_health');
    namespace = createNamespace('hl');
  });

  afterAll(async () => {
    for (const app of apps) await app.app.close();
    await namespace?.cleanup();
    await db?.drop();
  });

  const health = async (app: StartedApp) => {
    const response = await fetch(`${app.url}/health`);
    return {
      status: response.status,
      body: (await response.json()) as { status: string; checks: Record<string, string> },
    };
  };

  it('is ready while its consume loop runs, and names the consumer when it stops or the server loses it', async () => {
    const app = await startApp(ConsumingService.forRoot(db.url, namespace.namespace, true));
    apps.push(app);
    const projector = app.app.get(Projector);
    const { streams, consumers } = projector.jetstream.topology;
    expect(await waitFor(async () => ((await health(app)).status === 200 ? health(app) : undefined))).toEqual({
      status: 200,
      body: { service: 'consuming-service', status: 'ok', checks: { postgres: 'ok', nats: 'ok', consumers: 'ok' } },
    });

    // The loop stops (a consumer that gave up, or a shutdown): not ready, and says which consumer.
    await projector.loop!.stop();
    const stopped = await health(app);
    expect(stopped.status).toBe(503);
    expect(stopped.body.checks).toEqual({
      postgres: 'ok',
      nats: 'ok',
      consumers: `${consumers.projector}: not consuming (no consume loop)`,
    });

    projector.start();
    await waitFor(async () => (await health(app)).status === 200, { what: 'ready again' });

    // The consumer is deleted on the server: the loop cannot pull, so the service is not ready.
    await projector.jetstream.jsm.consumers.delete(streams.events, consumers.projector);
    const lost = await waitFor(async () => {
      const h = await health(app);
      return h.status === 503 ? h : undefined;
    });
    expect(lost.body.checks.consumers).toContain(consumers.projector);

    // Created again (what the next start's ensureTopology does): consuming, ready.
    const config = consumerConfigs(projector.jetstream.topology).find(
      (c) => c.config.durable_name === consumers.projector,
    )!;
    await projector.jetstream.jsm.consumers.add(config.stream, config.config);
    await waitFor(async () => (await health(app)).status === 200, {
      timeoutMs: 20_000,
      what: 'ready after the consumer was created again',
    });
  });

  it('is not ready when a consumer it declares has no consume loop at all', async () => {
    const app = await startApp(ConsumingService.forRoot(db.url, namespace.namespace, false));
    apps.push(app);
    const h = await health(app);
    expect(h.status).toBe(503);
    expect(h.body.checks.consumers).toBe('realtime-bridge-projector: not consuming (no consume loop)');
  });
});
