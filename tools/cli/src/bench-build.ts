import pg from 'pg';
import { quoteIdent, withDatabase } from '@vibe/platform';
import { GatewayClient } from './gateway-client.js';
import { SAMPLE_VIBE } from './sample.js';

export interface BuildBenchResult {
  runs: number;
  wallMs: number[];
  floorMs: number[];
  medianWallMs: number;
  medianFloorMs: number;
  ratio: number;
}

/** How long the floor waits after a build (see benchBuild). */
const FLOOR_SETTLE_MS = 600;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Wall time from `POST /sessions` to `build_succeeded` for the sample vibe, beside its floor measured in
 * the same run: creating a database from the same template and applying the same migrations directly over
 * one connection. The migrations are read back from the environment's own ledger, so the floor applies
 * exactly the SQL the build applied.
 */
export async function benchBuild(
  gatewayUrl: string,
  adminUrl: string,
  runs: number,
  token?: string,
): Promise<BuildBenchResult> {
  const gateway = new GatewayClient(gatewayUrl, token);
  const wallMs: number[] = [];
  const floorMs: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const sessionId = await gateway.createSession({
      vibeText: SAMPLE_VIBE,
      template: 'marketplace',
      options: { enableAnalytics: true },
    });
    // The end is pushed on the event stream the moment it is published (no polling, no request rate to limit).
    const final = await gateway.waitForEvent(sessionId, ['build_succeeded', 'build_failed', 'build_canceled'], 120_000);
    if (final.type !== 'build_succeeded')
      throw new Error(`build ${sessionId} ended with ${final.type}: ${final.message}`);
    wallMs.push(performance.now() - started);
    const session = await gateway.getSession(sessionId);
    // The provisioner replaces the spare database and Deno process the build took in the background, right
    // after it ends: the floor waits for that, so that it is not measured against the system's own work.
    await new Promise((resolve) => setTimeout(resolve, FLOOR_SETTLE_MS));
    floorMs.push(await directFloor(adminUrl, String(session.environment?.database)));
  }
  const medianWallMs = median(wallMs);
  const medianFloorMs = median(floorMs);
  return { runs, wallMs, floorMs, medianWallMs, medianFloorMs, ratio: medianWallMs / medianFloorMs };
}

async function directFloor(adminUrl: string, environmentDb: string): Promise<number> {
  const env = new pg.Client({ connectionString: withDatabase(adminUrl, environmentDb) });
  await env.connect();
  let statements: string[];
  try {
    const { rows } = await env.query<{ statements: string[] }>(
      'select statements from supabase_migrations.schema_migrations order by version',
    );
    statements = rows.flatMap((row) => row.statements);
  } finally {
    await env.end();
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // The provisioner clones "branch" environments from `<prefix>template_<fingerprint>`; the floor does too.
  const prefix = environmentDb.slice(0, -32);
  // The template itself, not one of the spare clones the provisioner keeps beside it (`…template_<fp>_s<hex>`).
  const template = await admin.query<{ datname: string }>(
    `select datname from pg_database where datname ~ $1 order by oid desc limit 1`,
    [`^${prefix}template_[0-9a-f]{8}$`],
  );
  const source = template.rows[0];
  const floorDb = `${environmentDb.slice(0, 40)}_floor`;
  try {
    const started = performance.now();
    await admin.query(
      `create database ${quoteIdent(floorDb)}${source ? ` template ${quoteIdent(source.datname)}` : ''}`,
    );
    const direct = new pg.Client({ connectionString: withDatabase(adminUrl, floorDb) });
    await direct.connect();
    try {
      for (const statement of statements) await direct.query(statement);
    } finally {
      await direct.end();
    }
    return performance.now() - started;
  } finally {
    await admin.query(`drop database if exists ${quoteIdent(floorDb)} with (force)`);
    await admin.end();
  }
}
