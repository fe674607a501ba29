import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  connectSession,
  sharedJsonSchemaValidator,
  type McpConnector,
  type McpSession,
  type ServerMode,
} from '../mcp-session.js';
import { LocalEnvironment, type EnvironmentConnections, type LocalEnvironmentSettings } from './local-environment.js';
import { createLocalMcpServer } from './local-mcp.server.js';

/**
 * Sessions with the local MCP server, in process: a new server instance per session, scoped to the session's
 * environment and mode, linked to an SDK Client by the SDK's InMemoryTransport. Both ends are the real SDK
 * objects and every call is a JSON-RPC exchange (initialize, tools/list, tools/call), as over stdio, without
 * a process per command; the same server also runs over stdio (`mcp/local/stdio.ts`).
 */
export class LocalMcpConnector implements McpConnector {
  readonly transport = 'in-memory';
  readonly driver = 'local';

  constructor(
    private readonly connections: EnvironmentConnections,
    private readonly settings: LocalEnvironmentSettings,
  ) {}

  async open(environmentRef: string, mode: ServerMode): Promise<McpSession> {
    const server = createLocalMcpServer({
      environment: new LocalEnvironment(environmentRef, this.connections, this.settings),
      readOnly: mode === 'read-only',
    });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await server.connect(serverTransport);
    try {
      const session = await connectSession(
        clientTransport,
        { driver: 'local', mode, transport: 'in-memory' },
        // Our server lists no output schemas: nothing of a session stays in the shared validator.
        { jsonSchemaValidator: sharedJsonSchemaValidator() },
      );
      return {
        ...session,
        async close() {
          await session.close();
          await server.close();
        },
      };
    } catch (error) {
      await server.close();
      throw error;
    }
  }
}
