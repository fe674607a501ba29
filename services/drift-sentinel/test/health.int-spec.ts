import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  type TestDatabase,
} from '../../../test/support/index.js';
import { withDatabase } from '@vibe/platform';
import { SentinelConfig } from '../src/config.js';
import { DriftSentinelModule } from '../src/drift-sentinel.module.js';
import { startApp, type StartedApp } from '../../../test/support/app.js';

describe('drift-sentinel', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  const started: StartedApp[] = [];

  const start = async (databaseUrl: string) => {
    const config = SentinelConfig.parse({
      DATABASE_URL: databaseUrl,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      PORT: '0',
    });
    const app = await startApp(DriftSentinelModule.forRoot(config));
    started.push(app);
    return app;
  };

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_sentinel');
    namespace = createNamespace('ds');
  });

  afterAll(async () => {
    for (const app of started) await app.app.close();
    await namespace?.cleanup();
    await db?.drop();
  });

  it('boots connected, reports ok on /health and /health/live, and says when it checks', async () => {
    const sentinel = await start(db.url);

    const health = await fetch(`${sentinel.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      service: 'drift-sentinel',
      status: 'ok',
      // Its JetStream consumers (drift checks) are checked too.
      checks: { postgres: 'ok', nats: 'ok', consumers: 'ok' },
    });
    const live = await fetch(`${sentinel.url}/health/live`);
    expect(await live.json()).toEqual({ service: 'drift-sentinel', status: 'ok' });
    expect(sentinel.log.lines).toEqual(
      expect.arrayContaining([expect.stringMatching(/drift checks on schedule "\*\/5 \* \* \* \*" \(UTC\)/)]),
    );
  });

  it('reports 503 on /health, naming Postgres, when its database is unreachable', async () => {
    const sentinel = await start(withDatabase(db.url, `${db.name}_missing`));

    const health = await fetch(`${sentinel.url}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.checks.nats).toBe('ok');
    expect(body.checks.postgres).toMatch(/does not exist/);
  });
});
