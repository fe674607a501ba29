import type { ProvisionCommand, ProvisionResult } from '@vibe/contracts';
import { backoff, isTransientPgError, pgErrorCode, redactText } from '@vibe/platform';
import { PermanentFailure, TransientFailure } from '../drivers/driver.js';

/**
 * What becomes of a command: its result, or a retry. Pure: the handler does the I/O.
 */

/** Deliveries of a command that keeps failing transiently before it is answered as failed. */
export const MAX_TRANSIENT_ATTEMPTS = 10;

/** The largest result recorded and published (NATS' default max_payload is 1 MiB). */
export const MAX_RESULT_BYTES = 512 * 1024;

export interface Failure {
  message: string;
  code: string | null;
  transient: false;
}

export type FailureDecision =
  { kind: 'retry'; delayMs: number; reason: string } | { kind: 'fail'; failure: Failure; internal: boolean };

/**
 * A failure the driver described is final. Postgres or an MCP server being unreachable is retried with a
 * growing delay, until MAX_TRANSIENT_ATTEMPTS deliveries, then final too. Anything else is a fault of ours:
 * final, and logged by the caller. Every message is redacted.
 */
export function decideFailure(error: unknown, deliveryCount: number): FailureDecision {
  const message = redactText(errorMessage(error));
  if (error instanceof PermanentFailure) {
    return { kind: 'fail', failure: { message, code: error.code, transient: false }, internal: false };
  }
  if (error instanceof TransientFailure || isTransientPgError(error)) {
    if (deliveryCount < MAX_TRANSIENT_ATTEMPTS)
      return { kind: 'retry', delayMs: backoff(deliveryCount), reason: message };
    return {
      kind: 'fail',
      failure: {
        message: `gave up after ${deliveryCount} attempts, the environment server stayed unavailable: ${message}`,
        code: pgErrorCode(error) ?? (error instanceof TransientFailure ? error.code : null) ?? 'unavailable',
        transient: false,
      },
      internal: false,
    };
  }
  return {
    kind: 'fail',
    failure: {
      message: `internal error: ${clip(message, 1000)}`,
      code: pgErrorCode(error) ?? 'internal',
      transient: false,
    },
    internal: true,
  };
}

export function okResult(command: ProvisionCommand, output: unknown): ProvisionResult {
  return {
    version: 1,
    commandId: command.commandId,
    sessionId: command.sessionId,
    tool: command.tool,
    ok: true,
    output,
  };
}

export function failedResult(
  ids: { commandId: string; sessionId: string; tool: string },
  failure: { message: string; code: string | null },
): ProvisionResult {
  return {
    version: 1,
    commandId: ids.commandId,
    sessionId: ids.sessionId,
    tool: ids.tool,
    ok: false,
    error: { message: failure.message, code: failure.code, transient: false },
  };
}

/** A result too large to publish is replaced by a failure that says so. */
export function capResult(result: ProvisionResult, maxBytes = MAX_RESULT_BYTES): ProvisionResult {
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes <= maxBytes) return result;
  return failedResult(result, {
    message: `${result.tool} ran, but its result of ${bytes} bytes is more than the ${maxBytes} a result may carry; ask for less (for example add a LIMIT)`,
    code: 'result_too_large',
  });
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** At most `max` characters, marked when cut. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
