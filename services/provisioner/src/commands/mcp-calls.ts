import { hostname } from 'node:os';
import type { ProvisionCommand } from '@vibe/contracts';
import { metrics } from '@vibe/platform';
import { PermanentFailure, TransientFailure } from '../drivers/driver.js';
import type { McpConnector, McpServerInfo, McpSession, ServerMode } from '../mcp/mcp-session.js';
import { callError, readToolResult, type ToolOutcome } from '../mcp/tool-result.js';
import { mcpCallEvent, type McpCallEvent } from './audit.js';

/** This provisioner process, as audit events name it: several replicas share one work queue. */
export const WORKER = `${hostname()}:${process.pid}`;

/**
 * The MCP calls of one command execution: sessions with the environment's MCP server opened on first use
 * (read-only for inspection, read-write for mutations, at most one of each), and every call audited as an
 * `mcp_call` event, handed to `onEvent` as soon as the call ends and kept for the ledger.
 */
export class CommandMcpCalls {
  private readonly sessions = new Map<ServerMode, Promise<McpSession>>();
  private count = 0;
  readonly events: McpCallEvent[] = [];

  /** The MCP server the calls go to: ours (`local`) or the official one (`supabase`). */
  get driver(): McpConnector['driver'] {
    return this.connector.driver;
  }

  constructor(
    private readonly connector: McpConnector,
    private readonly context: { command: ProvisionCommand; environment: string; attempt: number },
    private readonly onEvent: (event: McpCallEvent) => Promise<void>,
  ) {}

  /**
   * Calls a tool and returns its value (execute_sql's rows already taken out of their untrusted-data
   * boundaries). A failure is thrown as a PermanentFailure, or a TransientFailure when it may pass (the
   * server's database or API unreachable, the MCP connection lost).
   */
  async call(mode: ServerMode, tool: string, args: Record<string, unknown>): Promise<unknown> {
    const n = ++this.count;
    const startedAt = new Date();
    const started = performance.now();
    let server: McpServerInfo = { driver: this.connector.driver, mode, transport: this.connector.transport };
    let outcome: ToolOutcome;
    try {
      const session = await this.session(mode);
      server = session.server;
      outcome = readToolResult(await session.callTool(tool, args));
    } catch (error) {
      outcome = {
        ok: false,
        error:
          error instanceof PermanentFailure
            ? { message: error.message, code: error.code, transient: false }
            : callError(error),
      };
    }
    const endedAt = new Date();
    metrics.mcpCall(
      { tool, mode, ok: outcome.ok, transient: !outcome.ok && outcome.error.transient },
      (performance.now() - started) / 1000,
    );
    const event = mcpCallEvent({
      command: this.context.command,
      environment: this.context.environment,
      tool,
      args,
      outcome,
      server,
      call: n,
      attempt: this.context.attempt,
      startedAt,
      endedAt,
      durationMs: Math.round(performance.now() - started),
      worker: WORKER,
    });
    this.events.push(event);
    await this.onEvent(event);
    if (outcome.ok) return outcome.value;
    const { message, code, transient } = outcome.error;
    throw transient ? new TransientFailure(message, code) : new PermanentFailure(message, code ?? 'mcp_tool_error');
  }

  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(sessions.map(async (session) => (await session).close()));
  }

  private session(mode: ServerMode): Promise<McpSession> {
    let session = this.sessions.get(mode);
    if (!session) {
      session = this.connector.open(this.context.environment, mode);
      this.sessions.set(mode, session);
      // A session that failed to open is tried again by the next call.
      void session.catch(() => this.sessions.delete(mode));
    }
    return session;
  }
}
