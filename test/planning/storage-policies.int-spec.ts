/**
 * Spec §9.4 storage in a real environment: the rendered plan's private bucket and owner-folder policies on
 * the local `storage` schema, exercised as Supabase runs them (the `anon` and `authenticated` roles, the
 * caller's JWT claims in `request.jwt.claims`): a user reads and writes objects only under `<their id>/`.
 */
import type pg from 'pg';
import { allMigrations, chunkVibe, planWithRules, renderPlan } from '@vibe/planning';
import { startLocalMcp, type LocalMcp } from '../../services/provisioner/test/local-mcp.js';

const VIBE = 'Sellers list furniture and upload photos of it. Buyers bid.';

describe('storage: a private bucket with owner-folder policies (spec §9.4)', () => {
  let mcp: LocalMcp;
  let ref: string;
  let alice: string;
  let bob: string;
  const plan = planWithRules({
    vibeText: VIBE,
    chunks: chunkVibe(VIBE),
    template: 'marketplace',
    options: { enableAnalytics: false, enableDriftSentinel: false },
  });
  const bucket = plan.buckets[0]!.id;

  beforeAll(async () => {
    mcp = await startLocalMcp();
    ref = await mcp.createEnvironment('branch');
    await mcp.inEnvironment(ref, async (db) => {
      for (const migration of allMigrations(renderPlan(plan))) await db.query(migration.query);
      const users = await db.query<{ id: string }>(
        `insert into auth.users (email) values ('alice@example.com'), ('bob@example.com') returning id`,
      );
      [alice, bob] = users.rows.map((row) => row.id) as [string, string];
      // An object of Bob's, and a bucket the plan did not make, put there by the server (service role).
      await db.query(`insert into storage.buckets (id, name, public) values ('other', 'other', false)`);
      await db.query(`insert into storage.objects (bucket_id, name, owner) values ($1, $2, $3)`, [
        bucket,
        `${bob}/sofa.jpg`,
        bob,
      ]);
    });
  });

  afterAll(async () => {
    await mcp?.close();
  });

  /** Runs `work` as Supabase would for a request with this JWT: the role, and the claims for auth.uid(). */
  async function as<T>(user: string | null, work: (db: pg.Client) => Promise<T>): Promise<T> {
    return mcp.inEnvironment(ref, async (db) => {
      const role = user ? 'authenticated' : 'anon';
      await db.query('begin');
      try {
        await db.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [
          role,
          JSON.stringify(user ? { sub: user, role } : { role }),
        ]);
        const result = await work(db);
        await db.query('commit');
        return result;
      } catch (error) {
        await db.query('rollback');
        throw error;
      }
    });
  }

  const insert = (user: string | null, name: string, bucketId = bucket) =>
    as(user, (db) =>
      db.query('insert into storage.objects (bucket_id, name, owner) values ($1, $2, $3)', [bucketId, name, user]),
    );
  const names = async (user: string | null) =>
    (await as(user, (db) => db.query<{ name: string }>('select name from storage.objects order by name'))).rows.map(
      (row) => row.name,
    );

  it('is a private bucket with the four folder policies, for authenticated users only', async () => {
    expect(bucket).toBe('listing-images');
    await mcp.inEnvironment(ref, async (db) => {
      const buckets = await db.query('select id, public from storage.buckets where id = $1', [bucket]);
      expect(buckets.rows).toEqual([{ id: bucket, public: false }]);
      const policies = await db.query(
        `select policyname, cmd, roles::text[] as roles from pg_policies
         where schemaname = 'storage' and tablename = 'objects' order by policyname`,
      );
      expect(policies.rows).toEqual([
        { policyname: 'listing_images_delete_own', cmd: 'DELETE', roles: ['authenticated'] },
        { policyname: 'listing_images_insert_own', cmd: 'INSERT', roles: ['authenticated'] },
        { policyname: 'listing_images_read_own', cmd: 'SELECT', roles: ['authenticated'] },
        { policyname: 'listing_images_update_own', cmd: 'UPDATE', roles: ['authenticated'] },
      ]);
    });
  });

  it('lets a user write under their own folder only', async () => {
    await insert(alice, `${alice}/chair.jpg`);
    await insert(alice, `${alice}/2026/lamp.jpg`);
    await expect(insert(alice, `${bob}/fake.jpg`)).rejects.toThrow(/row-level security/);
    await expect(insert(alice, 'no-folder.jpg')).rejects.toThrow(/row-level security/);
    // Their own folder in a bucket the plan did not open to them is no better.
    await expect(insert(alice, `${alice}/x.jpg`, 'other')).rejects.toThrow(/row-level security/);
  });

  it('lets a user read their own objects and nobody else’s; anon reads nothing and writes nothing', async () => {
    expect(await names(alice)).toEqual([`${alice}/2026/lamp.jpg`, `${alice}/chair.jpg`]);
    expect(await names(bob)).toEqual([`${bob}/sofa.jpg`]);
    expect(await names(null)).toEqual([]);
    await expect(insert(null, `${alice}/anon.jpg`)).rejects.toThrow(/row-level security/);
  });

  it('keeps updates and deletes to the owner’s folder, and an object cannot be moved out of it', async () => {
    const moved = await as(alice, (db) =>
      db.query('update storage.objects set name = $1 where name = $2', [`${alice}/sofa-copy.jpg`, `${bob}/sofa.jpg`]),
    );
    expect(moved.rowCount).toBe(0);
    await expect(
      as(alice, (db) =>
        db.query('update storage.objects set name = $1 where name = $2', [`${bob}/stolen.jpg`, `${alice}/chair.jpg`]),
      ),
    ).rejects.toThrow(/row-level security/);
    const renamed = await as(alice, (db) =>
      db.query('update storage.objects set name = $1 where name = $2', [`${alice}/armchair.jpg`, `${alice}/chair.jpg`]),
    );
    expect(renamed.rowCount).toBe(1);
    const deletedOthers = await as(alice, (db) =>
      db.query('delete from storage.objects where name = $1', [`${bob}/sofa.jpg`]),
    );
    expect(deletedOthers.rowCount).toBe(0);
    const deletedOwn = await as(alice, (db) =>
      db.query('delete from storage.objects where name = $1', [`${alice}/armchair.jpg`]),
    );
    expect(deletedOwn.rowCount).toBe(1);
    expect(await names(bob)).toEqual([`${bob}/sofa.jpg`]);
  });
});
