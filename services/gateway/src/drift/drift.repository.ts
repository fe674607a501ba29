import { Inject, Injectable } from '@nestjs/common';
import { DriftSeverity, type DriftAlertStatus, type DriftAlertView } from '@vibe/contracts';
import { PG_POOL, type Pool } from '@vibe/platform';

interface AlertRow {
  id: string | null;
  ts: Date | null;
  severity: string | null;
  type: string | null;
  resource: string | null;
  status: DriftAlertStatus | null;
  last_seen_at: Date | null;
  resolved_at: Date | null;
  summary: string | null;
  rationale: string | null;
  recommendation: string | null;
  details: { lints?: unknown; specChunk?: { method?: unknown; similarity?: unknown } | null } | null;
  chunk_id: string | null;
  chunk_index: number | null;
  chunk_content: string | null;
}

/** Reads `drift_alerts` (written by the drift sentinel) with their spec chunks. */
@Injectable()
export class DriftRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async sessionExists(sessionId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('select 1 from public.build_sessions where id = $1', [sessionId]);
    return rowCount === 1;
  }

  /**
   * The session's alerts, open ones first, newest first, or undefined when the session does not exist (one
   * query, so "no session" and "no alerts" are told apart from the same snapshot).
   */
  async listForSession(sessionId: string, status?: DriftAlertStatus): Promise<DriftAlertView[] | undefined> {
    const { rows } = await this.pool.query<AlertRow>(
      `select a.id, a.ts, a.severity, a.type, a.resource, a.status, a.last_seen_at, a.resolved_at,
              a.summary, a.rationale, a.recommendation, a.details,
              c.id as chunk_id, c.chunk_index, c.content as chunk_content
       from public.build_sessions s
       left join public.drift_alerts a on a.session_id = s.id and ($2::text is null or a.status = $2)
       left join public.spec_chunks c on c.id = a.spec_chunk_id
       where s.id = $1
       order by a.status = 'open' desc, a.ts desc, a.id`,
      [sessionId, status ?? null],
    );
    if (rows.length === 0) return undefined;
    return rows
      .filter((row) => row.id !== null)
      .map((row) => {
        const chunk = row.details?.specChunk;
        return {
          id: row.id!,
          sessionId,
          ts: row.ts!.toISOString(),
          severity: DriftSeverity.parse(row.severity),
          type: row.type!,
          resource: row.resource!,
          status: row.status ?? 'open',
          lastSeenAt: row.last_seen_at?.toISOString() ?? null,
          resolvedAt: row.resolved_at?.toISOString() ?? null,
          summary: row.summary,
          rationale: row.rationale,
          recommendation: row.recommendation,
          lints: Array.isArray(row.details?.lints) ? row.details.lints.map(String) : [],
          specChunk:
            row.chunk_id === null
              ? null
              : {
                  id: row.chunk_id,
                  chunkIndex: row.chunk_index!,
                  content: row.chunk_content!,
                  similarity: typeof chunk?.similarity === 'number' ? chunk.similarity : null,
                  method: chunk?.method === 'plan_source' ? 'plan_source' : 'vector',
                },
        };
      });
  }
}
