import { Inject, Injectable } from '@nestjs/common';
import { stableId, type BuildCommand, type CancelBuild, type DeleteSession, type StartBuild } from '@vibe/contracts';
import { JETSTREAM, publishJson, type JetStreamContext } from '@vibe/platform';

/** Sends build commands to the orchestrators' work queue. */
@Injectable()
export class BuildCommandsPublisher {
  constructor(@Inject(JETSTREAM) private readonly jetstream: JetStreamContext) {}

  /**
   * The command id is derived from the session, so a repeated start of the same session is dropped by
   * JetStream's duplicate window.
   */
  async start(sessionId: string): Promise<void> {
    const command: StartBuild = { kind: 'start', version: 1, commandId: stableId(sessionId, 'start'), sessionId };
    await this.publish(command);
  }

  /** Asks the orchestrators to cancel the build; repeated cancels of a session are dropped as duplicates. */
  async cancel(sessionId: string): Promise<void> {
    const command: CancelBuild = { kind: 'cancel', version: 1, commandId: stableId(sessionId, 'cancel'), sessionId };
    await this.publish(command);
  }

  /**
   * Asks the orchestrators to tear the session's environment down for good (issue 12); repeats within the
   * stream's duplicate window are dropped, and the teardown itself is idempotent.
   */
  async delete(sessionId: string, reason: DeleteSession['reason']): Promise<void> {
    const command: DeleteSession = {
      kind: 'delete',
      version: 1,
      commandId: stableId(sessionId, 'delete'),
      sessionId,
      reason,
    };
    await this.publish(command);
  }

  private async publish(command: BuildCommand): Promise<void> {
    await publishJson(
      this.jetstream,
      this.jetstream.topology.subjects.buildCommand(command.kind),
      command,
      command.commandId,
    );
  }
}
