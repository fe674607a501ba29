import { Inject, Injectable } from '@nestjs/common';
import { Plan } from '@vibe/contracts';
import { PG_POOL, type Pool } from '@vibe/platform';
import { z } from 'zod';

/**
 * The orchestrator's advisory-lock class of session leases ("orch" in ASCII; the second key is
 * hashtext(session id)): held by the orchestrator that drives a build, for as long as it drives it
 * (db/migrations/0003). A session whose lease is held has a build running.
 */
const BUILD_LEASE_CLASS = 0x6f726368;

/** A session as the sentinel needs it: what was built (the plan), where, and whether a build runs now. */
export interface CheckedSession {
  id: string;
  status: string;
  /** The orchestrator's build graph reached its end. */
  graphEnded: boolean;
  /** An orchestrator holds the session's build lease now. */
  buildRunning: boolean;
  environmentRef: string | null;
  environmentRemoved: boolean;
  plan: Plan | null;
  driftEnabled: boolean;
  /** `outputs.deferred`: what the build said it left for later (Edge Functions not deployed, ...). */
  deferred: string[];
  /** `updated_at` to the microsecond: any change of the session between two reads shows here. */
  version: string;
}

const Row = z.object({
  id: z.string(),
  status: z.string().nullable(),
  graph_ended: z.boolean(),
  build_running: z.boolean(),
  environment_ref: z.string().nullable(),
  environment_removed: z.boolean(),
  plan: z.unknown(),
  drift_enabled: z.boolean(),
  deferred: z.unknown(),
  version: z.string(),
});

/** Reads `build_sessions` (written by the gateway and the orchestrator; the sentinel never writes it). */
@Injectable()
export class SessionsRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async find(sessionId: string): Promise<CheckedSession | undefined> {
    const { rows } = await this.pool.query(
      `select s.id, s.status, s.graph_ended_at is not null as graph_ended,
         exists (
           select 1 from pg_locks l
           where l.locktype = 'advisory' and l.objsubid = 2 and l.granted
             and l.database = (select oid from pg_database where datname = current_database())
             and l.classid::bigint = $2 and l.objid::bigint = (hashtext(lower(s.id::text))::bigint & 4294967295)
         ) as build_running,
         s.environment->>'ref' as environment_ref,
         -- Deleted or expired (issue 12): its environment is being torn down, if it is not gone already.
         (s.environment_removed_at is not null or s.deleted_at is not null) as environment_removed,
         s.plan,
         (s.options->'enableDriftSentinel' = 'true'::jsonb
           or s.plan->'options'->'enableDriftSentinel' = 'true'::jsonb) is true as drift_enabled,
         s.outputs->'deferred' as deferred,
         to_char(s.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as version
       from public.build_sessions s
       where s.id = $1`,
      [sessionId, BUILD_LEASE_CLASS],
    );
    if (!rows[0]) return undefined;
    const row = Row.parse(rows[0]);
    const plan = row.plan === null ? null : Plan.safeParse(row.plan);
    return {
      id: row.id,
      status: row.status ?? 'unknown',
      graphEnded: row.graph_ended,
      buildRunning: row.build_running,
      environmentRef: row.environment_ref,
      environmentRemoved: row.environment_removed,
      plan: plan?.success ? plan.data : null,
      driftEnabled: row.drift_enabled,
      deferred: Array.isArray(row.deferred) ? row.deferred.filter((item) => typeof item === 'string') : [],
      version: row.version,
    };
  }

  /**
   * Sessions whose environment the schedule checks: built (succeeded, the graph at its end), with an
   * environment that was not removed (nor deleted, nor expired), and the drift sentinel asked for (in the options or the plan).
   */
  async scheduled(): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `select id from public.build_sessions
       where status = 'succeeded' and graph_ended_at is not null
         and environment is not null and environment_removed_at is null and deleted_at is null
         and (options->'enableDriftSentinel' = 'true'::jsonb or plan->'options'->'enableDriftSentinel' = 'true'::jsonb)
       order by id`,
    );
    return rows.map((row) => row.id);
  }
}

/** Why a session cannot be checked now, or null when it can. */
export function notCheckable(session: CheckedSession): string | null {
  if (session.status !== 'succeeded') return `the session is ${session.status}; only a succeeded build is checked`;
  if (!session.graphEnded || session.buildRunning) return 'a build of the session is running';
  if (!session.environmentRef || session.environmentRemoved) return 'the session has no environment';
  if (!session.plan) return 'the session has no valid plan';
  return null;
}
