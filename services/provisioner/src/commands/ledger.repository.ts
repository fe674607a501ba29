import { Inject, Injectable } from '@nestjs/common';
import { ManagementApiCall, McpCall, ProvisionerCall, ProvisionResult } from '@vibe/contracts';
import { PG_POOL, pgErrorCode, quoteLiteral, type Pool, type PoolClient } from '@vibe/platform';
import type { QueryResult } from 'pg';
import type { CallEvent, ProvisionerCallEvent } from './audit.js';

/**
 * A completed command: its result, the audit event of its execution and those of the MCP calls and
 * Management API requests it made (all re-published with it).
 */
export interface LedgerEntry {
  result: ProvisionResult;
  audit: ProvisionerCallEvent | null;
  calls: CallEvent[];
}

/** Held while a command executes; no other worker, in this process or another, executes the same id. */
export interface CommandClaim {
  /** What the ledger held for the command when it was claimed: a command completed earlier is not run again. */
  readonly recorded: LedgerEntry | null;
  /**
   * Records the completed command, commits, and gives the claim up, in one round trip. If the command was
   * recorded meanwhile, the earlier entry wins and is returned.
   */
  record(entry: LedgerEntry): Promise<LedgerEntry>;
  /** Gives the claim up without recording (the command is retried later). Safe after record(). */
  release(): Promise<void>;
}

/** Advisory-lock class of command claims in the control plane ("prov" in ASCII). */
const CLAIM_LOCK_CLASS = 0x70726f76;

/**
 * The provisioner's idempotency ledger in the control plane (`provisioner_commands`, migration 0002): a
 * command id found here is answered with the recorded result and never executed again (DESIGN.md §4).
 */
@Injectable()
export class LedgerRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Fails at boot, with what to do, when the ledger table has not been migrated. */
  async assertReady(): Promise<void> {
    try {
      await this.pool.query('select 1 from public.provisioner_commands limit 0');
    } catch (error) {
      if (pgErrorCode(error) !== '42P01') throw error;
      throw new Error(
        'the provisioner ledger table public.provisioner_commands is missing: apply the control-plane migrations (npm run db:migrate)',
      );
    }
  }

  /**
   * Claims a command id for execution, or returns null when another worker holds it right now. The claim
   * is a session advisory lock, so a worker that dies gives it up with its connection. The ledger is read in
   * the same round trip, after the lock is taken (each statement reads a snapshot of its own).
   */
  async claim(commandId: string): Promise<CommandClaim | null> {
    const client: PoolClient = await this.pool.connect();
    const lock = `${CLAIM_LOCK_CLASS}, hashtext(${quoteLiteral(commandId)})`;
    let recorded: LedgerEntry | null;
    try {
      const [claimed, ledger] = (await client.query(
        `select pg_try_advisory_lock(${lock}) as claimed;
         select result, audit from public.provisioner_commands where command_id = ${quoteLiteral(commandId)}`,
      )) as unknown as [QueryResult<{ claimed: boolean }>, QueryResult<{ result: unknown; audit: unknown }>];
      if (!claimed.rows[0]?.claimed) {
        client.release();
        return null;
      }
      recorded = ledger.rows[0] ? toEntry(ledger.rows[0]) : null;
    } catch (error) {
      client.release(true);
      throw error;
    }
    let released = false;
    /** Runs the statement that ends with the unlock; the connection is dropped when it fails (lock or not). */
    const finish = async (statements: string): Promise<QueryResult[]> => {
      released = true;
      try {
        const results = (await client.query(statements)) as unknown as QueryResult | QueryResult[];
        client.release();
        return Array.isArray(results) ? results : [results];
      } catch (error) {
        client.release(true);
        throw error;
      }
    };
    return {
      recorded,
      record: async (entry) => {
        if (released) throw new Error(`the claim of command ${commandId} was given up before recording`);
        const { result, audit, calls } = entry;
        const column = auditColumn(audit, calls);
        const values = [
          quoteLiteral(result.commandId),
          quoteLiteral(result.sessionId),
          quoteLiteral(result.tool),
          `${quoteLiteral(JSON.stringify(result))}::jsonb`,
          column === null ? 'null' : `${quoteLiteral(column)}::jsonb`,
        ];
        // Committed before the lock is given up, so the worker that claims the id next finds it recorded.
        const [inserted] = await finish(
          `insert into public.provisioner_commands (command_id, session_id, tool, result, audit)
           values (${values.join(', ')}) on conflict (command_id) do nothing;
           commit;
           select pg_advisory_unlock(${lock})`,
        );
        if (inserted?.rowCount === 1) return entry;
        const earlier = await this.find(result.commandId);
        if (!earlier) throw new Error(`command ${result.commandId} is neither new nor recorded`);
        return earlier;
      },
      release: async () => {
        if (!released) await finish(`select pg_advisory_unlock(${lock})`).catch(() => undefined);
      },
    };
  }

  async find(commandId: string): Promise<LedgerEntry | null> {
    const { rows } = await this.pool.query<{ result: unknown; audit: unknown }>(
      'select result, audit from public.provisioner_commands where command_id = $1',
      [commandId],
    );
    return rows[0] ? toEntry(rows[0]) : null;
  }
}

/**
 * The `audit` column (jsonb): the provisioner_call event alone (rows from before MCP), or since MCP an array of
 * the provisioner_call event followed by the command's mcp_call (and management_api_call) events.
 */
function auditColumn(audit: ProvisionerCallEvent | null, calls: CallEvent[]): string | null {
  if (!audit) return calls.length ? JSON.stringify(calls) : null;
  return JSON.stringify([audit, ...calls]);
}

function toEntry(row: { result: unknown; audit: unknown }): LedgerEntry {
  const result = ProvisionResult.parse(row.result);
  if (row.audit === null) return { result, audit: null, calls: [] };
  if (!Array.isArray(row.audit)) return { result, audit: ProvisionerCall.parse(row.audit), calls: [] };
  const [first, ...rest] = row.audit as unknown[];
  const audit = ProvisionerCall.safeParse(first);
  return {
    result,
    audit: audit.success ? audit.data : null,
    calls: (audit.success ? rest : row.audit).map((call) =>
      (call as { type?: unknown }).type === 'management_api_call' ? ManagementApiCall.parse(call) : McpCall.parse(call),
    ),
  };
}
