/**
 * Where a driver reports each HTTP request it made to the Management API while executing a command, so that
 * the command's audit (spec §7.4) holds it as a `management_api_call` event (src/commands/api-calls.ts).
 * Summaries are redacted there; the driver passes what it sent and got, never its token.
 */
export interface ApiCallRecord {
  method: string;
  /** The path without its query. */
  path: string;
  environment: string | null;
  /** Null when no response came. */
  status: number | null;
  ok: boolean;
  /** The request body (JSON), or a description of a multipart one. */
  input: unknown;
  /** The response body (JSON), or `{ error }`. */
  output: unknown;
  /** How long the response asked to wait before the next try, when it did. */
  retryAfterMs: number | null;
  startedAt: Date;
  endedAt: Date;
  durationMs: number;
}

export interface ApiCallAudit {
  record(call: ApiCallRecord): Promise<void>;
}
