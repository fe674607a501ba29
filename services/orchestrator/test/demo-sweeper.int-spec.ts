/**
 * The demo sweeper's claim with several replicas at once (issue 12): every expired demo session is claimed by
 * exactly one of them, nothing else is claimed, and a claimed session is not claimed again.
 */
import pg from 'pg';
import { createControlPlaneDatabase, type TestDatabase } from '../../../test/support/index.js';
import { SessionsRepository } from '../src/build/sessions.repository.js';

describe('claiming expired demo environments', () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_sweeper');
    for (let i = 0; i < 4; i++) pools.push(new pg.Pool({ connectionString: db.url, max: 2 }));
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await db?.drop();
  });

  async function insert(count: number, options: object, age: string): Promise<string[]> {
    const { rows } = await pools[0]!.query<{ id: string }>(
      `insert into build_sessions (status, template, vibe_text, options, created_at)
       select 'succeeded', 'marketplace', 'a shop', $2::jsonb, now() - $3::interval from generate_series(1, $1)
       returning id`,
      [count, JSON.stringify(options), age],
    );
    return rows.map((row) => row.id);
  }

  it('gives each expired demo session to exactly one of four replicas sweeping at once', async () => {
    const expired = await insert(60, { demo: true }, '2 hours');
    const young = await insert(5, { demo: true }, '1 minute');
    const regular = await insert(5, { demo: false }, '2 hours');
    const unmarked = await insert(5, {}, '2 hours');

    const replicas = pools.map((pool) => new SessionsRepository(pool));
    // Small batches, many rounds, all replicas at once: the claims interleave.
    const claimed: string[][] = replicas.map(() => []);
    for (let round = 0; round < 10; round++) {
      const got = await Promise.all(replicas.map((replica) => replica.claimExpiredDemos(3600, 4)));
      got.forEach((ids, i) => claimed[i]!.push(...ids));
    }
    const all = claimed.flat();
    expect(all.length).toBe(new Set(all).size);
    expect([...all].sort()).toEqual([...expired].sort());
    expect(claimed.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);

    const { rows } = await pools[0]!.query<{ id: string; deleted: boolean; reason: string | null }>(
      'select id, deleted_at is not null as deleted, deletion_reason as reason from build_sessions',
    );
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const id of expired) expect(byId.get(id)).toMatchObject({ deleted: true, reason: 'expired' });
    for (const id of [...young, ...regular, ...unmarked]) expect(byId.get(id)).toMatchObject({ deleted: false });
    expect(await replicas[0]!.claimExpiredDemos(3600, 100)).toEqual([]);
  });

  it('records a deletion once: the first reason and time win', async () => {
    const [id] = await insert(1, { demo: true }, '2 hours');
    const repository = new SessionsRepository(pools[0]!);
    const first = await repository.markDeleted(id!, 'owner');
    const second = await repository.markDeleted(id!, 'expired');
    expect(first).toMatchObject({ reason: 'owner', completed: false });
    expect(second?.reason).toBe('owner');
    expect(second?.deletedAt?.getTime()).toBe(first?.deletedAt?.getTime());
    expect(await repository.claimExpiredDemos(3600, 100)).toEqual([]);
    expect(await repository.markDeleted('00000000-0000-4000-8000-000000000000', 'owner')).toBeNull();
  });
});
