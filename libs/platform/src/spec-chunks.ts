import { quoteIdent } from './db.js';

/**
 * Similarity search over a session's `spec_chunks` (spec §2.3, §10.1: "use vector search on spec_chunks to
 * explain why the drift matters"). The embedding column is `vector(1536)` where pgvector is installed and
 * `real[]` with `public.cosine_similarity` where it is not (db/migrations/0001, DESIGN.md §3); callers see
 * one interface either way. Used by the orchestrator and the drift sentinel.
 */

/** Width of `spec_chunks.embedding` (db/migrations/0001): OpenAI's text-embedding-3-small and the local embedding. */
export const SPEC_CHUNK_EMBEDDING_DIMENSIONS = 1536;

/** What the search needs of a connection: a `pg.Pool`, a `pg.Client` and PGlite all fit. */
export interface SqlRunner {
  query(text: string, params: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

export interface SpecChunkMatch {
  /** `spec_chunks.id`, for `drift_alerts.spec_chunk_id`. */
  id: string;
  chunkIndex: number;
  content: string;
  /** Cosine similarity, 1 = same direction, 0 = unrelated, -1 = opposite. */
  similarity: number;
}

/** How the embedding column is stored; with pgvector, also the schema its type and operators live in. */
export type EmbeddingColumn = { kind: 'vector'; schema: string } | { kind: 'real[]' };

/** Reads the type of `public.spec_chunks.embedding` from the catalog. */
export async function embeddingColumn(runner: SqlRunner): Promise<EmbeddingColumn> {
  const { rows } = await runner.query(
    `select t.typname, n.nspname from pg_attribute a
     join pg_type t on t.oid = a.atttypid
     join pg_namespace n on n.oid = t.typnamespace
     where a.attrelid = 'public.spec_chunks'::regclass and a.attname = 'embedding' and not a.attisdropped`,
    [],
  );
  const typname = rows[0]?.typname;
  // On Supabase pgvector usually lives in the `extensions` schema, which need not be on the search_path.
  if (typname === 'vector') return { kind: 'vector', schema: String(rows[0]?.nspname) };
  if (typname === '_float4') return { kind: 'real[]' };
  throw new Error(`spec_chunks.embedding has type ${String(typname)}; expected vector or real[]`);
}

export class SpecChunkSearch {
  private column: Promise<EmbeddingColumn> | undefined;

  constructor(
    private readonly runner: SqlRunner,
    private readonly dimensions = SPEC_CHUNK_EMBEDDING_DIMENSIONS,
  ) {}

  /**
   * The session's `k` chunks most similar to the embedding, most similar first (ties by chunk index).
   * Chunks stored without an embedding are skipped. The embedding must come from the same model as the
   * stored ones (`spec_chunks.metadata.embedding` names it).
   */
  async nearest(sessionId: string, embedding: readonly number[], k = 3): Promise<SpecChunkMatch[]> {
    if (!Number.isInteger(k) || k < 1 || k > 100) throw new RangeError(`k must be an integer from 1 to 100, got ${k}`);
    if (embedding.length !== this.dimensions) {
      throw new RangeError(`the embedding has ${embedding.length} dimensions; spec_chunks stores ${this.dimensions}`);
    }
    if (!embedding.every((value) => Number.isFinite(value)))
      throw new RangeError('the embedding has a non-finite value');

    const column = await this.embeddingColumn();
    const { rows } =
      column.kind === 'vector'
        ? await this.runner.query(vectorQuery(column.schema), [sessionId, `[${embedding.join(',')}]`, k])
        : await this.runner.query(REAL_ARRAY_QUERY, [sessionId, embedding, k]);
    return rows.map((row) => ({
      id: String(row.id),
      chunkIndex: Number(row.chunk_index),
      content: String(row.content),
      similarity: Number(row.similarity),
    }));
  }

  /** Read once per instance; a failed read is retried by the next call. */
  private embeddingColumn(): Promise<EmbeddingColumn> {
    this.column ??= embeddingColumn(this.runner).catch((error: unknown) => {
      this.column = undefined;
      throw error;
    });
    return this.column;
  }
}

/** pgvector's `<=>` is the cosine distance; the operator is schema-qualified like the type. */
function vectorQuery(schema: string): string {
  const distance = `embedding operator(${quoteIdent(schema)}.<=>) $2::${quoteIdent(schema)}.vector`;
  return `select id, chunk_index, content, 1 - (${distance}) as similarity
    from public.spec_chunks
    where session_id = $1 and embedding is not null
    order by ${distance}, chunk_index
    limit $3`;
}

const REAL_ARRAY_QUERY = `select id, chunk_index, content, public.cosine_similarity(embedding, $2::real[]) as similarity
    from public.spec_chunks
    where session_id = $1 and embedding is not null
    order by similarity desc, chunk_index
    limit $3`;
