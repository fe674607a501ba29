import { embeddingColumn, quoteIdent, withTransaction, type EmbeddingColumn, type Pool } from '@vibe/platform';
import type { SpecChunkStorePort, StoredChunk } from '../graph/ports.js';
import { LOCAL_EMBEDDING_MODEL } from '../ingest/embedder.js';

/**
 * `spec_chunks`, whose embedding column is `vector(1536)` with pgvector and `real[]` without it
 * (db/migrations/0001). The column's type is read once (`embeddingColumn`) and the matching cast is used. Each row
 * records the embedding model (`metadata.embedding`, the `Embedder`'s `model`), so that a search embeds its
 * query with the same model.
 */
export class SpecChunksRepository implements SpecChunkStorePort {
  private column: Promise<EmbeddingColumn> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly embeddingModel: string = LOCAL_EMBEDDING_MODEL,
  ) {}

  async replace(sessionId: string, chunks: StoredChunk[]): Promise<void> {
    // The same detection as the search (libs/platform), so pgvector in another schema works here too.
    const column = await (this.column ??= embeddingColumn(this.pool));
    const cast = column.kind === 'vector' ? `${quoteIdent(column.schema)}.vector` : 'real[]';
    await withTransaction(this.pool, async (client) => {
      await client.query('delete from spec_chunks where session_id = $1', [sessionId]);
      for (const chunk of chunks) {
        const embedding = column.kind === 'vector' ? `[${chunk.embedding.join(',')}]` : chunk.embedding;
        await client.query(
          `insert into spec_chunks (session_id, chunk_index, content, embedding, metadata)
           values ($1, $2, $3, $4::${cast}, $5)`,
          [sessionId, chunk.index, chunk.content, embedding, JSON.stringify({ embedding: this.embeddingModel })],
        );
      }
    });
  }
}
