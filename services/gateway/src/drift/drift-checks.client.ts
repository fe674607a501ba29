import { Inject, Injectable } from '@nestjs/common';
import { DriftCheckResult, newId, type RequestedDriftCheck } from '@vibe/contracts';
import { decodeJson, JETSTREAM, publishJson, type JetStreamContext } from '@vibe/platform';

/** How long the gateway waits for a requested check's answer. */
export const DRIFT_CHECK_TIMEOUT_MS = 60_000;

/** The requested check was not answered in time (the sentinels are down or busy). */
export class DriftCheckTimeout extends Error {
  override readonly name = 'DriftCheckTimeout';
}

/**
 * Asks the drift sentinels for a check now (`cmd.drift.request` on the DRIFT_CHECKS work queue) and waits for
 * the answer on `res.drift.<requestId>`. The gateway never looks into an environment itself (DESIGN.md §1).
 */
@Injectable()
export class DriftChecksClient {
  constructor(@Inject(JETSTREAM) private readonly jetstream: JetStreamContext) {}

  async run(sessionId: string, timeoutMs = DRIFT_CHECK_TIMEOUT_MS): Promise<DriftCheckResult> {
    const { topology, nc, jsm } = this.jetstream;
    const request: RequestedDriftCheck = { kind: 'request', version: 1, requestId: newId(), sessionId };
    const subject = topology.subjects.driftResult(request.requestId);
    // Subscribed before publishing, so the answer cannot slip past; the stream keeps it too, for a
    // subscription that missed it while the connection was down.
    const subscription = nc.subscribe(subject, { max: 1 });
    const stored = async () => {
      const message = await jsm.streams
        .getMessage(topology.streams.driftResults, { last_by_subj: subject })
        .catch(() => null);
      return message ? decodeJson(message.data) : undefined;
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let recheck: ReturnType<typeof setInterval> | undefined;
    try {
      await publishJson(this.jetstream, topology.subjects.driftCheck('request'), request, request.requestId);
      const raw = await new Promise<unknown>((resolve, reject) => {
        timer = setTimeout(() => {
          void stored().then((value) =>
            value === undefined
              ? reject(new DriftCheckTimeout(`no drift sentinel answered within ${timeoutMs} ms`))
              : resolve(value),
          );
        }, timeoutMs);
        recheck = setInterval(() => {
          void stored().then((value) => {
            if (value !== undefined) resolve(value);
          });
        }, 2000);
        void (async () => {
          for await (const msg of subscription) {
            resolve(decodeJson(msg.data));
            return;
          }
        })();
      });
      return DriftCheckResult.parse(raw);
    } finally {
      clearTimeout(timer);
      clearInterval(recheck);
      subscription.unsubscribe();
    }
  }
}
