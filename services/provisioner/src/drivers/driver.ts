import type { ProvisionCommand, ProvisionCommandOf, ProvisionOutput } from '@vibe/contracts';
import type { ApiCallAudit } from './api-call-audit.js';

/**
 * Where provisioned environments live (DESIGN.md §3): a local Postgres server by default, Supabase's
 * Management API when configured. The driver owns the environments' life cycle (what the Management API does
 * in the cloud); everything done inside an environment goes through its MCP server (src/mcp). A failure that
 * retrying cannot fix is thrown as a PermanentFailure, one that may pass as a TransientFailure; anything else
 * is classified by the caller (a Postgres that is unreachable is transient).
 */
export interface EnvironmentDriver {
  readonly kind: 'local' | 'supabase';
  /** The environment a command acts on, known before it runs (for the audit record). */
  targetOf(command: ProvisionCommand): string | null;
  /** `audit` receives every Management API request made (the cloud driver's; the local driver makes none). */
  createEnvironment(
    command: ProvisionCommandOf<'create_environment'>,
    audit?: ApiCallAudit,
  ): Promise<ProvisionOutput<'create_environment'>>;
  /** Removes the session's environment (a canceled or failed build); idempotent, `deleted: false` when gone. */
  deleteEnvironment(
    command: ProvisionCommandOf<'delete_environment'>,
    audit?: ApiCallAudit,
  ): Promise<ProvisionOutput<'delete_environment'>>;
}

/** Injection token of the configured driver. */
export const ENVIRONMENT_DRIVER = Symbol('ENVIRONMENT_DRIVER');

/**
 * A failure that doing the same again cannot fix (bad SQL, an unknown environment, a refused statement).
 * Its message names what was wrong; `code` is a SQLSTATE or one of the driver's own codes.
 */
export class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/**
 * A failure that may pass (the environment's server or the MCP server unreachable for now, a call timed out):
 * the command is retried later, up to a limit.
 */
export class TransientFailure extends Error {
  override readonly name = 'TransientFailure';
  constructor(
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** The environment ref of a command that acts inside an environment (every tool but create_environment). */
export function environmentRefOf(command: ProvisionCommand): string | null {
  return 'environmentRef' in command ? command.environmentRef : null;
}
