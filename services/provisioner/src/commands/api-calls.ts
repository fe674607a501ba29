import type { ProvisionCommand } from '@vibe/contracts';
import type { ApiCallAudit, ApiCallRecord } from '../drivers/api-call-audit.js';
import { managementApiCallEvent, type ManagementApiCallEvent } from './audit.js';
import { WORKER } from './mcp-calls.js';

/**
 * The Management API requests of one command execution, each audited as a `management_api_call` event:
 * handed to `onEvent` as soon as the request ends and kept for the ledger, as CommandMcpCalls does for MCP.
 */
export class CommandApiCalls implements ApiCallAudit {
  private count = 0;
  readonly events: ManagementApiCallEvent[] = [];

  constructor(
    private readonly context: { command: ProvisionCommand; attempt: number },
    private readonly onEvent: (event: ManagementApiCallEvent) => Promise<void>,
  ) {}

  async record(request: ApiCallRecord): Promise<void> {
    const event = managementApiCallEvent({
      command: this.context.command,
      request,
      call: ++this.count,
      attempt: this.context.attempt,
      worker: WORKER,
    });
    this.events.push(event);
    await this.onEvent(event);
  }
}
