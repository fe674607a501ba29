/**
 * The gateway alone, in this process: its own control-plane database and NATS namespace, a Postgres client on
 * that database (to write sessions as the gateway and the orchestrator write them) and a JetStream context in
 * that namespace (to see what the gateway published). No orchestrator consumes, so every session stays as it
 * is written; LENIENT_LIMITS keep the build cap out of the way.
 */
import pg from 'pg';
import { connectJetStream, type JetStreamContext } from '@vibe/platform';
import { BODY_LIMIT_BYTES, GatewayConfig } from '../../services/gateway/src/config.js';
import { GatewayModule } from '../../services/gateway/src/gateway.module.js';
import { startApp, type StartedApp } from './app.js';
import { LENIENT_LIMITS } from './auth.js';
import { createControlPlaneDatabase, createNamespace, NATS_URL, type TestDatabase } from './index.js';

export interface LoneGateway {
  gateway: StartedApp;
  db: TestDatabase;
  control: pg.Client;
  nats: JetStreamContext;
  close(): Promise<void>;
}

/** `name`: a short tag for the database, namespace and NATS connection names (letters and digits). */
export async function startLoneGateway(name: string, env: Record<string, string> = {}): Promise<LoneGateway> {
  const db = await createControlPlaneDatabase(`vibe_test_${name}`);
  const namespace = createNamespace(name.slice(0, 4));
  const config = GatewayConfig.parse({
    DATABASE_URL: db.url,
    NATS_URL,
    NATS_NAMESPACE: namespace.namespace,
    PORT: '0',
    ...LENIENT_LIMITS,
    ...env,
  });
  const gateway = await startApp(GatewayModule.forRoot(config), BODY_LIMIT_BYTES);
  const control = new pg.Client({ connectionString: db.url });
  await control.connect();
  const nats = await connectJetStream(NATS_URL, namespace.namespace, `${name}-test`);
  return {
    gateway,
    db,
    control,
    nats,
    close: async () => {
      await gateway.app.close();
      await control.end();
      await nats.nc.close();
      await namespace.cleanup();
      await db.drop();
    },
  };
}
