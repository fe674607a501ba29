import {
  ProvisionOutputs,
  ProvisionResult,
  type ProvisionCommandOf,
  type ProvisionOutput,
  type ProvisionTool,
} from '@vibe/contracts';
import { decodeJson, publishJson, type JetStreamContext } from './jetstream.js';

export class ProvisionError extends Error {
  override readonly name = 'ProvisionError';
  constructor(
    message: string,
    readonly tool: string,
    readonly transient: boolean,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export interface CallProvisionerOptions {
  /**
   * How many times this caller has sent the command, 1 for the first. A repeat (after a timeout) is
   * published under a Nats-Msg-Id of its own, so that JetStream's duplicate window does not drop it: when the
   * provisioner that held the first copy died, the first copy comes back only after the consumer's ack
   * wait, and the repeat lets another replica run it now. The provisioner's ledger (keyed by command id)
   * still runs the command once; every copy after the first is answered from the ledger.
   */
  attempt?: number;
  /** While waiting, the result stream is read again this often (a result published while this process was
   * disconnected from NATS is missed by the subscription but stored on the stream). */
  recheckMs?: number;
}

/**
 * Sends one command to the provisioners and waits for its result. The result lives on a stream, so a
 * caller that restarts and sends the same command id again reads the recorded result instead of causing
 * the effect twice (the provisioner answers a repeat from its ledger as well).
 */
export async function callProvisioner<T extends ProvisionTool>(
  ctx: JetStreamContext,
  command: ProvisionCommandOf<T>,
  timeoutMs = 120_000,
  options: CallProvisionerOptions = {},
): Promise<ProvisionOutput<T>> {
  const resultSubject = ctx.topology.subjects.provisionResult(command.commandId);
  const subscription = ctx.nc.subscribe(resultSubject, { max: 1, timeout: timeoutMs });
  const stored = async () => {
    const message = await ctx.jsm.streams
      .getMessage(ctx.topology.streams.provisionResults, { last_by_subj: resultSubject })
      .catch(() => null);
    return message ? decodeJson(message.data) : undefined;
  };
  let recheck: ReturnType<typeof setInterval> | undefined;
  try {
    // The stored result (a caller sending the command again after a restart) is looked up while the command
    // is published, not before: a first call does not wait for the lookup, and a repeat that finds no result
    // stored needed publishing anyway (the provisioner answers a repeat from its ledger).
    const attempt = options.attempt ?? 1;
    const msgID = attempt > 1 ? `${command.commandId}.${attempt}` : command.commandId;
    const raw = await new Promise<unknown>((resolve, reject) => {
      const found = (value: unknown) => {
        if (value !== undefined) resolve(value);
      };
      void stored().then(found);
      publishJson(ctx, ctx.topology.subjects.provisionCommand(command.tool), command, msgID).catch(reject);
      recheck = setInterval(() => void stored().then(found), options.recheckMs ?? 2000);
      (async () => {
        for await (const msg of subscription) {
          resolve(decodeJson(msg.data));
          return;
        }
        reject(new ProvisionError(`no result for ${command.tool}`, command.tool, true));
      })().catch((error: unknown) => {
        reject(
          new ProvisionError(
            `the provisioner did not answer ${command.tool} within ${timeoutMs} ms (${String(error)})`,
            command.tool,
            true,
          ),
        );
      });
    });
    const result = ProvisionResult.parse(raw);
    if (!result.ok) {
      throw new ProvisionError(result.error.message, result.tool, result.error.transient, result.error.code);
    }
    return ProvisionOutputs[command.tool].parse(result.output) as ProvisionOutput<T>;
  } finally {
    clearInterval(recheck);
    subscription.unsubscribe();
  }
}
