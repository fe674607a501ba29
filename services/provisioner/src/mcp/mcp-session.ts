import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

/**
 * The provisioner's side of MCP: a connector opens a session with the MCP server of one environment, in
 * read-only mode for inspection or read-write for mutations; a session is an SDK Client speaking the protocol
 * to that server (in process or over stdio).
 */
export type ServerMode = 'read-only' | 'read-write';

export interface McpServerInfo {
  /** `local`: the project's own server; `supabase`: the official `@supabase/mcp-server-supabase`. */
  readonly driver: 'local' | 'supabase';
  readonly mode: ServerMode;
  readonly transport: 'in-memory' | 'stdio';
}

export interface McpSession {
  readonly server: McpServerInfo;
  /** The server's process, when it runs in one of its own (stdio). */
  readonly pid?: number | null;
  listTools(): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface McpConnector {
  readonly driver: 'local' | 'supabase';
  readonly transport: 'in-memory' | 'stdio';
  /** A connected session with the MCP server scoped to `environmentRef`. */
  open(environmentRef: string, mode: ServerMode): Promise<McpSession>;
}

/** Injection token of the configured connector. */
export const MCP_CONNECTOR = Symbol('MCP_CONNECTOR');

/** Longest a single tool call may take (a large migration); the command's message is kept alive meanwhile. */
export const TOOL_CALL_TIMEOUT_MS = 10 * 60_000;

const CLIENT_INFO = { name: 'vibe-architect-provisioner', version: '0.1.0' };

let validator: AjvJsonSchemaValidator | undefined;

/**
 * One JSON Schema validator for the local MCP server's sessions (the clients and the servers of this process).
 * Left to itself the SDK makes an Ajv instance, with its formats, for each client and each server, and a
 * session is opened per environment and mode: 3-4 ms of the provisioner's CPU per build. Only where no output
 * schemas are listed: Ajv keeps every schema it compiles, so a shared one would keep each session's.
 */
export function sharedJsonSchemaValidator(): AjvJsonSchemaValidator {
  validator ??= new AjvJsonSchemaValidator();
  return validator;
}

/** Connects an SDK Client over `transport` (initialize handshake included) and wraps it as a session. */
export async function connectSession(
  transport: Transport,
  server: McpServerInfo,
  options: { jsonSchemaValidator?: AjvJsonSchemaValidator } = {},
): Promise<McpSession> {
  const client = new Client(CLIENT_INFO, options);
  await client.connect(transport);
  return {
    server,
    async listTools() {
      const tools: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined);
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    },
    async callTool(name, args) {
      const result = await client.callTool({ name, arguments: args }, undefined, {
        timeout: TOOL_CALL_TIMEOUT_MS,
      });
      return result as CallToolResult;
    },
    close: () => client.close(),
  };
}
