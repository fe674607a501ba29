/**
 * Session leases on the real control plane: one driver per session, a lease given back unlocks its session
 * and keeps its connection for the next lease, and a kept connection that ended while idle is replaced.
 */
import pg from 'pg';
import { newId } from '@vibe/contracts';
import { createControlPlaneDatabase, waitFor, type TestDatabase } from '../../../test/support/index.js';
import { SessionLeases } from '../src/build/session-lease.js';

describe('session leases', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const leases: SessionLeases[] = [];

  /** The backends of lease connections, and whether each holds a session lock. */
  async function leaseBackends(): Promise<Array<{ pid: number; locks: number }>> {
    const { rows } = await admin.query<{ pid: number; locks: number }>(
      `select a.pid, (select count(*)::int from pg_locks l where l.pid = a.pid and l.locktype = 'advisory') as locks
       from pg_stat_activity a where a.datname = $1 and a.application_name = 'vibe-orchestrator-lease'
       order by a.pid`,
      [db.name],
    );
    return rows;
  }

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_leases');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.all(leases.map((lease) => lease.close()));
    await admin?.end();
    await db?.drop();
  });

  function replica(): SessionLeases {
    const lease = new SessionLeases(db.url);
    leases.push(lease);
    return lease;
  }

  it('gives a session to one driver at a time; released, it is free again on the same connection', async () => {
    const [a, b] = [replica(), replica()];
    const session = newId();
    const held = await a.tryAcquire(session);
    expect(held).not.toBeNull();
    expect(await b.tryAcquire(session)).toBeNull();
    const [holding] = (await leaseBackends()).filter((backend) => backend.locks === 1);
    expect(holding).toBeDefined();

    await held!.release();
    expect(held!.lost).toBe(false);
    // Unlocked but kept: no lease connection holds a lock, and the one that did is still there.
    const after = await leaseBackends();
    expect(after.every((backend) => backend.locks === 0)).toBe(true);
    expect(after.map((backend) => backend.pid)).toContain(holding!.pid);

    const again = await a.tryAcquire(session);
    expect(again).not.toBeNull();
    expect((await leaseBackends()).find((backend) => backend.locks === 1)?.pid).toBe(holding!.pid);
    expect(await b.tryAcquire(session)).toBeNull();
    await again!.release();
  });

  it('replaces a kept connection that ended while idle, and reports a held one that ends as lost', async () => {
    const leasesOf = replica();
    const first = await leasesOf.tryAcquire(newId());
    await first!.release();
    await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = $1 and application_name = 'vibe-orchestrator-lease'`,
      [db.name],
    );
    await waitFor(async () => (await leaseBackends()).length === 0, { what: 'the lease connections to end' });

    const session = newId();
    const lease = await leasesOf.tryAcquire(session);
    expect(lease).not.toBeNull();
    let lost = false;
    lease!.onLost(() => (lost = true));
    await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = $1 and application_name = 'vibe-orchestrator-lease'`,
      [db.name],
    );
    await waitFor(async () => lost, { what: 'the lease to be lost' });
    expect(lease!.lost).toBe(true);
    // The lock went with the connection: another replica gets the session.
    const other = await replica().tryAcquire(session);
    expect(other).not.toBeNull();
    await other!.release();
  });
});
