import type { EnvironmentInfo, SessionView } from '@vibe/contracts';
import { environmentOf, mcpClientConfig, McpConfigUsageError, type McpConfigInput } from './mcp-config-command.js';

const localRef = 'vibe_env_0123456789abcdef0123456789abcdef';
const local: EnvironmentInfo = {
  driver: 'local',
  mode: 'branch',
  ref: localRef,
  database: localRef,
  host: '127.0.0.1',
  port: 5432,
  apiUrl: `http://127.0.0.1:54321/env/${localRef}`,
  createdAt: '2026-01-01T00:00:00.000Z',
};
const cloud: EnvironmentInfo = {
  driver: 'supabase',
  mode: 'branch',
  ref: 'abcdefghijklmnopqrst',
  apiUrl: 'https://abcdefghijklmnopqrst.supabase.co',
  createdAt: '2026-01-01T00:00:00.000Z',
};

const input = (overrides: Partial<McpConfigInput> = {}): McpConfigInput => ({
  environment: cloud,
  server: 'official',
  readOnly: true,
  client: 'claude-code',
  name: 'supabase',
  local: { node: '/usr/bin/node', repoRoot: '/repo', jwtSecretConfigured: false },
  ...overrides,
});

describe('vibe mcp-config', () => {
  it('gives the official server scoped to the project ref, read-only, the token as a reference', () => {
    expect(mcpClientConfig(input())).toEqual({
      mcpServers: {
        supabase: {
          command: 'npx',
          args: ['-y', '@supabase/mcp-server-supabase@latest', '--project-ref=abcdefghijklmnopqrst', '--read-only'],
          env: { SUPABASE_ACCESS_TOKEN: '${SUPABASE_ACCESS_TOKEN}' },
        },
      },
    });
  });

  it('leaves --read-only out only when read-write is asked', () => {
    const { args } = mcpClientConfig(input({ readOnly: false })).mcpServers.supabase!;
    expect(args).not.toContain('--read-only');
    expect(args).toContain('--project-ref=abcdefghijklmnopqrst');
  });

  it("writes references the way the client expands them (Cursor's ${env:NAME})", () => {
    expect(mcpClientConfig(input({ client: 'cursor' })).mcpServers.supabase!.env).toEqual({
      SUPABASE_ACCESS_TOKEN: '${env:SUPABASE_ACCESS_TOKEN}',
    });
  });

  it('gives the local server as this repository starts it, scoped to the environment', () => {
    const config = mcpClientConfig(input({ environment: local, server: 'local', name: 'vibe-01234567' }));
    expect(config).toEqual({
      mcpServers: {
        'vibe-01234567': {
          command: '/usr/bin/node',
          args: ['/repo/services/provisioner/dist/mcp/local/stdio.js', '--project-ref', localRef, '--read-only'],
          env: {
            ENV_DATABASE_URL: '${ENV_DATABASE_URL}',
            ENV_DB_PREFIX: 'vibe_env_',
            ENV_API_URL: 'http://127.0.0.1:54321/env/{ref}',
          },
        },
      },
    });
    const withSecret = mcpClientConfig(
      input({ environment: local, server: 'local', local: { node: 'n', repoRoot: '/r', jwtSecretConfigured: true } }),
    );
    expect(withSecret.mcpServers.supabase!.env.ENV_JWT_SECRET).toBe('${ENV_JWT_SECRET}');
  });

  it('refuses a server that cannot reach the environment', () => {
    expect(() => mcpClientConfig(input({ environment: local, server: 'official' }))).toThrow(McpConfigUsageError);
    expect(() => mcpClientConfig(input({ environment: cloud, server: 'local' }))).toThrow(/use --server official/);
  });

  it('needs a succeeded session that still has its environment', () => {
    const session = (overrides: Partial<SessionView>): SessionView => ({
      id: '6f1c3f1e-2a7b-4c1d-9e0f-0a1b2c3d4e5f',
      status: 'succeeded',
      template: 'marketplace',
      vibeText: 'x',
      options: {},
      environment: local,
      outputs: null,
      error: null,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      ...overrides,
    });
    expect(environmentOf(session({}))).toEqual(local);
    expect(() => environmentOf(session({ status: 'running' }))).toThrow(/is running/);
    expect(() => environmentOf(session({ environment: null }))).toThrow(/has no environment/);
    expect(() =>
      environmentOf(session({ deletion: { reason: 'owner', requestedAt: local.createdAt, completedAt: null } })),
    ).toThrow(/was deleted/);
  });
});
