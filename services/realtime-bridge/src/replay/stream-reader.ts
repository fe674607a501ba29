import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { type JetStreamContext } from '@vibe/platform';

/** A message of the events stream as replay sees it. */
export interface StreamedMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
}

/**
 * Every message of the events stream on `subject` (a session's `evt.build.<id>.>`, or all of them) from the
 * first, in stream order, through a deliver-all ordered consumer, up to `untilSeq` (default: the stream's last
 * sequence when called). Later messages are left for the next replay.
 */
export async function* readEventStream(
  ctx: JetStreamContext,
  subject: string,
  untilSeq?: number,
): AsyncGenerator<StreamedMessage> {
  for await (const batch of readEventBatches(ctx, subject, untilSeq)) yield* batch;
}

/**
 * `readEventStream` a fetch at a time (up to 4,000 messages): for a reader that takes every message, one step of
 * its loop per batch rather than per message.
 */
export async function* readEventBatches(
  ctx: JetStreamContext,
  subject: string,
  untilSeq?: number,
): AsyncGenerator<StreamedMessage[]> {
  const stream = ctx.topology.streams.events;
  const last = untilSeq ?? (await ctx.jsm.streams.info(stream)).state.last_seq;
  if (last === 0) return;
  const consumer = await ctx.js.consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  try {
    if ((await consumer.info(true)).num_pending === 0) return;
    for (;;) {
      const fetched = await consumer.fetch({ max_messages: 4000, expires: 5000 });
      let batch: StreamedMessage[] = [];
      let received = 0;
      let done = false;
      for await (const msg of fetched as AsyncIterable<JsMsg>) {
        received++;
        if (msg.seq > last) {
          done = true;
          break;
        }
        batch.push({ seq: msg.seq, subject: msg.subject, data: msg.data });
        if (msg.seq === last || msg.info.pending === 0) {
          done = true;
          break;
        }
        if (batch.length >= 500) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
      if (done || received === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
