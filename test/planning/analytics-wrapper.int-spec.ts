/**
 * Spec §10.2 in a real environment: with a wrapper's foreign table configured, `run_analytics_query()` reads
 * the wrapper's rows instead of the environment's own. The wrapper here is Postgres' file_fdw over a CSV
 * file (Supabase Wrappers' iceberg_fdw / s3_fdw are not on this machine); what the renderer does with it is
 * the same: a foreign table read through the same function, shape and grants.
 */
import { writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allMigrations, chunkVibe, planWithRules, renderAnalyticsWrapper, renderPlan } from '@vibe/planning';
import { startLocalMcp, type LocalMcp } from '../../services/provisioner/test/local-mcp.js';
import { uniqueName } from '../support/index.js';

const VIBE = 'Sellers list furniture, buyers order it. Show daily sales analytics.';

describe('analytics through an S3/Iceberg-style wrapper (spec §10.2)', () => {
  let mcp: LocalMcp;
  let ref: string;
  const csv = join(tmpdir(), `${uniqueName('orders')}.csv`);
  const plan = planWithRules({
    vibeText: VIBE,
    chunks: chunkVibe(VIBE),
    template: 'marketplace',
    options: { enableAnalytics: true, enableDriftSentinel: false },
  });

  beforeAll(async () => {
    mcp = await startLocalMcp();
    ref = await mcp.createEnvironment('branch');
    // The "bucket": three days of sample orders, unlike the environment's own demo rows.
    await writeFile(
      csv,
      [
        'created_at,total_cents',
        '2026-03-01T10:00:00Z,1000',
        '2026-03-01T11:00:00Z,2500',
        '2026-03-02T09:00:00Z,700',
        '2026-03-03T09:00:00Z,300',
      ].join('\n'),
      { mode: 0o644 },
    );
    await mcp.inEnvironment(ref, async (db) => {
      for (const migration of allMigrations(renderPlan(plan))) await db.query(migration.query);
      await db.query(`create extension if not exists file_fdw;
        create server sample_bucket foreign data wrapper file_fdw;
        create schema analytics;
        create foreign table analytics.orders_iceberg (created_at timestamptz, total_cents int)
          server sample_bucket options (filename '${csv}', format 'csv', header 'true');`);
    });
  });

  afterAll(async () => {
    await mcp?.close();
    await rm(csv, { force: true });
  });

  const analytics = () =>
    mcp.inEnvironment(ref, async (db) => {
      await db.query('begin');
      try {
        await db.query(`select set_config('role', 'service_role', true)`);
        const { rows } = await db.query<{ rows: Array<{ day: string; rows: number; total: number }> }>(
          'select public.run_analytics_query() as rows',
        );
        return rows[0]!.rows;
      } finally {
        await db.query('rollback');
      }
    });

  it('reads the environment’s own table without a wrapper, and the wrapper’s rows with one', async () => {
    const local = await analytics();
    expect(local.map((row) => [row.rows, row.total])).toEqual([
      [1, 4200],
      [1, 8500],
    ]);
    await mcp.inEnvironment(ref, (db) => db.query(renderAnalyticsWrapper(plan, 'analytics.orders_iceberg').query));
    const wrapped = await analytics();
    expect(wrapped.map((row) => [row.day.slice(0, 10), row.rows, row.total])).toEqual([
      ['2026-03-03', 1, 300],
      ['2026-03-02', 1, 700],
      ['2026-03-01', 2, 3500],
    ]);
  });

  it('keeps the function to the service role, as without the wrapper', async () => {
    await expect(
      mcp.inEnvironment(ref, async (db) => {
        await db.query('begin');
        try {
          await db.query(`select set_config('role', 'authenticated', true)`);
          return await db.query('select public.run_analytics_query()');
        } finally {
          await db.query('rollback');
        }
      }),
    ).rejects.toThrow(/permission denied/);
  });
});
