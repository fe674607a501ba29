import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { ProvisionCommand, ProvisionResult } from '@vibe/contracts';
import {
  ACK,
  backoff,
  JETSTREAM,
  publishEvent,
  publishJson,
  redactText,
  type Disposition,
  type JetStreamContext,
} from '@vibe/platform';
import { ENVIRONMENT_DRIVER, environmentRefOf, type EnvironmentDriver } from '../drivers/driver.js';
import { ENVIRONMENT_API, type EnvironmentApi } from '../drivers/environment-api.js';
import { MCP_CONNECTOR, type McpConnector } from '../mcp/mcp-session.js';
import { CommandApiCalls } from './api-calls.js';
import { provisionerCallEvent, type CallEvent } from './audit.js';
import { runCommand } from './command-runner.js';
import { LedgerRepository, type CommandClaim, type LedgerEntry } from './ledger.repository.js';
import { CommandMcpCalls, WORKER } from './mcp-calls.js';
import { capResult, decideFailure, errorMessage, failedResult, okResult } from './outcome.js';

/**
 * Runs one provision command exactly once per command id: claim it, answer a repeat from the ledger,
 * otherwise execute it (through the driver for the environment's life cycle, through the environment's MCP
 * server for everything inside it), record the result with its audit events, then publish them.
 * Recording comes before publishing, so a crash in between re-publishes the recorded result (same
 * Nats-Msg-Id and event ids, dropped as duplicates) instead of executing again. Each MCP call's event is
 * also published as soon as the call ends, so a call is audited even when the command never completes.
 */
@Injectable()
export class CommandsService {
  private readonly logger = new Logger('Provisioner');

  constructor(
    @Inject(LedgerRepository) private readonly ledger: LedgerRepository,
    @Inject(ENVIRONMENT_DRIVER) private readonly driver: EnvironmentDriver,
    @Inject(MCP_CONNECTOR) private readonly connector: McpConnector,
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Optional() @Inject(ENVIRONMENT_API) private readonly api?: EnvironmentApi,
  ) {}

  async handle(command: ProvisionCommand, deliveryCount: number): Promise<Disposition> {
    const claim = await this.ledger.claim(command.commandId);
    if (!claim) {
      // Another copy of this command is executing; when this one comes back it is answered from the ledger.
      return { nak: backoff(deliveryCount) };
    }
    const early = new EarlyEvents(this.jetstream, this.logger);
    let outcome: LedgerEntry | Disposition;
    try {
      outcome = await this.complete(command, deliveryCount, claim, early);
    } finally {
      // Recording gave the claim up already (a copy finds the ledger entry); this is for a retry or a throw.
      await claim.release();
    }
    if ('result' in outcome) {
      await this.publish(outcome, await early.published());
      return ACK;
    }
    return outcome;
  }

  /** The ledger entry of the command (recorded earlier, or now after executing it), or a retry. */
  private async complete(
    command: ProvisionCommand,
    deliveryCount: number,
    claim: CommandClaim,
    early: EarlyEvents,
  ): Promise<LedgerEntry | Disposition> {
    const recorded = claim.recorded;
    if (recorded) {
      this.logger.log(`${command.tool} ${command.commandId} answered from the ledger`);
      return recorded;
    }
    const environment = this.driver.targetOf(command);
    let calls: CommandMcpCalls | undefined;
    const mcp = () => {
      const ref = environmentRefOf(command);
      if (!ref) throw new Error(`${command.tool} names no environment for its MCP calls`);
      calls ??= new CommandMcpCalls(this.connector, { command, environment: ref, attempt: deliveryCount }, (event) =>
        early.publish(event),
      );
      return calls;
    };
    const requests = new CommandApiCalls({ command, attempt: deliveryCount }, (event) => early.publish(event));
    const startedAt = new Date();
    const started = performance.now();
    let result: ProvisionResult;
    try {
      const output = await runCommand(command, this.driver, mcp, { api: this.api, audit: requests });
      result = capResult(okResult(command, output));
    } catch (error) {
      const decision = decideFailure(error, deliveryCount);
      if (decision.kind === 'retry') {
        this.logger.warn(`${command.tool} ${command.commandId} retried in ${decision.delayMs} ms: ${decision.reason}`);
        return { nak: decision.delayMs };
      }
      if (decision.internal) {
        const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
        this.logger.error(`${command.tool} ${command.commandId} failed: ${redactText(detail)}`);
      } else {
        this.logger.warn(`${command.tool} ${command.commandId} failed: ${decision.failure.message}`);
      }
      result = failedResult(command, decision.failure);
    } finally {
      await calls?.close();
    }
    const durationMs = Math.round(performance.now() - started);
    const audit = provisionerCallEvent({
      command,
      environment,
      result,
      startedAt,
      durationMs,
      endedAt: new Date(),
      worker: WORKER,
    });
    return claim.record({ result, audit, calls: [...requests.events, ...(calls?.events ?? [])] });
  }

  /**
   * A message that is not a valid command but names its ids: the sender is waiting for that command's
   * result, so answer it now (from the ledger if the id was already executed) rather than let it time out.
   */
  async rejectInvalid(ids: { commandId: string; sessionId: string; tool: string }, reason: string): Promise<void> {
    const recorded = await this.ledger.find(ids.commandId);
    await this.publish(
      recorded ?? { result: failedResult(ids, { message: reason, code: 'invalid_command' }), audit: null, calls: [] },
    );
  }

  /**
   * The result first (the sender waits for it), then the audit events not published yet, all sent before
   * any acknowledgement is awaited (one connection keeps their order).
   */
  private async publish(entry: LedgerEntry, alreadyPublished: ReadonlySet<string> = new Set()): Promise<void> {
    const { result, audit, calls } = entry;
    const subject = this.jetstream.topology.subjects.provisionResult(result.commandId);
    const sent = [publishJson(this.jetstream, subject, result, result.commandId)];
    for (const event of [...calls, ...(audit ? [audit] : [])]) {
      if (!alreadyPublished.has(event.id)) sent.push(publishEvent(this.jetstream, event));
    }
    const failed = (await Promise.allSettled(sent)).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/**
 * The audit events of one execution, published as each call ends without holding the command up (a call is
 * audited even when the command never completes). Which ones made it is remembered, so that only the others
 * are published again with the result; if NATS is away now, the ledger entry publishes them later.
 */
class EarlyEvents {
  private readonly sent = new Set<string>();
  private readonly pending: Array<Promise<void>> = [];

  constructor(
    private readonly jetstream: JetStreamContext,
    private readonly logger: Logger,
  ) {}

  publish(event: CallEvent): Promise<void> {
    this.pending.push(
      publishEvent(this.jetstream, event).then(
        () => void this.sent.add(event.id),
        (error: unknown) => {
          this.logger.warn(`audit event ${event.id} published later: ${redactText(errorMessage(error))}`);
        },
      ),
    );
    return Promise.resolve();
  }

  /** The ids published, once every attempt has ended. */
  async published(): Promise<ReadonlySet<string>> {
    await Promise.all(this.pending);
    return this.sent;
  }
}
