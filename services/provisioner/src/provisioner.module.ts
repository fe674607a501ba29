import { Module, type DynamicModule } from '@nestjs/common';
import { PlatformModule } from '@vibe/platform';
import { CommandActivity } from './activity.js';
import { CommandsConsumer } from './commands/commands.consumer.js';
import { CommandsService } from './commands/commands.service.js';
import { LedgerRepository } from './commands/ledger.repository.js';
import { driverKind, PROVISIONER_CONFIG, type ProvisionerConfig } from './config.js';
import { ENVIRONMENT_DRIVER, type EnvironmentDriver } from './drivers/driver.js';
import { ENVIRONMENT_API, type EnvironmentApi } from './drivers/environment-api.js';
import { LocalDriver } from './drivers/local/local.driver.js';
import { LocalApiServer } from './edge-runtime/local-api.server.js';
import { supabaseDriver } from './drivers/supabase/supabase.driver.js';
import { LocalMcpConnector } from './mcp/local/local-mcp.connector.js';
import { MCP_CONNECTOR, type McpConnector } from './mcp/mcp-session.js';
import { PooledMcpConnector } from './mcp/session-pool.js';
import { SupabaseMcpConnector } from './mcp/supabase/supabase-mcp.connector.js';

/**
 * The only service that touches provisioned environments (DESIGN.md §1): it consumes provision commands,
 * runs each once per command id (the environment's life cycle through the driver, everything inside it as
 * calls to the environment's MCP server) and answers with results and audit events.
 *
 * Drivers (DESIGN.md §3): local by default (a Postgres database per environment, our own MCP server in
 * process, Edge Functions in Deno behind the local API); with SUPABASE_ACCESS_TOKEN, Supabase (branches and
 * projects through the Management API, the official MCP server, one child process per session).
 */
@Module({})
export class ProvisionerModule {
  static forRoot(config: ProvisionerConfig): DynamicModule {
    const kind = driverKind(config);
    return {
      module: ProvisionerModule,
      imports: [
        PlatformModule.forRoot({
          service: 'provisioner',
          databaseUrl: config.DATABASE_URL,
          natsUrl: config.NATS_URL,
          natsNamespace: config.NATS_NAMESPACE,
          consumers: ['provisioner'],
          // Claims hold one connection per running command (CONCURRENCY), plus ledger reads and writes.
          poolSize: 10,
        }),
      ],
      providers: [
        { provide: PROVISIONER_CONFIG, useValue: config },
        CommandActivity,
        LocalDriver,
        // The local API (Edge Functions in Deno, REST RPC) serves the local driver's environments only.
        ...(kind === 'local' ? [LocalApiServer] : []),
        {
          provide: ENVIRONMENT_DRIVER,
          inject: [LocalDriver],
          useFactory: (local: LocalDriver): EnvironmentDriver => (kind === 'supabase' ? supabaseDriver(config) : local),
        },
        {
          provide: ENVIRONMENT_API,
          inject: kind === 'local' ? [LocalApiServer] : [ENVIRONMENT_DRIVER],
          useFactory: (api: EnvironmentApi): EnvironmentApi => api,
        },
        {
          provide: MCP_CONNECTOR,
          inject: kind === 'local' ? [LocalDriver, LocalApiServer] : [LocalDriver],
          // Sessions are kept open between the commands of a build: in-memory ones cost little to keep, a
          // process of the official server more, so fewer of those.
          useFactory: (local: LocalDriver, api?: LocalApiServer): McpConnector =>
            config.SUPABASE_ACCESS_TOKEN
              ? new PooledMcpConnector(
                  new SupabaseMcpConnector({
                    accessToken: config.SUPABASE_ACCESS_TOKEN,
                    command: config.SUPABASE_MCP_COMMAND,
                    packageSpec: config.SUPABASE_MCP_PACKAGE,
                    features: config.SUPABASE_MCP_FEATURES,
                    apiUrl: config.SUPABASE_API_URL,
                  }),
                  { maxIdle: 4, idleMs: 15_000 },
                )
              : new PooledMcpConnector(
                  new LocalMcpConnector(local, {
                    // The URL the local API actually serves (its port is known once it listens).
                    get apiUrlTemplate() {
                      return api?.urlTemplate ?? config.ENV_API_URL;
                    },
                    jwtSecret: config.ENV_JWT_SECRET,
                    onFunctionDeployed: (ref, slug) => api?.warm(ref, slug),
                  }),
                  { maxIdle: 32, idleMs: 15_000 },
                ),
        },
        LedgerRepository,
        CommandsService,
        CommandsConsumer,
      ],
    };
  }
}
