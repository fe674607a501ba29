import {
  accessCellName,
  ProvisionOutputs,
  stableId,
  type BuildEventOf,
  type ProvisionCommand,
  type ProvisionResult,
} from '@vibe/contracts';
import { redact, redactText } from '@vibe/platform';
import type { ApiCallRecord } from '../drivers/api-call-audit.js';
import type { McpServerInfo } from '../mcp/mcp-session.js';
import type { ToolOutcome } from '../mcp/tool-result.js';
import { clip } from './outcome.js';

/**
 * Audit records (spec §7.4): one `provisioner_call` per executed command and one `mcp_call` per MCP tool call
 * it made, each with the tool, the target environment, input and output summaries with secrets removed,
 * start and end and duration, and success or failure. Pure.
 *
 * Summaries are redacted (libs/platform `redact`/`redactText`, the one redaction function) before they are
 * cut (a secret cut in half no longer looks like one) and the whole payload once more after.
 */
export type ProvisionerCallEvent = BuildEventOf<'provisioner_call'>;
export type McpCallEvent = BuildEventOf<'mcp_call'>;
export type ManagementApiCallEvent = BuildEventOf<'management_api_call'>;
/** The calls a command made, audited one event each, kept with the command in the ledger. */
export type CallEvent = McpCallEvent | ManagementApiCallEvent;

const QUERY_CHARS = { apply_migration: 200, execute_sql: 500 } as const;
const SAMPLE_ROWS = 3;
const SAMPLE_TABLES = 50;
const SAMPLE_ITEMS = 20;
const VALUE_CHARS = 200;
/** A generic summary larger than this is replaced by its size. */
const SUMMARY_BYTES = 4000;

export function summarizeInput(command: ProvisionCommand): Record<string, unknown> {
  switch (command.tool) {
    case 'create_environment':
      return { mode: command.mode };
    case 'apply_migration':
      return {
        name: command.name,
        query: clip(redactText(command.query), QUERY_CHARS.apply_migration),
        queryLength: command.query.length,
      };
    case 'list_tables':
      return { schemas: command.schemas };
    case 'execute_sql':
      return { query: clip(redactText(command.query), QUERY_CHARS.execute_sql), readOnly: command.readOnly };
    case 'get_advisors':
      return { type: command.type };
    case 'deploy_edge_function':
      return {
        name: command.name,
        entrypointPath: command.entrypointPath,
        importMapPath: command.importMapPath ?? null,
        verifyJwt: command.verifyJwt,
        files: fileSizes(command.files),
      };
    case 'get_edge_function':
      return { slug: command.slug };
    case 'list_migrations':
    case 'list_extensions':
    case 'list_edge_functions':
    case 'get_project_url':
    case 'get_publishable_keys':
    case 'generate_typescript_types':
      return {};
    case 'delete_environment':
      return { environmentRef: command.environmentRef };
    case 'invoke_edge_function':
      return {
        slug: command.slug,
        method: command.method,
        auth: command.auth,
        bodyBytes: command.body === undefined ? 0 : Buffer.byteLength(JSON.stringify(command.body)),
      };
    case 'run_access_matrix':
      return {
        subjects: command.matrix.subjects.map((subject) => subject.name).slice(0, SAMPLE_ITEMS),
        cells: command.matrix.cells.length,
        policies: command.policies.length,
      };
    default: {
      const unknownCommand: never = command;
      throw new Error(`no input summary for ${JSON.stringify(unknownCommand)}`);
    }
  }
}

export function summarizeOutput(command: ProvisionCommand, result: ProvisionResult): Record<string, unknown> {
  if (!result.ok) return { error: clip(redactText(result.error.message), 500), code: result.error.code };
  switch (command.tool) {
    case 'create_environment':
      return ProvisionOutputs.create_environment.parse(result.output);
    case 'apply_migration':
      return ProvisionOutputs.apply_migration.parse(result.output);
    case 'list_tables': {
      const { tables } = ProvisionOutputs.list_tables.parse(result.output);
      return {
        tableCount: tables.length,
        tables: tables.slice(0, SAMPLE_TABLES).map((table) => ({
          name: `${table.schema}.${table.name}`,
          rlsEnabled: table.rlsEnabled,
          columns: table.columns.length,
        })),
      };
    }
    case 'execute_sql': {
      const { rows } = ProvisionOutputs.execute_sql.parse(result.output);
      return { rowCount: rows.length, rows: clipValues(redact(rows.slice(0, SAMPLE_ROWS))) };
    }
    case 'get_advisors': {
      const { lints } = ProvisionOutputs.get_advisors.parse(result.output);
      return lintSummary(lints);
    }
    case 'list_migrations': {
      const { migrations } = ProvisionOutputs.list_migrations.parse(result.output);
      return { migrationCount: migrations.length, last: migrations.slice(-5).map((m) => m.name ?? m.version) };
    }
    case 'list_extensions': {
      const { extensions } = ProvisionOutputs.list_extensions.parse(result.output);
      return {
        extensionCount: extensions.length,
        installed: extensions.filter((e) => e.installedVersion !== null).map((e) => e.name),
      };
    }
    case 'deploy_edge_function':
    case 'get_edge_function': {
      const fn = ProvisionOutputs.get_edge_function.shape.function
        .partial({ files: true })
        .parse(result.output && (result.output as { function?: unknown }).function);
      return {
        slug: fn.slug,
        version: fn.version,
        status: fn.status,
        ...(fn.files && { files: fileSizes(fn.files) }),
      };
    }
    case 'list_edge_functions': {
      const { functions } = ProvisionOutputs.list_edge_functions.parse(result.output);
      return { functionCount: functions.length, functions: functions.map((f) => `${f.slug}@${f.version}`) };
    }
    case 'get_project_url':
      return clipValues(redact(ProvisionOutputs.get_project_url.parse(result.output))) as Record<string, unknown>;
    case 'get_publishable_keys': {
      const { keys } = ProvisionOutputs.get_publishable_keys.parse(result.output);
      // Publishable keys are not secrets, but they are JWTs, and no JWT goes into an event (DESIGN.md §6).
      return { keys: keys.map((key) => ({ name: key.name, type: key.type, disabled: key.disabled })) };
    }
    case 'generate_typescript_types': {
      const { types } = ProvisionOutputs.generate_typescript_types.parse(result.output);
      return typesSummary(types);
    }
    case 'delete_environment':
      return ProvisionOutputs.delete_environment.parse(result.output);
    case 'invoke_edge_function': {
      const { url, status, body, durationMs, secretsFound } = ProvisionOutputs.invoke_edge_function.parse(
        result.output,
      );
      return { url, status, durationMs, secretsFound, body: capped(clipValues(redact(body))) };
    }
    case 'run_access_matrix': {
      const { cells, policies } = ProvisionOutputs.run_access_matrix.parse(result.output);
      const count = (actual: string) => cells.filter((cell) => cell.actual === actual).length;
      const unexpected = cells.filter((cell) => cell.actual !== cell.expected);
      return {
        cells: cells.length,
        allow: count('allow'),
        deny: count('deny'),
        error: count('error'),
        // The cells that did not do what the plan says, named: what the audit of a failed proof must show.
        unexpected: unexpected.slice(0, SAMPLE_ITEMS).map((cell) => `${accessCellName(cell)}: ${cell.actual}`),
        unexpectedCount: unexpected.length,
        livePolicies: policies.live.length,
        plannedPolicies: policies.planned.length,
      };
    }
    default: {
      const unknownCommand: never = command;
      throw new Error(`no output summary for ${JSON.stringify(unknownCommand)}`);
    }
  }
}

export function provisionerCallEvent(call: {
  command: ProvisionCommand;
  environment: string | null;
  result: ProvisionResult;
  startedAt: Date;
  durationMs: number;
  endedAt?: Date;
  worker?: string;
}): ProvisionerCallEvent {
  const { command, environment, result, startedAt, durationMs, endedAt, worker } = call;
  const outcome = result.ok ? 'succeeded' : 'failed';
  return {
    // Stable, so that a command executed again after a crash publishes the same event, which is dropped.
    id: stableId(command.sessionId, `call:${command.commandId}`),
    sessionId: command.sessionId,
    type: 'provisioner_call',
    version: 1,
    ts: new Date().toISOString(),
    message: `${command.tool} ${outcome}${environment ? ` on ${environment}` : ''} in ${durationMs} ms`,
    payload: redact({
      tool: command.tool,
      environment,
      commandId: command.commandId,
      input: summarizeInput(command),
      output: summarizeOutput(command, result),
      ok: result.ok,
      startedAt: startedAt.toISOString(),
      durationMs,
      ...(endedAt && { endedAt: endedAt.toISOString() }),
      ...(worker && { worker }),
    }),
  };
}

/** What an MCP tool was asked: queries cut, file contents replaced by their sizes, everything redacted. */
export function summarizeMcpInput(tool: string, args: Record<string, unknown>): Record<string, unknown> {
  const summary: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (key === 'query' && typeof value === 'string') {
      summary.query = clip(
        redactText(value),
        tool === 'apply_migration' ? QUERY_CHARS.apply_migration : QUERY_CHARS.execute_sql,
      );
      summary.queryLength = value.length;
    } else if (key === 'files' && Array.isArray(value)) {
      summary.files = fileSizes(value as Array<{ name?: unknown; content?: unknown }>);
    } else {
      summary[key] = value;
    }
  }
  return capped(clipValues(redact(summary)));
}

/** What an MCP tool answered: counts and samples per tool, a failure's message and code. */
export function summarizeMcpOutput(tool: string, outcome: ToolOutcome): Record<string, unknown> {
  if (!outcome.ok) return { error: clip(redactText(outcome.error.message), 500), code: outcome.error.code };
  const value = outcome.value;
  const record =
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  switch (tool) {
    case 'execute_sql': {
      const rows = Array.isArray(record.result) ? record.result : [];
      return { rowCount: rows.length, rows: clipValues(redact(rows.slice(0, SAMPLE_ROWS))) };
    }
    case 'list_tables': {
      const tables = Array.isArray(record.tables) ? (record.tables as Array<Record<string, unknown>>) : [];
      return {
        tableCount: tables.length,
        tables: tables.slice(0, SAMPLE_TABLES).map((table) => ({
          name: table.name,
          rls_enabled: table.rls_enabled,
          ...(Array.isArray(table.columns) && { columns: table.columns.length }),
        })),
        ...(record.advisory !== undefined && { advisory: true }),
      };
    }
    case 'get_advisors': {
      const result = record.result as { lints?: unknown } | undefined;
      const lints = Array.isArray(result?.lints) ? (result.lints as Array<Record<string, unknown>>) : [];
      return {
        lints: lints.slice(0, SAMPLE_ITEMS * 2).map((lint) => ({
          name: lint.name,
          level: lint.level,
          count: typeof lint.count === 'number' ? lint.count : 1,
        })),
      };
    }
    case 'get_edge_function':
      return capped(
        clipValues(
          redact({
            ...Object.fromEntries(Object.entries(record).filter(([key]) => key !== 'files')),
            files: fileSizes(
              Array.isArray(record.files) ? (record.files as Array<{ name?: unknown; content?: unknown }>) : [],
            ),
          }),
        ),
      );
    case 'generate_typescript_types':
      return typeof record.types === 'string' ? typesSummary(record.types) : capped(clipValues(redact(record)));
    case 'get_publishable_keys': {
      const keys = Array.isArray(record.keys) ? (record.keys as Array<Record<string, unknown>>) : [];
      return { keys: keys.map((key) => ({ name: key.name, type: key.type, disabled: key.disabled ?? null })) };
    }
    default:
      return capped(clipValues(redact(record)));
  }
}

export function mcpCallEvent(call: {
  command: ProvisionCommand;
  environment: string | null;
  tool: string;
  args: Record<string, unknown>;
  outcome: ToolOutcome;
  server: McpServerInfo;
  /** The command's n-th MCP call, from 1. */
  call: number;
  /** The command's delivery (1 the first time; a retry runs its calls again as new ones). */
  attempt: number;
  startedAt: Date;
  endedAt: Date;
  durationMs: number;
  worker: string;
}): McpCallEvent {
  const { command, environment, tool, outcome, server, attempt } = call;
  // The first attempt's ids are stableId(session, `mcp:${commandId}:${n}`); a retry's calls are other calls.
  const key =
    attempt > 1 ? `mcp:${command.commandId}:${attempt}:${call.call}` : `mcp:${command.commandId}:${call.call}`;
  return {
    id: stableId(command.sessionId, key),
    sessionId: command.sessionId,
    type: 'mcp_call',
    version: 1,
    ts: new Date().toISOString(),
    message: `MCP ${tool} (${server.mode}) for ${command.tool} ${outcome.ok ? 'succeeded' : 'failed'}${environment ? ` on ${environment}` : ''} in ${call.durationMs} ms`,
    payload: redact({
      tool,
      environment,
      commandId: command.commandId,
      command: command.tool,
      call: call.call,
      attempt,
      server: { driver: server.driver, mode: server.mode, transport: server.transport },
      input: summarizeMcpInput(tool, call.args),
      output: summarizeMcpOutput(tool, outcome),
      ok: outcome.ok,
      startedAt: call.startedAt.toISOString(),
      endedAt: call.endedAt.toISOString(),
      durationMs: call.durationMs,
      worker: call.worker,
    }),
  };
}

/**
 * One Management API request as an audit event (the cloud driver's; spec §7.4 as for MCP calls): method,
 * path, environment, status, bodies summarized and redacted, timing, and how long a 429 or 5xx asked to wait.
 */
export function managementApiCallEvent(call: {
  command: ProvisionCommand;
  request: ApiCallRecord;
  /** The command's n-th request, from 1. */
  call: number;
  attempt: number;
  worker: string;
}): ManagementApiCallEvent {
  const { command, request, attempt } = call;
  const key = `api:${command.commandId}:${attempt}:${call.call}`;
  const status = request.status === null ? 'no response' : String(request.status);
  return {
    id: stableId(command.sessionId, key),
    sessionId: command.sessionId,
    type: 'management_api_call',
    version: 1,
    ts: new Date().toISOString(),
    message: `Management API ${request.method} ${request.path} for ${command.tool}: ${status} in ${request.durationMs} ms`,
    payload: redact({
      method: request.method,
      path: clip(redactText(request.path), VALUE_CHARS),
      environment: request.environment,
      commandId: command.commandId,
      command: command.tool,
      call: call.call,
      attempt,
      status: request.status,
      input: capped(clipValues(redact(request.input ?? {}))),
      output: capped(clipValues(redact(request.output ?? {}))),
      ok: request.ok,
      retryAfterMs: request.retryAfterMs,
      startedAt: request.startedAt.toISOString(),
      endedAt: request.endedAt.toISOString(),
      durationMs: request.durationMs,
      worker: call.worker,
    }),
  };
}

function lintSummary(lints: Array<{ name: string; level: string }>): Record<string, unknown> {
  const counts = new Map<string, { name: string; level: string; count: number }>();
  for (const lint of lints) {
    const entry = counts.get(lint.name) ?? { name: lint.name, level: lint.level, count: 0 };
    entry.count += 1;
    counts.set(lint.name, entry);
  }
  return { lintCount: lints.length, lints: [...counts.values()] };
}

function fileSizes(
  files: ReadonlyArray<{ name?: unknown; content?: unknown }>,
): Array<{ name: string; bytes: number }> {
  return files.slice(0, SAMPLE_ITEMS).map((file) => ({
    name: clip(redactText(String(file.name)), VALUE_CHARS),
    bytes: typeof file.content === 'string' ? Buffer.byteLength(file.content) : 0,
  }));
}

function clipValues(value: unknown): unknown {
  if (typeof value === 'string') return clip(value, VALUE_CHARS);
  if (Array.isArray(value)) return value.slice(0, SAMPLE_TABLES).map(clipValues);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, clipValues(item)]));
  }
  return value;
}

function capped(value: unknown): Record<string, unknown> {
  const record = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { value }) as Record<
    string,
    unknown
  >;
  const bytes = Buffer.byteLength(JSON.stringify(record));
  return bytes <= SUMMARY_BYTES ? record : { summarized: false, bytes };
}

/** A types file in an event: its size, not its text. */
function typesSummary(types: string): Record<string, unknown> {
  return { typesLength: types.length, lines: types.split('\n').length };
}
