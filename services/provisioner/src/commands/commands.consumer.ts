import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { ProvisionCommand } from '@vibe/contracts';
import {
  backoff,
  consumeDurable,
  decodeJson,
  JETSTREAM,
  redactText,
  type ConsumeLoop,
  type Disposition,
  type JetStreamContext,
} from '@vibe/platform';
import { z } from 'zod';
import { CommandActivity } from '../activity.js';
import { CommandsService } from './commands.service.js';
import { LedgerRepository } from './ledger.repository.js';
import { clip, errorMessage } from './outcome.js';

/**
 * How many commands one replica runs at once; more replicas share the same durable consumer. Six: a build's
 * last step sends six at once (its verification and its handover), and with four the longest waited. Each
 * holds a connection of the control-plane pool while it runs (its claim), so this stays under its size.
 */
const CONCURRENCY = 6;

/** Enough of a command to answer it when the rest of it is invalid. */
const CommandIds = z.object({ commandId: z.uuid(), sessionId: z.uuid(), tool: z.string().max(100).catch('unknown') });

/** JetStream entry: the PROVISION_COMMANDS work queue, parsed at the edge (DESIGN.md §2). */
@Injectable()
export class CommandsConsumer implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ProvisionCommands');
  private loop: ConsumeLoop | undefined;

  constructor(
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(CommandsService) private readonly commands: CommandsService,
    @Inject(LedgerRepository) private readonly ledger: LedgerRepository,
    @Inject(CommandActivity) private readonly activity: CommandActivity,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.ledger.assertReady();
    const { streams, consumers } = this.jetstream.topology;
    this.loop = consumeDurable(
      this.jetstream,
      streams.provisionCommands,
      consumers.provisioner,
      (msg) => this.handle(msg),
      {
        concurrency: CONCURRENCY,
        onError: (error) => this.logger.error(`consume loop: ${redactText(errorMessage(error))}`),
      },
    );
    this.logger.log(`consuming ${streams.provisionCommands} as ${consumers.provisioner}`);
  }

  /** Stops taking commands before the connections close (they close on application shutdown). */
  async onModuleDestroy(): Promise<void> {
    await this.loop?.stop();
    this.loop = undefined;
  }

  async handle(msg: JsMsg): Promise<Disposition> {
    let raw: unknown;
    try {
      raw = decodeJson(msg.data);
    } catch {
      return this.poison(msg, undefined, 'the message is not JSON');
    }
    const parsed = ProvisionCommand.safeParse(raw);
    if (!parsed.success) return this.poison(msg, raw, `invalid provision command: ${z.prettifyError(parsed.error)}`);
    try {
      const command = parsed.data;
      return await this.activity.during(() => this.commands.handle(command, msg.info.deliveryCount));
    } catch (error) {
      // The ledger or NATS is unavailable; nothing was recorded, so the command comes back and runs then.
      this.logger.warn(
        `${parsed.data.tool} ${parsed.data.commandId} not completed, retried: ${redactText(errorMessage(error))}`,
      );
      return { nak: backoff(msg.info.deliveryCount) };
    }
  }

  private async poison(msg: JsMsg, raw: unknown, reason: string): Promise<Disposition> {
    const why = clip(redactText(reason).replace(/\s+/g, ' '), 500);
    this.logger.warn(`terminated the message ${msg.seq} on ${msg.subject}: ${why}`);
    const ids = CommandIds.safeParse(raw);
    if (ids.success) {
      try {
        await this.commands.rejectInvalid(ids.data, why);
      } catch (error) {
        // Unanswered: try again later rather than leave the sender waiting.
        this.logger.warn(
          `could not answer the invalid command ${ids.data.commandId}: ${redactText(errorMessage(error))}`,
        );
        return { nak: backoff(msg.info.deliveryCount) };
      }
    }
    return { term: clip(why, 200) };
  }
}
