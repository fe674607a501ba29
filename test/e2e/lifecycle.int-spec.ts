/**
 * The life of an environment after its build (issue 12), through the five services as processes: the owner's
 * `DELETE /sessions/:id` tears the environment down (the local database is really dropped), cancels a build still
 * going first, and keeps the audit trail; a demo environment past DEMO_ENVIRONMENT_TTL_SECONDS is torn down by the
 * orchestrator's sweeper with `environment_expired`; nobody else can delete or list someone's sessions.
 */
import { SessionList, type BuildEventView, type SessionView } from '@vibe/contracts';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { aUser, signedIn, tokenFor } from '../support/auth.js';
import { waitFor } from '../support/index.js';
import { BUILD_REQUEST, duplicates, environmentName, startCrashStack, type CrashStack } from '../crash/support.js';

const TTL_SECONDS = 3600;
const ROOT = path.resolve(__dirname, '../..');

/** The built CLI as a user runs it. */
function vibe(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'tools/cli/dist/main.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('deleting sessions and expiring demo environments, end to end', () => {
  let t: CrashStack;

  beforeAll(async () => {
    t = await startCrashStack('lifecycle', {
      // Every build pauses 1 s at configure_rls, so that a delete can arrive while one runs.
      VIBE_TEST_PAUSE_AT_NODE: 'configure_rls',
      VIBE_TEST_PAUSE_MS: '1000',
      DEMO_ENVIRONMENT_TTL_SECONDS: String(TTL_SECONDS),
      DEMO_SWEEP_INTERVAL_MS: '300',
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  const remove = (sessionId: string, headers?: Record<string, string>) =>
    headers
      ? fetch(`${t.stack.gatewayUrl}/sessions/${sessionId}`, { method: 'DELETE', headers }).then(async (r) => ({
          status: r.status,
          body: await r.json(),
        }))
      : t.api(`/sessions/${sessionId}`, { method: 'DELETE' });

  async function waitForEvent(sessionId: string, type: string, timeoutMs = 60_000): Promise<BuildEventView[]> {
    return waitFor(
      async () => {
        const events = await t.events(sessionId);
        return events.some((event) => event.type === type) ? events : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `${type} of session ${sessionId}` },
    );
  }

  async function buildEventIds(sessionId: string): Promise<string[]> {
    const { rows } = await t.control.query<{ id: string }>('select id from build_events where session_id = $1', [
      sessionId,
    ]);
    return rows.map((row) => row.id);
  }

  it('drops the environment of a built session, keeps its events and row, and lets no one else do it', async () => {
    const sessionId = await t.create();
    expect((await t.waitForStatus(sessionId, ['succeeded', 'failed'])).status).toBe('succeeded');
    const database = environmentName(t.envPrefix, sessionId);
    expect(await t.environmentDatabases()).toContain(database);
    await t.waitForProjection(sessionId);
    const before = await buildEventIds(sessionId);

    // Another user: the same 404 as an unknown session, and the environment stays.
    const intruder = await remove(sessionId, signedIn(aUser()));
    expect(intruder.status).toBe(404);
    expect((await remove(sessionId, {})).status).toBe(401);
    expect(await t.environmentDatabases()).toContain(database);

    expect(await remove(sessionId)).toEqual({ status: 202, body: { sessionId, deleteRequested: true } });
    const events = await waitForEvent(sessionId, 'environment_deleted');
    const deleted = events.filter((event) => event.type === 'environment_deleted');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]!.payload).toEqual({ environment: database, removed: true, buildCanceled: false });
    expect(deleted[0]!.message).toMatch(/^Session deleted by its owner: environment .* removed/);

    // Really gone: the database no longer exists on the server.
    expect(await t.environmentDatabases()).not.toContain(database);
    // The audit trail stays: every event from before is still in build_events, the teardown's audit records too.
    const after = await buildEventIds(sessionId);
    expect(before.filter((id) => !after.includes(id))).toEqual([]);
    expect(after.length).toBeGreaterThan(before.length);
    expect(events.filter((e) => e.type === 'provisioner_call' && e.payload.tool === 'delete_environment')).toHaveLength(
      1,
    );
    expect(duplicates(events)).toEqual([]);

    // The session stays readable, says it was deleted, and its build's outcome is unchanged.
    const session = await waitFor(
      async () => {
        const view = await t.session(sessionId);
        return view.deletion?.completedAt ? view : undefined;
      },
      { what: 'the deletion to be recorded as complete' },
    );
    expect(session).toMatchObject({ status: 'succeeded', deletion: { reason: 'owner' } });
    const { rows } = await t.control.query<{ removed: boolean }>(
      'select environment_removed_at is not null as removed from build_sessions where id = $1',
      [sessionId],
    );
    expect(rows).toEqual([{ removed: true }]);

    // Listings leave it out unless asked.
    const listed = SessionList.parse((await t.api('/sessions?limit=100')).body);
    expect(listed.sessions.map((s) => s.id)).not.toContain(sessionId);
    const all = SessionList.parse((await t.api('/sessions?limit=100&include_deleted=true')).body);
    expect(all.sessions.find((s) => s.id === sessionId)?.deletion?.reason).toBe('owner');
    // Deleting again changes nothing.
    expect((await remove(sessionId)).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await t.events(sessionId)).filter((e) => e.type === 'environment_deleted')).toHaveLength(1);
  });

  it('cancels a build still running before it tears the environment down', async () => {
    const sessionId = await t.create();
    await t.paused(sessionId, 'configure_rls');
    expect(await t.environmentDatabases()).toContain(environmentName(t.envPrefix, sessionId));
    expect((await remove(sessionId)).status).toBe(202);

    const events = await waitForEvent(sessionId, 'environment_deleted');
    const types = events.map((event) => event.type);
    expect(types.indexOf('build_canceled')).toBeGreaterThan(-1);
    expect(types.indexOf('build_canceled')).toBeLessThan(types.indexOf('environment_deleted'));
    expect(types).not.toContain('build_succeeded');
    // The cancel removed the environment; the teardown found it gone and says so.
    expect(events.find((event) => event.type === 'environment_deleted')!.payload).toEqual({
      environment: environmentName(t.envPrefix, sessionId),
      removed: false,
      buildCanceled: true,
    });
    expect((await t.session(sessionId)).status).toBe('canceled');
    expect(await t.environmentDatabases()).not.toContain(environmentName(t.envPrefix, sessionId));
  });

  it('sweeps a demo environment once it is older than the TTL, with environment_expired, and nothing else', async () => {
    const demo = await t.create({ ...BUILD_REQUEST, options: { demo: true } });
    const regular = await t.create();
    for (const id of [demo, regular])
      expect((await t.waitForStatus(id, ['succeeded', 'failed'])).status).toBe('succeeded');
    // Nothing is swept before its time.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await t.events(demo)).map((e) => e.type)).not.toContain('environment_expired');

    // Both made two hours ago: only the demo is past its time.
    await t.control.query(`update build_sessions set created_at = now() - interval '2 hours' where id = any($1)`, [
      [demo, regular],
    ]);
    const events = await waitForEvent(demo, 'environment_expired');
    const expired = events.filter((event) => event.type === 'environment_expired');
    expect(expired).toHaveLength(1);
    const created = (await t.session(demo)).createdAt;
    expect(expired[0]!.payload).toEqual({
      environment: environmentName(t.envPrefix, demo),
      removed: true,
      buildCanceled: false,
      ttlSeconds: TTL_SECONDS,
      expiredAt: new Date(Date.parse(created) + TTL_SECONDS * 1000).toISOString(),
    });
    expect(await t.environmentDatabases()).not.toContain(environmentName(t.envPrefix, demo));
    const view: SessionView = await waitFor(
      async () => {
        const session = await t.session(demo);
        return session.deletion?.completedAt ? session : undefined;
      },
      { what: 'the expiry to be recorded as complete' },
    );
    expect(view.deletion?.reason).toBe('expired');

    // The regular session is left alone, sweep after sweep.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await t.environmentDatabases()).toContain(environmentName(t.envPrefix, regular));
    expect((await t.events(regular)).map((e) => e.type)).not.toContain('environment_expired');
    expect((await t.session(regular)).deletion ?? null).toBeNull();
  });

  it('lists and deletes through the CLI (`npm run vibe -- list` / `delete`)', async () => {
    const sessionId = await t.create();
    expect((await t.waitForStatus(sessionId, ['succeeded', 'failed'])).status).toBe('succeeded');
    const cli = { GATEWAY_URL: t.stack.gatewayUrl, VIBE_TOKEN: tokenFor(t.owner) };

    const listed = await vibe(['list', '--json', '--limit', '1', '--all'], cli);
    expect(listed.code).toBe(0);
    const page = SessionList.parse(JSON.parse(listed.stdout));
    expect(page.sessions[0]!.id).toBe(sessionId);
    expect(page.next).toBeNull();
    expect(new Set(page.sessions.map((s) => s.id)).size).toBe(page.sessions.length);
    const table = await vibe(['list', '--status', 'succeeded'], cli);
    expect(table.stdout.split('\n')[0]).toMatch(new RegExp(`^${sessionId}  .*succeeded`));
    const bad = await vibe(['list', '--limit', '500'], cli);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--limit must be a whole number from 1 to 100');

    const deleted = await vibe(['delete', sessionId], cli);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^Session deleted by its owner: environment .* removed/);
    expect(await t.environmentDatabases()).not.toContain(environmentName(t.envPrefix, sessionId));
    const refused = await vibe(['delete', sessionId, '--no-wait'], { ...cli, VIBE_TOKEN: tokenFor(aUser()) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`404: id: no session ${sessionId}`);
  });

  it("does not show one user's sessions to another", async () => {
    const mine = SessionList.parse((await t.api('/sessions?limit=100&include_deleted=true')).body);
    expect(mine.sessions.length).toBeGreaterThanOrEqual(4);
    const theirs = await fetch(`${t.stack.gatewayUrl}/sessions?include_deleted=true`, { headers: signedIn(aUser()) });
    expect(await theirs.json()).toEqual({ sessions: [], next: null });
  });
});
