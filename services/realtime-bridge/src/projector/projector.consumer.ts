import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { type JsMsg } from '@nats-io/jetstream';
import {
  ACK,
  consumeDurableBatches,
  JETSTREAM,
  metrics,
  redactText,
  type ConsumeLoop,
  type Disposition,
  type JetStreamContext,
} from '@vibe/platform';
import { REALTIME_SINK, type RealtimeSink } from '../realtime/realtime-sink.js';
import { BuildEventsRepository } from './build-events.repository.js';
import { decodeEvent, dispositionForFailure, toBroadcast, toRow, type BuildEventRow } from './projection.js';

/** A stored event, to broadcast: its row and its envelope version. */
interface Projected {
  row: BuildEventRow;
  version: number;
}

interface Written {
  dispositions: Disposition[];
  projected: Projected[];
}

/** The most events written in one insert. */
const MAX_BATCH = 500;
/** Batches written at once: the next is decoded and redacted while the last one's insert runs. */
const BATCHES_IN_FLIGHT = 2;

/**
 * The projector: the durable consumer of BUILD_EVENTS that writes `build_events`. It acks only after the
 * insert committed, naks with backoff what may pass later, and terminates (and logs) what never can.
 *
 * One batch at a time, in stream order: what arrived while the last batch was being written is written next,
 * in one insert (so a lone event is written at once, and a backlog hundreds at a time). After the rows are
 * committed the events are broadcast on `build:{sessionId}`, so whatever a client received is already in
 * `build_events` and `GET /events?after=` fills any gap. A redelivered event is broadcast again (clients
 * keep events by id); a broadcast never holds back the projection. A batch that cannot be written whole
 * (one event's session missing, say) is written one event at a time, each settled on its own.
 */
@Injectable()
export class ProjectorConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Projector');
  private loop: ConsumeLoop | undefined;
  /** Settled when the batch started last has broadcast (see handleBatch). */
  private broadcastTurn: Promise<void> = Promise.resolve();

  constructor(
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    private readonly events: BuildEventsRepository,
    @Inject(REALTIME_SINK) private readonly realtime: RealtimeSink,
  ) {}

  onApplicationBootstrap(): void {
    const { streams, consumers } = this.jetstream.topology;
    this.loop = consumeDurableBatches(
      this.jetstream,
      streams.events,
      consumers.projector,
      (msgs) => this.handleBatch(msgs),
      {
        maxBatch: MAX_BATCH,
        maxInFlight: BATCHES_IN_FLIGHT,
        // Below the consumer's ack wait (libs/platform consumerConfigs).
        heartbeatMs: 1500,
        onError: (error, msg: JsMsg | undefined) =>
          this.logger.error(`${msg ? `stream seq ${msg.seq}: ` : 'consume loop: '}${redactText(String(error))}`),
      },
    );
    this.logger.log(`projecting ${streams.events} into build_events (consumer ${consumers.projector})`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  /**
   * One disposition per message, in order: the batch's rows in one insert, acked after it committed. Two
   * batches may be written at once, but their broadcasts go out in stream order: a batch broadcasts only
   * after the batch before it has.
   */
  async handleBatch(msgs: JsMsg[]): Promise<Disposition[]> {
    const before = this.broadcastTurn;
    let done!: () => void;
    this.broadcastTurn = new Promise((resolve) => (done = resolve));
    try {
      const { dispositions, projected } = await this.write(msgs);
      await before;
      for (const { row, version } of projected) {
        if (this.realtime.listens(row.sessionId)) this.realtime.event(toBroadcast(row, version));
      }
      return dispositions;
    } finally {
      done();
    }
  }

  /** Writes a batch; what to broadcast is returned, not sent, so that the caller keeps the stream's order. */
  private async write(msgs: JsMsg[]): Promise<Written> {
    if (msgs.length === 1) return this.writeOne(msgs[0]!);
    const dispositions: Disposition[] = [];
    const projected: Projected[] = [];
    const decoded: Array<{ index: number; row: BuildEventRow; version: number }> = [];
    for (const [index, msg] of msgs.entries()) {
      const event = decodeEvent(msg.data);
      if (!event.ok) {
        dispositions[index] = this.terminate(msg, event.reason);
        continue;
      }
      const { row, redacted } = toRow(event.event, msg.seq, event.clean);
      if (redacted) this.logger.warn(`event ${row.id} (${row.type}) carried a secret; it was redacted before storing`);
      decoded.push({ index, row, version: event.event.version });
    }
    const unique = new Map<string, BuildEventRow>();
    for (const { row } of decoded) if (!unique.has(row.id)) unique.set(row.id, row);
    try {
      await this.events.insertMany([...unique.values()]);
    } catch {
      // One event that cannot be stored fails the statement: each is written and settled on its own.
      for (const { index } of decoded) {
        const one = await this.writeOne(msgs[index]!);
        dispositions[index] = one.dispositions[0]!;
        projected.push(...one.projected);
      }
      return { dispositions, projected };
    }
    const types = new Map<string, number>();
    for (const { index, row, version } of decoded) {
      types.set(row.type, (types.get(row.type) ?? 0) + 1);
      projected.push({ row, version });
      dispositions[index] = ACK;
    }
    for (const [type, count] of types) metrics.eventsProjected.inc({ type }, count);
    return { dispositions, projected };
  }

  private async writeOne(msg: JsMsg): Promise<Written> {
    const decoded = decodeEvent(msg.data);
    if (!decoded.ok) return { dispositions: [this.terminate(msg, decoded.reason)], projected: [] };
    const { row, redacted } = toRow(decoded.event, msg.seq, decoded.clean);
    if (redacted) this.logger.warn(`event ${row.id} (${row.type}) carried a secret; it was redacted before storing`);
    try {
      await this.events.insert(row);
    } catch (error) {
      return { dispositions: [this.failed(msg, row.id, error)], projected: [] };
    }
    metrics.eventsProjected.inc({ type: row.type });
    return { dispositions: [ACK], projected: [{ row, version: decoded.event.version }] };
  }

  private failed(msg: JsMsg, id: string, error: unknown): Disposition {
    const disposition = dispositionForFailure(error, msg.info.deliveryCount);
    if ('term' in disposition) return this.terminate(msg, `event ${id}: ${disposition.term}`);
    this.logger.warn(
      `event ${id} (stream seq ${msg.seq}) not stored, retried in ${disposition.nak} ms: ` +
        redactText(error instanceof Error ? error.message : String(error)),
    );
    return disposition;
  }

  /** Poison: the message stays in the stream (the audit log) and its sequence is logged to find it there. */
  private terminate(msg: JsMsg, reason: string): Disposition {
    this.logger.error(`terminated stream seq ${msg.seq} (${msg.subject}): ${reason}`);
    return { term: reason };
  }
}
