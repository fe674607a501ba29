import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Logger } from '@nestjs/common';
import { redactText } from '@vibe/platform';
import { PermanentFailure } from '../../drivers/driver.js';
import { connectSession, type McpConnector, type McpSession, type ServerMode } from '../mcp-session.js';

export interface SupabaseMcpSettings {
  accessToken: string;
  /** The executable that starts the server (`npx`). */
  command: string;
  /** The npm package spec it runs (`@supabase/mcp-server-supabase@^0.13.0`). */
  packageSpec: string;
  /** Feature groups, never `docs`. */
  features: readonly string[];
  /** Where the child starts: npx finds a locally installed package from here before asking the registry. */
  cwd?: string;
  /** The Management API the server calls (`--api-url`), when not Supabase's own (a test double). */
  apiUrl?: string;
}

/** The Management API the official server calls unless told otherwise. */
export const DEFAULT_MANAGEMENT_API_URL = 'https://api.supabase.com';

/** A Supabase project ref: 20 lower-case letters. Checked before it goes on a command line. */
const PROJECT_REF = /^[a-z]{20}$/;

/**
 * The command line of the official server for one project (pure): project-scoped, read-only for inspection,
 * the configured feature groups. The access token is not on it: it goes in the child's environment.
 */
export function supabaseMcpCommand(
  settings: Pick<SupabaseMcpSettings, 'command' | 'packageSpec' | 'features' | 'apiUrl'>,
  projectRef: string,
  mode: ServerMode,
): { command: string; args: string[] } {
  if (!PROJECT_REF.test(projectRef)) {
    throw new PermanentFailure(
      `"${projectRef.slice(0, 80)}" is not a Supabase project ref (20 lower-case letters)`,
      'invalid_environment_ref',
    );
  }
  if (settings.features.includes('docs')) throw new Error('the docs feature group must stay off');
  return {
    command: settings.command,
    args: [
      '-y',
      settings.packageSpec,
      '--project-ref',
      projectRef,
      '--features',
      settings.features.join(','),
      ...(mode === 'read-only' ? ['--read-only'] : []),
      ...(settings.apiUrl && new URL(settings.apiUrl).origin !== DEFAULT_MANAGEMENT_API_URL
        ? ['--api-url', new URL(settings.apiUrl).origin]
        : []),
    ],
  };
}

/**
 * Sessions with the official `@supabase/mcp-server-supabase` (the cloud driver, DESIGN.md §3): one child
 * process per session over stdio, scoped with `--project-ref` to the environment, `--read-only` for
 * inspection. The personal access token reaches the child as SUPABASE_ACCESS_TOKEN in its environment (the
 * rest of which is the SDK's minimal default), never as an argument, where `ps` would show it.
 */
export class SupabaseMcpConnector implements McpConnector {
  readonly transport = 'stdio';
  readonly driver = 'supabase';
  private readonly logger = new Logger('SupabaseMcp');

  constructor(private readonly settings: SupabaseMcpSettings) {}

  async open(environmentRef: string, mode: ServerMode): Promise<McpSession> {
    const { command, args } = supabaseMcpCommand(this.settings, environmentRef, mode);
    const transport = new StdioClientTransport({
      command,
      args,
      env: { ...getDefaultEnvironment(), SUPABASE_ACCESS_TOKEN: this.settings.accessToken },
      cwd: this.settings.cwd ?? process.cwd(),
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.logger.debug(`${environmentRef}: ${redactText(line).slice(0, 500)}`);
      }
    });
    try {
      const session = await connectSession(transport, { driver: 'supabase', mode, transport: 'stdio' });
      return { ...session, pid: transport.pid };
    } catch (error) {
      await transport.close().catch(() => undefined);
      throw error;
    }
  }
}
