import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { BuildCommand } from '@vibe/contracts';
import {
  ACK,
  backoff,
  consumeDurable,
  decodeJson,
  JETSTREAM,
  ProvisionError,
  redactText,
  type ConsumeLoop,
  type Disposition,
  type JetStreamContext,
} from '@vibe/platform';
import type { JsMsg } from '@nats-io/jetstream';
import { ORCHESTRATOR_CONFIG, type OrchestratorConfig } from '../config.js';
import { errorMessage } from '../graph/step.js';
import { BuildService, type DriveOutcome, type TeardownOutcome } from './build.service.js';

/**
 * JetStream entry: build commands from the work queue, one durable consumer shared by all replicas. The
 * message is acked once the build has ended or is known to be someone else's (another live driver holds
 * it); when this process stops mid-build it is given back at once (nak) so that another replica resumes it.
 */
@Injectable()
export class BuildConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BuildConsumer.name);
  private loop: ConsumeLoop | undefined;

  constructor(
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(ORCHESTRATOR_CONFIG) private readonly config: OrchestratorConfig,
    private readonly builds: BuildService,
  ) {}

  onApplicationBootstrap(): void {
    const { streams, consumers } = this.jetstream.topology;
    this.loop = consumeDurable(
      this.jetstream,
      streams.buildCommands,
      consumers.orchestrator,
      (msg) => this.handle(msg),
      {
        concurrency: this.config.BUILD_CONCURRENCY,
        onError: (error) => this.logger.error(redactText(String(error))),
      },
    );
  }

  /**
   * SIGTERM (graceful shutdown): stop taking commands, let running builds stop at their next checkpoint,
   * and give their commands back; runs before the connections close (onApplicationShutdown).
   */
  async beforeApplicationShutdown(): Promise<void> {
    const stopping = this.builds.stopAll();
    await this.loop?.stop();
    await stopping;
  }

  private async handle(msg: JsMsg): Promise<Disposition> {
    let command: BuildCommand;
    try {
      command = BuildCommand.parse(decodeJson(msg.data));
    } catch (error) {
      const reason = `malformed build command on ${msg.subject}: ${redactText(String(error)).slice(0, 300)}`;
      this.logger.error(reason);
      return { term: reason };
    }
    try {
      switch (command.kind) {
        case 'start': {
          const outcome = await this.builds.drive(command.sessionId, 'command');
          if (outcome !== 'completed') this.logger.log(`session ${command.sessionId}: start command: ${outcome}`);
          return this.disposition(outcome);
        }
        case 'cancel': {
          const outcome = await this.builds.cancel(command.sessionId);
          if (outcome === 'nothing_to_cancel') {
            this.logger.log(`session ${command.sessionId}: nothing to cancel (unknown or already finished)`);
            return ACK;
          }
          return this.disposition(outcome);
        }
        case 'delete': {
          let outcome: TeardownOutcome;
          try {
            outcome = await this.builds.teardown(command.sessionId, command.reason);
          } catch (error) {
            if (!(error instanceof ProvisionError) || error.transient) throw error;
            // The provisioner refused for good: retrying the command now changes nothing. The session stays
            // deleted with its teardown pending, and the sweeper sends it again after TEARDOWN_RESEND_AFTER_MS.
            const reason = `session ${command.sessionId}: environment teardown refused: ${redactText(errorMessage(error))}`;
            this.logger.error(reason);
            return { term: reason };
          }
          if (outcome === 'unknown') {
            this.logger.log(`session ${command.sessionId}: nothing to delete (unknown session)`);
            return ACK;
          }
          // Another driver holds the session (its build stops at the next boundary, it was asked to cancel):
          // the command comes back after a delay and finds the build ended.
          if (outcome === 'busy') return { nak: backoff(msg.info.deliveryCount) };
          return outcome === 'stopped' ? { nak: 0 } : ACK;
        }
        default: {
          const unknown: never = command;
          return { term: `unknown build command ${JSON.stringify(unknown)}` };
        }
      }
    } catch (error) {
      // Postgres or NATS failed under the build; the session is resumed by this message or by adoption.
      this.logger.error(
        `session ${command.sessionId}: ${command.kind} not completed: ${redactText(errorMessage(error))}`,
      );
      return { nak: backoff(msg.info.deliveryCount) };
    }
  }

  private disposition(outcome: DriveOutcome): Disposition {
    // `busy`: another live driver has the build and sees a cancel at its next node boundary.
    return outcome === 'stopped' ? { nak: 0 } : ACK;
  }
}
