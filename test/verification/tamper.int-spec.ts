/**
 * Issue 5: the access matrix catches a planted mistake and the build fails naming the cell. The five services
 * run as processes; every build pauses at the start of `finalize` (the orchestrator's test pause hook), the
 * test plants one mistake straight into each paused build's environment database, and the orchestrator is
 * restarted without the pause: it resumes each build at `finalize` from its checkpoint, which verifies the
 * tampered environment. Deterministic: nothing runs in the environment between the tamper and the proof.
 * A fourth build, paused and resumed the same way but not tampered with, succeeds.
 */
import pg from 'pg';
import { BuildOutputs, type BuildEventView } from '@vibe/contracts';
import { withDatabase } from '@vibe/platform';
import { PG_ADMIN_URL } from '../support/index.js';
import { environmentName, startCrashStack, type CrashStack } from '../crash/support.js';

interface Mistake {
  name: string;
  sql: string;
  /** Lines the build's error and its build_failed event must hold. */
  failures: string[];
}

const MISTAKES: Mistake[] = [
  {
    name: 'a policy removed',
    sql: 'drop policy "orders_insert_own" on public.orders;',
    failures: [
      'cell owner insert public.orders: expected allow, got deny',
      'policy orders_insert_own on public.orders is missing',
    ],
  },
  {
    name: 'a using (true) write policy',
    sql: 'create policy "orders_update_any" on public.orders for update to authenticated using (true) with check (true);',
    failures: [
      'cell owner update public.orders: expected deny, got allow',
      'cell other update public.orders: expected deny, got allow',
    ],
  },
  {
    name: 'RLS disabled',
    sql: 'alter table public.bids disable row level security;',
    failures: [
      'cell anon select public.bids: expected deny, got allow',
      'cell other insert public.bids: expected deny, got allow',
      'ERROR lint rls_disabled_in_public on public.bids',
    ],
  },
];

describe('verification before build_succeeded, against planted mistakes', () => {
  let t: CrashStack;

  beforeAll(async () => {
    t = await startCrashStack('verify');
  });

  afterAll(async () => {
    await t?.close();
  });

  async function tamper(sessionId: string, sql: string): Promise<void> {
    const env = new pg.Client({
      connectionString: withDatabase(PG_ADMIN_URL, environmentName(t.envPrefix, sessionId)),
    });
    await env.connect();
    try {
      await env.query(sql);
    } finally {
      await env.end();
    }
  }

  it('fails each tampered build at verify, naming the cells, and removes its environment', async () => {
    await t.restartOrchestrator(['finalize']);
    const tampered = await Promise.all(MISTAKES.map(async (mistake) => ({ mistake, sessionId: await t.create() })));
    const control = await t.create();
    for (const sessionId of [...tampered.map((b) => b.sessionId), control]) await t.paused(sessionId, 'finalize');
    for (const { mistake, sessionId } of tampered) await tamper(sessionId, mistake.sql);
    await t.restartOrchestrator();

    for (const { mistake, sessionId } of tampered) {
      const session = await t.waitForStatus(sessionId, ['succeeded', 'failed']);
      expect([mistake.name, session.status]).toEqual([mistake.name, 'failed']);
      expect(session.error).toMatch(/^verify: the environment failed verification \(\d+ failure\(s\)\): cell /);
      expect(session.error).toContain(mistake.failures[0]);
      expect(session.outputs).toBeNull();

      const events: BuildEventView[] = await t.waitForProjection(sessionId);
      const failed = events.find((e) => e.type === 'build_failed')!;
      expect(failed.payload.step).toBe('verify');
      // Each expected line, followed for a denied or failed cell by the statement's error.
      const failures = failed.payload.failures as string[];
      for (const line of mistake.failures) {
        expect([line, failures.some((f) => f === line || f.startsWith(`${line} (`))]).toEqual([line, true]);
      }
      expect(events.some((e) => e.type === 'build_succeeded')).toBe(false);
      expect(events.find((e) => e.type === 'step_completed' && e.payload.step === 'discard_environment')?.message).toBe(
        `After the failure at verify: removed environment ${environmentName(t.envPrefix, sessionId)}`,
      );
    }
    const remaining = await t.environmentDatabases();
    for (const { sessionId } of tampered) expect(remaining).not.toContain(environmentName(t.envPrefix, sessionId));

    const session = await t.waitForStatus(control, ['succeeded', 'failed']);
    expect(session.status).toBe('succeeded');
    const verification = BuildOutputs.parse(session.outputs).verification!;
    expect(verification.passed).toBe(true);
    expect(verification.matrix.cells.length).toBeGreaterThan(0);
    expect(remaining).toContain(environmentName(t.envPrefix, control));
  });
});
