import path from 'node:path';
import { parseArgs } from 'node:util';
import { EnvironmentInfo, type SessionView } from '@vibe/contracts';
import { GatewayClient } from './gateway-client.js';
import { ROOT_DIR } from './stack.js';

export const MCP_CONFIG_USAGE = `  npm run vibe -- mcp-config <sessionId> [--read-write] [--server local|official] [--client claude-code|cursor]
                  [--name <key>]
                                           an MCP client configuration ("mcpServers") for the session's
                                           environment: scoped to its ref, --read-only unless --read-write,
                                           tokens and connection strings as \${VAR} references, never inline;
                                           the local or the official server, as the environment's driver says`;

export class McpConfigUsageError extends Error {}

/** How a client refers to an environment variable in its MCP configuration. */
export type McpClient = 'claude-code' | 'cursor';
export type McpServerKind = 'local' | 'official';

/** The official server, as Supabase documents starting it. */
export const OFFICIAL_MCP_PACKAGE = '@supabase/mcp-server-supabase@latest';

export interface McpServerEntry {
  command: string;
  args: string[];
  env: Record<string, string>;
}
export interface McpClientConfig {
  mcpServers: Record<string, McpServerEntry>;
}

export interface McpConfigInput {
  environment: EnvironmentInfo;
  server: McpServerKind;
  readOnly: boolean;
  client: McpClient;
  /** The key under mcpServers. */
  name: string;
  /** Local server: the Node binary and the repository root it is started from. */
  local: { node: string; repoRoot: string; jwtSecretConfigured: boolean };
}

/** `${NAME}` as the client expands it from its own environment when it starts the server. */
export function envReference(client: McpClient, name: string): string {
  return client === 'cursor' ? `\${env:${name}}` : `\${${name}}`;
}

/**
 * The `mcpServers` entry for an environment (spec §7.1): scoped to its ref, `--read-only` unless asked, every
 * credential an environment variable reference. Pure.
 */
export function mcpClientConfig(input: McpConfigInput): McpClientConfig {
  const { environment, server, readOnly, client, name, local } = input;
  if (server === 'official') {
    if (environment.driver !== 'supabase') {
      throw new McpConfigUsageError(
        `--server official reaches Supabase projects; this session's environment is ${environment.driver} (${environment.ref}): use --server local`,
      );
    }
    return {
      mcpServers: {
        [name]: {
          command: 'npx',
          args: ['-y', OFFICIAL_MCP_PACKAGE, `--project-ref=${environment.ref}`, ...(readOnly ? ['--read-only'] : [])],
          env: { SUPABASE_ACCESS_TOKEN: envReference(client, 'SUPABASE_ACCESS_TOKEN') },
        },
      },
    };
  }
  if (environment.driver !== 'local') {
    throw new McpConfigUsageError(
      `--server local serves environments on the local Postgres; this session's environment is a Supabase project (${environment.ref}): use --server official`,
    );
  }
  // Environment refs are ENV_DB_PREFIX followed by the session id's 32 hex digits (drivers/local/naming.ts).
  const prefix = /^([a-z][a-z0-9_]*?)[0-9a-f]{32}$/.exec(environment.ref)?.[1];
  if (!prefix) throw new Error(`"${environment.ref}" is not a local environment ref`);
  const apiUrlTemplate = environment.apiUrl
    ? environment.apiUrl.replace(encodeURIComponent(environment.ref), '{ref}')
    : undefined;
  return {
    mcpServers: {
      [name]: {
        command: local.node,
        args: [
          path.join(local.repoRoot, 'services/provisioner/dist/mcp/local/stdio.js'),
          '--project-ref',
          environment.ref,
          ...(readOnly ? ['--read-only'] : []),
        ],
        env: {
          // The admin connection to the environments' Postgres: a connection string, so never written here.
          ENV_DATABASE_URL: envReference(client, 'ENV_DATABASE_URL'),
          ENV_DB_PREFIX: prefix,
          ...(apiUrlTemplate && { ENV_API_URL: apiUrlTemplate }),
          ...(local.jwtSecretConfigured && { ENV_JWT_SECRET: envReference(client, 'ENV_JWT_SECRET') }),
        },
      },
    },
  };
}

/** The environment of a succeeded session that still has one; a clear error otherwise. */
export function environmentOf(session: SessionView): EnvironmentInfo {
  if (session.status !== 'succeeded') {
    throw new Error(
      `session ${session.id} is ${session.status}: an MCP configuration is for a succeeded build's environment`,
    );
  }
  if (session.deletion) throw new Error(`session ${session.id} was deleted: its environment is gone`);
  const environment = EnvironmentInfo.safeParse(session.environment);
  if (!environment.success) throw new Error(`session ${session.id} has no environment`);
  return environment.data;
}

export async function mcpConfigCommand(
  args: string[],
  context: { gatewayUrl: string; token: string | undefined; out: (line: string) => void; err: (line: string) => void },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'read-write': { type: 'boolean', default: false },
      server: { type: 'string' },
      client: { type: 'string', default: 'claude-code' },
      name: { type: 'string' },
    },
  });
  const [sessionId, ...extra] = positionals;
  if (!sessionId || extra.length) throw new McpConfigUsageError('mcp-config needs one session id');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sessionId)) {
    throw new McpConfigUsageError(`"${sessionId}" is not a session id (a uuid)`);
  }
  if (values.server !== undefined && values.server !== 'local' && values.server !== 'official') {
    throw new McpConfigUsageError(`--server must be local or official, not "${values.server}"`);
  }
  if (values.client !== 'claude-code' && values.client !== 'cursor') {
    throw new McpConfigUsageError(`--client must be claude-code or cursor, not "${values.client}"`);
  }
  if (values.name !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.name)) {
    throw new McpConfigUsageError('--name: letters, digits, "_" and "-" only (at most 64)');
  }
  const session = await new GatewayClient(context.gatewayUrl, context.token).getSession(sessionId);
  const environment = environmentOf(session);
  const server: McpServerKind = values.server ?? (environment.driver === 'supabase' ? 'official' : 'local');
  const readOnly = !values['read-write'];
  const config = mcpClientConfig({
    environment,
    server,
    readOnly,
    client: values.client,
    name: values.name ?? (server === 'official' ? 'supabase' : `vibe-${sessionId.slice(0, 8)}`),
    local: {
      node: process.execPath,
      repoRoot: ROOT_DIR,
      jwtSecretConfigured: Boolean(process.env.ENV_JWT_SECRET?.trim()),
    },
  });
  context.out(JSON.stringify(config, null, 2));
  const secrets = server === 'official' ? 'SUPABASE_ACCESS_TOKEN' : 'ENV_DATABASE_URL';
  context.err(
    `${server} MCP server for ${environment.ref}, ${readOnly ? 'read-only' : 'READ-WRITE: the client may change the environment'}; ` +
      `${secrets} is read from the client's environment`,
  );
  return 0;
}
