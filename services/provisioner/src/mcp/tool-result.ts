import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isTransientPgError } from '@vibe/platform';
import { unwrapUntrustedData } from './untrusted-data.js';

/**
 * What a tool call gave, read from the wire format that both our server and the official one use (pure):
 * success is `{ content: [{ type: 'text', text: JSON }] }`; failure is `isError` with the text
 * `{"error":{"name","message"}}` (ours adds the SQLSTATE or driver code as `code`). A `result` string that
 * holds untrusted-data boundaries (execute_sql, get_logs) is unwrapped into the value inside them.
 */
export type ToolOutcome = { ok: true; value: unknown } | { ok: false; error: ToolError };

export interface ToolError {
  message: string;
  code: string | null;
  /** The failure may pass: the server's database or API was unreachable, or the call itself timed out. */
  transient: boolean;
}

export function readToolResult(result: CallToolResult): ToolOutcome {
  const text = result.content
    .filter((part): part is { type: 'text'; text: string } => part.type === 'text')
    .map((part) => part.text)
    .join('\n');
  const parsed = parseJson(text);
  if (result.isError) return { ok: false, error: toolError(parsed, text) };
  if (parsed === undefined) return { ok: true, value: text };
  return { ok: true, value: unwrapResult(parsed.value) };
}

/** A failure of the call itself (transport closed, timeout, protocol error), not of the tool. */
export function callError(error: unknown): ToolError {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return { message: `MCP call failed: ${message}`, code: 'mcp_unavailable', transient: true };
}

function toolError(parsed: { value: unknown } | undefined, text: string): ToolError {
  const error = isRecord(parsed?.value) && isRecord(parsed.value.error) ? parsed.value.error : undefined;
  const message = typeof error?.message === 'string' && error.message ? error.message : text || 'the tool failed';
  const code = typeof error?.code === 'string' ? error.code : null;
  const name = typeof error?.name === 'string' ? error.name : '';
  // `fetch failed` is the official server failing to reach the Management API (a TypeError from fetch).
  const unreachable = name === 'TypeError' && /fetch failed/i.test(message);
  return { message, code, transient: unreachable || isTransientPgError(Object.assign(new Error(message), { code })) };
}

function unwrapResult(value: unknown): unknown {
  if (!isRecord(value) || typeof value.result !== 'string') return value;
  const inner = unwrapUntrustedData(value.result);
  return inner ? { ...value, result: inner.value } : value;
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
