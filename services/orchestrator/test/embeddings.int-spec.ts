import { createPool, SpecChunkSearch, type Pool } from '@vibe/platform';
import { createControlPlaneDatabase, type TestDatabase } from '../../../test/support/index.js';
import { startOpenAIStub, stubEmbedding, type OpenAIStub } from '../../../test/support/openai-stub.js';
import { SpecChunksRepository } from '../src/build/spec-chunks.repository.js';
import { loadOrchestratorConfig } from '../src/config.js';
import { cosineSimilarity, EMBEDDING_DIMENSIONS, localEmbedding } from '@vibe/planning';
import {
  createEmbedder,
  EmbeddingError,
  LocalEmbedder,
  OpenAIEmbedder,
  type Embedder,
} from '../src/ingest/embedder.js';

/**
 * Embeddings from OpenAI's API (an OpenAI-compatible server on loopback) and from the local embedding,
 * stored by the orchestrator's spec_chunks writer in the machine's Postgres (the real[] path: no pgvector
 * here; the vector path is libs/platform/src/spec-chunks.int-spec.ts) and searched with SpecChunkSearch.
 */

let stub: OpenAIStub;
let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  stub = await startOpenAIStub();
  db = await createControlPlaneDatabase('vibe_embed');
  pool = createPool(db.url, 'embeddings-test', 2);
});

afterAll(async () => {
  await stub?.close();
  await pool?.end();
  await db?.drop();
});

beforeEach(() => {
  stub.requests.length = 0;
  stub.embeddings = 'vectors';
  stub.forceEmbeddingDimensions = null;
});

const openAIEmbedder = (): Embedder =>
  createEmbedder(loadOrchestratorConfig({ OPENAI_API_KEY: stub.apiKey, OPENAI_BASE_URL: stub.baseURL }));

describe('OpenAIEmbedder against an OpenAI-compatible server', () => {
  it('asks for text-embedding-3-small with 1536 dimensions and returns 1536-dimensional vectors, in order', async () => {
    const embedder = openAIEmbedder();
    expect(embedder).toBeInstanceOf(OpenAIEmbedder);
    const texts = ['Sellers upload photos of each camera.', 'Buyers leave reviews.'];

    const vectors = await embedder.embed(texts);

    expect(vectors).toHaveLength(2);
    vectors.forEach((vector, i) => {
      expect(vector).toHaveLength(EMBEDDING_DIMENSIONS);
      expect(Array.isArray(vector)).toBe(true);
      // The server's vector, not the local one.
      expect(cosineSimilarity(vector, stubEmbedding(texts[i]!))).toBeCloseTo(1, 5);
      expect(cosineSimilarity(vector, localEmbedding(texts[i]!))).toBeLessThan(0.5);
    });
    const [request] = stub.requests;
    expect(stub.requests).toHaveLength(1);
    expect(request!.path).toBe('/v1/embeddings');
    expect(request!.authorization).toBe(`Bearer ${stub.apiKey}`);
    expect(request!.body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 1536, input: texts });
  });

  it('refuses vectors of another width instead of storing them', async () => {
    stub.forceEmbeddingDimensions = 3;
    await expect(openAIEmbedder().embed(['a text'])).rejects.toThrow(
      new EmbeddingError('text-embedding-3-small returned 3-dimensional embeddings; spec_chunks needs 1536'),
    );
  });

  it('fails with an error that does not carry the key when the server fails', async () => {
    stub.embeddings = { status: 400, body: { error: { message: `bad request for ${stub.apiKey}` } } };
    const error = await openAIEmbedder()
      .embed(['a text'])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as Error).message).toMatch(/^embedding with text-embedding-3-small failed: .*400/);
    expect((error as Error).message).not.toContain(stub.apiKey);
  });
});

describe.each<[string, () => Embedder]>([
  ['the local embedding', () => new LocalEmbedder()],
  ['OpenAI embeddings', openAIEmbedder],
])('spec_chunks written and searched with %s', (_name, makeEmbedder) => {
  const chunks = [
    'Sellers upload photos of each camera they list.',
    'Buyers and sellers send messages to each other about an order.',
    'Only the seller can change the price of a listing.',
  ];

  it("stores the model's name with each chunk and finds the chunk nearest to a finding", async () => {
    const embedder = makeEmbedder();
    const { rows } = await pool.query<{ id: string }>(
      "insert into build_sessions (status, template, vibe_text) values ('running', 'marketplace', $1) returning id",
      [chunks.join(' ')],
    );
    const session = rows[0]!.id;
    const vectors = await embedder.embed(chunks);
    await new SpecChunksRepository(pool, embedder.model).replace(
      session,
      chunks.map((content, index) => ({ index, content, embedding: vectors[index]! })),
    );

    const stored = await pool.query<{ chunk_index: number; metadata: unknown }>(
      'select chunk_index, metadata from spec_chunks where session_id = $1 order by chunk_index',
      [session],
    );
    expect(stored.rows).toEqual(
      chunks.map((_, index) => ({ chunk_index: index, metadata: { embedding: embedder.model } })),
    );

    const search = new SpecChunkSearch(pool);
    const nearest = async (finding: string) => {
      const [query] = await embedder.embed([finding]);
      return search.nearest(session, query!, 3);
    };
    const photos = await nearest('storage policy for photos that sellers upload');
    expect(photos.map((m) => m.chunkIndex)[0]).toBe(0);
    expect(photos[0]!.similarity).toBeGreaterThan(photos[1]!.similarity);
    expect((await nearest('who may change the price of a listing')).map((m) => m.chunkIndex)[0]).toBe(2);
    expect((await nearest('messages between buyers and sellers')).map((m) => m.chunkIndex)[0]).toBe(1);
  });
});
