import { Inject, Injectable } from '@nestjs/common';
import { ManagementApiCall, McpCall, ProvisionerCall, ProvisionResult } from '@vibe/contracts';
import { PG_POOL, pgErrorCode, type Pool, type PoolClient } from '@vibe/platform';
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
   * is a session advisory lock, so a worker that dies gives it up with its connection.
   */
  async claim(commandId: string): Promise<CommandClaim | null> {
    const client: PoolClient = await this.pool.connect();
    try {
      const { rows } = await client.query<{ claimed: boolean }>(
        'select pg_try_advisory_lock($1, hashtext($2)) as claimed',
        [CLAIM_LOCK_CLASS, commandId],
      );
      if (!rows[0]?.claimed) {
        client.release();
        return null;
      }
    } catch (error) {
      client.release(true);
      throw error;
    }
    return {
      async release() {
        await client.query('select pg_advisory_unlock($1, hashtext($2))', [CLAIM_LOCK_CLASS, commandId]).then(
          () => client.release(),
          // Not unlocked: the connection must not go back to the pool holding the lock.
          () => client.release(true),
        );
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

  /** Records a completed command; if it was recorded meanwhile, the earlier entry wins and is returned. */
  async record(entry: LedgerEntry): Promise<LedgerEntry> {
    const { result, audit, calls } = entry;
    const { rows } = await this.pool.query<{ result: unknown; audit: unknown }>(
      `insert into public.provisioner_commands (command_id, session_id, tool, result, audit)
       values ($1, $2, $3, $4::jsonb, $5::jsonb)
       on conflict (command_id) do nothing
       returning result, audit`,
      [result.commandId, result.sessionId, result.tool, JSON.stringify(result), auditColumn(audit, calls)],
    );
    if (rows[0]) return toEntry(rows[0]);
    const earlier = await this.find(result.commandId);
    if (!earlier) throw new Error(`command ${result.commandId} is neither new nor recorded`);
    return earlier;
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
