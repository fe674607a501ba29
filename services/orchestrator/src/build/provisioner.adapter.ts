import { stableId } from '@vibe/contracts';
import type { ProvisionCommand, ProvisionOutput } from '@vibe/contracts';
import { callProvisioner, ProvisionError, type JetStreamContext } from '@vibe/platform';
import type { ProvisionerPort, ProvisionRequest } from '../graph/ports.js';

/**
 * Commands over JetStream; the command id is derived from (session, key), so a re-run reuses it and is
 * answered from the provisioner's ledger. A command sent again by this process after a timeout is
 * published as a new copy (same command id, see callProvisioner's `attempt`), so that a provisioner that
 * died holding the first copy does not hold the build up until the copy's ack wait ends.
 */
export class JetStreamProvisioner implements ProvisionerPort {
  /** Times each command id was sent by this process and not yet answered. */
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly jetstream: JetStreamContext,
    private readonly timeoutMs: number,
  ) {}

  async call<R extends ProvisionRequest>(
    sessionId: string,
    key: string,
    request: R,
  ): Promise<ProvisionOutput<R['tool']>> {
    const command = {
      ...request,
      version: 1,
      sessionId,
      commandId: stableId(sessionId, `provision:${request.tool}:${key}`),
    } as ProvisionCommand;
    const attempt = (this.sent.get(command.commandId) ?? 0) + 1;
    this.sent.set(command.commandId, attempt);
    try {
      const output = await callProvisioner(this.jetstream, command, this.timeoutMs, { attempt });
      this.sent.delete(command.commandId);
      return output as ProvisionOutput<R['tool']>;
    } catch (error) {
      if (!(error instanceof ProvisionError && error.transient)) this.sent.delete(command.commandId);
      throw error;
    }
  }
}
