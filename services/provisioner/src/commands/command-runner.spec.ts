import { newId } from '@vibe/contracts';
import type { EnvironmentDriver } from '../drivers/driver.js';
import { runCommand } from './command-runner.js';
import type { CommandMcpCalls } from './mcp-calls.js';

/**
 * apply_migration's calls by server. The official server cannot run here (it needs a Supabase project), so it
 * is stood for by its answers: `{ success: true }` for a migration, whatever it was given. Our own server is
 * exercised for real in test/mcp-commands.int-spec.ts.
 */
describe('apply_migration', () => {
  const driver = {} as EnvironmentDriver;
  const command = (name: string) => ({
    version: 1 as const,
    tool: 'apply_migration' as const,
    commandId: newId(),
    sessionId: newId(),
    environmentRef: 'e1',
    name,
    query: 'create table public.items (id int)',
  });

  function officialServer(applied: string[]) {
    const calls: Array<[string, string]> = [];
    const mcp = {
      driver: 'supabase' as const,
      call: async (mode: string, tool: string, args: Record<string, unknown>) => {
        calls.push([tool, mode]);
        if (tool === 'list_migrations') {
          return { migrations: applied.map((name, i) => ({ version: `2026010100000${i}`, name })) };
        }
        if (tool === 'apply_migration') {
          applied.push(String(args.name));
          return { success: true };
        }
        throw new Error(`unexpected tool ${tool}`);
      },
    };
    return { calls, mcp: () => mcp as unknown as CommandMcpCalls };
  }

  it('reads the official server’s ledger first, and applies only a name it does not hold', async () => {
    const server = officialServer(['common_primitives']);
    expect(await runCommand(command('schema_tables'), driver, server.mcp)).toEqual({
      name: 'schema_tables',
      applied: true,
    });
    expect(await runCommand(command('common_primitives'), driver, server.mcp)).toEqual({
      name: 'common_primitives',
      applied: false,
    });
    expect(server.calls).toEqual([
      ['list_migrations', 'read-only'],
      ['apply_migration', 'read-write'],
      ['list_migrations', 'read-only'],
    ]);
  });

  it('asks our own server once: it decides whether the name is applied already', async () => {
    const calls: string[] = [];
    const mcp = {
      driver: 'local' as const,
      call: async (_mode: string, tool: string) => {
        calls.push(tool);
        return { success: true, applied: false };
      },
    };
    expect(await runCommand(command('schema_tables'), driver, () => mcp as unknown as CommandMcpCalls)).toEqual({
      name: 'schema_tables',
      applied: false,
    });
    expect(calls).toEqual(['apply_migration']);
  });
});
