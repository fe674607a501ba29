import { Inject, Injectable } from '@nestjs/common';
import type { DriftSpecChunk } from '@vibe/contracts';
import { localEmbedding } from '@vibe/planning';
import { PG_POOL, SpecChunkSearch, type Pool } from '@vibe/platform';
import type { DriftFinding } from '../drift/diff.js';

/**
 * The embedding model of the orchestrator's local embedder, as it records it in `spec_chunks.metadata.embedding`
 * (PERSISTED there by the orchestrator).
 */
export const LOCAL_EMBEDDING_MODEL = 'local-hash-1536';

/** The text embedded for a finding: what drifted, why it matters, and the plan's reasons for the item. */
export function explanationText(finding: Pick<DriftFinding, 'summary' | 'rationale' | 'source' | 'context'>): string {
  return [finding.summary, finding.rationale, finding.source?.reason, finding.context]
    .filter((part): part is string => Boolean(part))
    .join(' ');
}

/**
 * Why a drift matters, in the words of the vibe (spec §10.1): the session's spec chunk nearest to the
 * finding by vector similarity (pgvector or the real[] fallback, behind SpecChunkSearch). The query is
 * embedded with the model the chunks were embedded with; the sentinel has the local model only, so a session
 * whose chunks came from another model (OpenAI's) gets the chunk its plan item was made from instead.
 */
@Injectable()
export class SpecChunksExplainer {
  private readonly search: SpecChunkSearch;

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {
    this.search = new SpecChunkSearch(pool);
  }

  async explain(sessionId: string, findings: DriftFinding[]): Promise<Array<DriftSpecChunk | null>> {
    if (!findings.length) return [];
    const { rows } = await this.pool.query<{ model: string | null }>(
      `select distinct metadata->>'embedding' as model from public.spec_chunks where session_id = $1`,
      [sessionId],
    );
    if (!rows.length) return findings.map(() => null);
    if (rows.every((row) => row.model === LOCAL_EMBEDDING_MODEL)) {
      return Promise.all(
        findings.map(async (finding) => {
          const [nearest] = await this.search.nearest(sessionId, localEmbedding(explanationText(finding)), 1);
          return nearest ? { ...nearest, method: 'vector' as const } : null;
        }),
      );
    }
    const indexes = [...new Set(findings.map((f) => f.source?.chunk).filter((i): i is number => i != null))];
    const { rows: chunks } = await this.pool.query<{ id: string; chunk_index: number; content: string }>(
      `select id, chunk_index, content from public.spec_chunks where session_id = $1 and chunk_index = any ($2::int[])`,
      [sessionId, indexes],
    );
    return findings.map((finding) => {
      const chunk = chunks.find((c) => c.chunk_index === finding.source?.chunk);
      return chunk
        ? {
            id: chunk.id,
            chunkIndex: chunk.chunk_index,
            content: chunk.content,
            similarity: null,
            method: 'plan_source',
          }
        : null;
    });
  }
}
