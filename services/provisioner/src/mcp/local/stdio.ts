#!/usr/bin/env node
/**
 * The local MCP server over stdio, for MCP clients outside the provisioner (an editor, an agent):
 *
 *   node services/provisioner/dist/mcp/local/stdio.js --project-ref <environment ref> [--read-only]
 *
 * with the provisioner's environment variables (ENV_DATABASE_URL, ENV_DB_PREFIX, ENV_API_URL, ENV_JWT_SECRET).
 * The flags are the official server's. Logs go to stderr; stdout carries the protocol.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { redactText } from '@vibe/platform';
import { loadProvisionerConfig } from '../../config.js';
import { environmentRefProblem } from '../../drivers/local/naming.js';
import { LocalDriver } from '../../drivers/local/local.driver.js';
import { LocalEnvironment } from './local-environment.js';
import { createLocalMcpServer } from './local-mcp.server.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'project-ref': { type: 'string' }, 'read-only': { type: 'boolean', default: false } },
  });
  const ref = values['project-ref'];
  const config = loadProvisionerConfig();
  const problem = ref ? environmentRefProblem(config.ENV_DB_PREFIX, ref) : 'give the environment with --project-ref';
  if (problem || !ref) throw new Error(problem ?? 'no environment');
  const driver = new LocalDriver(config);
  const server = createLocalMcpServer({
    environment: new LocalEnvironment(ref, driver, {
      apiUrlTemplate: config.ENV_API_URL,
      jwtSecret: config.ENV_JWT_SECRET,
    }),
    readOnly: values['read-only'],
  });
  server.onclose = () => {
    void driver.beforeApplicationShutdown();
  };
  await server.connect(new StdioServerTransport());
}

main().catch((error: unknown) => {
  process.stderr.write(`${redactText(error instanceof Error ? error.message : String(error))}\n`);
  process.exit(1);
});
