import {
  ProvisionOutputs,
  type ProvisionCommand,
  type ProvisionCommandOf,
  type ProvisionOutput,
} from '@vibe/contracts';
import type { ApiCallAudit } from '../drivers/api-call-audit.js';
import type { EnvironmentDriver } from '../drivers/driver.js';
import { runAccessMatrix } from './access-matrix.js';
import type { EnvironmentApi } from '../drivers/environment-api.js';
import { invokeEdgeFunction } from './invoke-edge-function.js';
import type { CommandMcpCalls } from './mcp-calls.js';
import {
  toApplied,
  toDeployedFunction,
  toExtensions,
  toFunctions,
  toFunctionWithFiles,
  toLints,
  toMigrations,
  toProjectUrl,
  toPublishableKeys,
  toRows,
  toTables,
  toTypescriptTypes,
} from './mcp-outputs.js';

/**
 * What each command does (spec §7.3): the environment's life cycle through the driver (the Management API's
 * part), everything inside an environment as calls to its MCP server, read-only sessions for inspection and
 * read-write only for mutations. Outputs are checked against the contract before they leave: a bug is
 * caught here, not downstream. A new command is one more case (the switch is exhaustive).
 */
export async function runCommand(
  command: ProvisionCommand,
  driver: EnvironmentDriver,
  mcp: () => CommandMcpCalls,
  /** The environments' HTTP API (Edge Functions), and where Management API requests are audited. */
  context: { api?: EnvironmentApi; audit?: ApiCallAudit } = {},
): Promise<unknown> {
  switch (command.tool) {
    case 'create_environment':
      return ProvisionOutputs.create_environment.parse(await driver.createEnvironment(command, context.audit));
    case 'delete_environment':
      return ProvisionOutputs.delete_environment.parse(await driver.deleteEnvironment(command, context.audit));
    case 'apply_migration':
      return ProvisionOutputs.apply_migration.parse(await applyMigration(command, mcp()));
    case 'list_tables': {
      const value = await mcp().call('read-only', 'list_tables', { schemas: command.schemas, verbose: true });
      return ProvisionOutputs.list_tables.parse({ tables: toTables(value, command.schemas) });
    }
    case 'execute_sql': {
      const mode = command.readOnly ? 'read-only' : 'read-write';
      const value = await mcp().call(mode, 'execute_sql', { query: command.query });
      return ProvisionOutputs.execute_sql.parse({ rows: toRows(value) });
    }
    case 'get_advisors': {
      const value = await mcp().call('read-only', 'get_advisors', { type: command.type });
      return ProvisionOutputs.get_advisors.parse({ lints: toLints(value) });
    }
    case 'list_migrations':
      return ProvisionOutputs.list_migrations.parse({
        migrations: toMigrations(await mcp().call('read-only', 'list_migrations', {})),
      });
    case 'list_extensions':
      return ProvisionOutputs.list_extensions.parse({
        extensions: toExtensions(await mcp().call('read-only', 'list_extensions', {})),
      });
    case 'deploy_edge_function': {
      const value = await mcp().call('read-write', 'deploy_edge_function', {
        name: command.name,
        entrypoint_path: command.entrypointPath,
        ...(command.importMapPath !== undefined && { import_map_path: command.importMapPath }),
        verify_jwt: command.verifyJwt,
        files: command.files,
      });
      return ProvisionOutputs.deploy_edge_function.parse({ function: toDeployedFunction(value) });
    }
    case 'list_edge_functions':
      return ProvisionOutputs.list_edge_functions.parse({
        functions: toFunctions(await mcp().call('read-only', 'list_edge_functions', {})),
      });
    case 'get_edge_function': {
      const value = await mcp().call('read-only', 'get_edge_function', { function_slug: command.slug });
      return ProvisionOutputs.get_edge_function.parse({ function: toFunctionWithFiles(value) });
    }
    case 'get_project_url':
      return ProvisionOutputs.get_project_url.parse({
        url: toProjectUrl(await mcp().call('read-only', 'get_project_url', {})),
      });
    case 'get_publishable_keys':
      return ProvisionOutputs.get_publishable_keys.parse({
        keys: toPublishableKeys(await mcp().call('read-only', 'get_publishable_keys', {})),
      });
    case 'generate_typescript_types':
      return ProvisionOutputs.generate_typescript_types.parse({
        types: toTypescriptTypes(await mcp().call('read-only', 'generate_typescript_types', {})),
      });
    case 'invoke_edge_function': {
      if (!context.api) throw new Error('invoke_edge_function needs the environment API, which is not configured');
      return ProvisionOutputs.invoke_edge_function.parse(await invokeEdgeFunction(command, context.api, context.audit));
    }
    case 'run_access_matrix':
      return ProvisionOutputs.run_access_matrix.parse(await runAccessMatrix(command, mcp()));
    default: {
      const unknownCommand: never = command;
      throw new Error(`unknown tool in ${JSON.stringify(unknownCommand)}`);
    }
  }
}

/**
 * A migration name is applied once per environment. The official server applies what it is given, so its
 * ledger is read first (read-only) and only an unapplied name goes to the read-write server. Our local server
 * decides it itself, in the transaction that applies, under a lock (two commands with one name racing apply it
 * once), and says which: one call, without the read before it (issue 11: seven calls fewer per build).
 */
async function applyMigration(
  command: ProvisionCommandOf<'apply_migration'>,
  mcp: Pick<CommandMcpCalls, 'call' | 'driver'>,
): Promise<ProvisionOutput<'apply_migration'>> {
  const { name, query } = command;
  if (mcp.driver !== 'local') {
    const applied = toMigrations(await mcp.call('read-only', 'list_migrations', {}));
    if (applied.some((migration) => migration.name === name)) return { name, applied: false };
  }
  return { name, applied: toApplied(await mcp.call('read-write', 'apply_migration', { name, query })) };
}
