import { PGlite } from '@electric-sql/pglite';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { vector } from '@electric-sql/pglite/vector';
import { createControlPlaneDatabase, type TestDatabase } from '../../../test/support/index.js';
import { createPool, type Pool } from './db.js';
import { readMigrations } from './migrate.js';
import { embeddingColumn, SPEC_CHUNK_EMBEDDING_DIMENSIONS, SpecChunkSearch, type SqlRunner } from './spec-chunks.js';

/**
 * The same SpecChunkSearch, the same data and the same expectations on both storage paths: `real[]` with
 * `public.cosine_similarity` on the machine's Postgres (no pgvector here), and `vector(1536)` on PGlite,
 * which ships pgvector. Both databases are built by the real control-plane migrations.
 */

/** A 1536-dimensional vector with the given values in its first coordinates. */
function vec(...head: number[]): number[] {
  const v = new Array<number>(SPEC_CHUNK_EMBEDDING_DIMENSIONS).fill(0);
  head.forEach((value, i) => (v[i] = value));
  return v;
}

interface Backend {
  runner: SqlRunner;
  expectedColumn: Awaited<ReturnType<typeof embeddingColumn>>;
  insertChunk(sessionId: string, index: number, content: string, embedding: number[] | null): Promise<void>;
  close(): Promise<void>;
}

async function machinePostgres(): Promise<Backend> {
  const db: TestDatabase = await createControlPlaneDatabase('vibe_chunks');
  const pool: Pool = createPool(db.url, 'spec-chunks-test', 2);
  return {
    runner: pool,
    expectedColumn: { kind: 'real[]' },
    insertChunk: async (sessionId, index, content, embedding) => {
      await pool.query(
        'insert into spec_chunks (session_id, chunk_index, content, embedding) values ($1, $2, $3, $4::real[])',
        [sessionId, index, content, embedding],
      );
    },
    close: async () => {
      await pool.end();
      await db.drop();
    },
  };
}

async function pglite(): Promise<Backend> {
  const db = new PGlite({ extensions: { vector, pgcrypto } });
  // The real migrations: 0001 takes its pgvector branch here, so spec_chunks.embedding is vector(1536).
  for (const migration of await readMigrations()) await db.exec(migration.sql);
  return {
    runner: db,
    expectedColumn: { kind: 'vector', schema: 'public' },
    insertChunk: async (sessionId, index, content, embedding) => {
      await db.query(
        'insert into spec_chunks (session_id, chunk_index, content, embedding) values ($1, $2, $3, $4::vector)',
        [sessionId, index, content, embedding && `[${embedding.join(',')}]`],
      );
    },
    close: () => db.close(),
  };
}

async function newSession(runner: SqlRunner): Promise<string> {
  const { rows } = await runner.query(
    "insert into build_sessions (status, template, vibe_text) values ('queued', 'marketplace', 'a vibe') returning id",
    [],
  );
  return String(rows[0]?.id);
}

describe.each([
  ['real[] with cosine_similarity on the machine Postgres', machinePostgres],
  ['vector(1536) with pgvector on PGlite', pglite],
])('SpecChunkSearch over %s', (_name, start) => {
  let backend: Backend;
  let session: string;
  let otherSession: string;

  beforeAll(async () => {
    backend = await start();
    session = await newSession(backend.runner);
    otherSession = await newSession(backend.runner);
    await backend.insertChunk(session, 0, 'orthogonal', vec(0, 1));
    await backend.insertChunk(session, 1, 'same direction', vec(1));
    // Not unit length: cosine similarity ignores the scale (0.8 = 2.4 / 3).
    await backend.insertChunk(session, 2, 'close', vec(2.4, 1.8));
    await backend.insertChunk(session, 3, 'opposite', vec(-1));
    await backend.insertChunk(session, 4, 'never embedded', null);
    await backend.insertChunk(session, 5, 'as close as chunk 2', vec(0.8, 0, 0.6));
    await backend.insertChunk(otherSession, 0, 'another session, same direction', vec(1));
  });

  afterAll(async () => {
    await backend?.close();
  });

  it('runs on the storage path it is named after', async () => {
    expect(await embeddingColumn(backend.runner)).toEqual(backend.expectedColumn);
  });

  it("ranks the session's embedded chunks by cosine similarity, ties by chunk index", async () => {
    const matches = await new SpecChunkSearch(backend.runner).nearest(session, vec(1), 10);
    expect(matches.map((m) => [m.chunkIndex, m.content])).toEqual([
      [1, 'same direction'],
      [2, 'close'],
      [5, 'as close as chunk 2'],
      [0, 'orthogonal'],
      [3, 'opposite'],
    ]);
    const expected = [1, 0.8, 0.8, 0, -1];
    matches.forEach((m, i) => expect(m.similarity).toBeCloseTo(expected[i]!, 5));
    expect(new Set(matches.map((m) => m.id)).size).toBe(5);
    matches.forEach((m) => expect(m.id).toMatch(/^[0-9a-f-]{36}$/));
  });

  it('returns at most k chunks and nothing for a session without chunks', async () => {
    const search = new SpecChunkSearch(backend.runner);
    expect((await search.nearest(session, vec(0, 0, 1), 2)).map((m) => m.chunkIndex)).toEqual([5, 0]);
    expect(await search.nearest(otherSession, vec(1), 5)).toEqual([
      expect.objectContaining({ chunkIndex: 0, content: 'another session, same direction' }),
    ]);
    expect(await search.nearest('00000000-0000-4000-8000-000000000000', vec(1))).toEqual([]);
  });

  it('rejects an embedding of another width, a non-finite value and a bad k before querying', async () => {
    const search = new SpecChunkSearch(backend.runner);
    await expect(search.nearest(session, [1, 0, 0])).rejects.toThrow('3 dimensions; spec_chunks stores 1536');
    await expect(search.nearest(session, vec(Number.NaN))).rejects.toThrow('non-finite');
    await expect(search.nearest(session, vec(1), 0)).rejects.toThrow('k must be');
  });
});

describe('SpecChunkSearch with pgvector in a schema off the search_path (as Supabase installs it)', () => {
  it('qualifies the vector type and the distance operator', async () => {
    const db = new PGlite({ extensions: { vector } });
    try {
      await db.exec(`
        create schema extensions;
        create extension vector schema extensions;
        create table public.spec_chunks (
          id uuid primary key default gen_random_uuid(),
          session_id uuid,
          chunk_index int not null,
          content text not null,
          embedding extensions.vector(1536),
          metadata jsonb default '{}'::jsonb
        );
        set search_path = public;`);
      const session = '11111111-1111-4111-8111-111111111111';
      for (const [index, embedding] of [vec(0, 1), vec(1, 1)].entries()) {
        await db.query(
          'insert into public.spec_chunks (session_id, chunk_index, content, embedding) values ($1, $2, $3, $4::extensions.vector)',
          [session, index, `chunk ${index}`, `[${embedding.join(',')}]`],
        );
      }
      expect(await embeddingColumn(db)).toEqual({ kind: 'vector', schema: 'extensions' });
      const matches = await new SpecChunkSearch(db).nearest(session, vec(1), 2);
      expect(matches.map((m) => m.chunkIndex)).toEqual([1, 0]);
      expect(matches[0]!.similarity).toBeCloseTo(Math.SQRT1_2, 5);
    } finally {
      await db.close();
    }
  });
});
