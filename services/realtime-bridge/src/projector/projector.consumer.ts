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
  consumeDurable,
  JETSTREAM,
  metrics,
  redactText,
  type ConsumeLoop,
  type Disposition,
  type JetStreamContext,
} from '@vibe/platform';
import { REALTIME_SINK, type RealtimeSink } from '../realtime/realtime-sink.js';
import { BuildEventsRepository } from './build-events.repository.js';
import { decodeEvent, dispositionForFailure, toBroadcast, toRow } from './projection.js';

/**
 * The projector: the durable consumer of BUILD_EVENTS that writes `build_events`. It acks only after the
 * insert committed, naks with backoff what may pass later, and terminates (and logs) what never can.
 *
 * One message at a time, in stream order: ordering within a session needs no more care. After the row is
 * committed the event is broadcast on `build:{sessionId}`, so whatever a client received is already in
 * `build_events` and `GET /events?after=` fills any gap. A redelivered event is broadcast again (clients
 * keep events by id); a broadcast never holds back the projection. Batching is for when the load asks for it.
 */
@Injectable()
export class ProjectorConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Projector');
  private loop: ConsumeLoop | undefined;

  constructor(
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    private readonly events: BuildEventsRepository,
    @Inject(REALTIME_SINK) private readonly realtime: RealtimeSink,
  ) {}

  onApplicationBootstrap(): void {
    const { streams, consumers } = this.jetstream.topology;
    this.loop = consumeDurable(this.jetstream, streams.events, consumers.projector, (msg) => this.handle(msg), {
      concurrency: 1,
      onError: (error, msg: JsMsg | undefined) =>
        this.logger.error(`${msg ? `stream seq ${msg.seq}: ` : 'consume loop: '}${redactText(String(error))}`),
    });
    this.logger.log(`projecting ${streams.events} into build_events (consumer ${consumers.projector})`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
  }

  async handle(msg: JsMsg): Promise<Disposition> {
    const decoded = decodeEvent(msg.data);
    if (!decoded.ok) return this.terminate(msg, decoded.reason);
    const { row, redacted } = toRow(decoded.event, msg.seq);
    if (redacted) this.logger.warn(`event ${row.id} (${row.type}) carried a secret; it was redacted before storing`);
    try {
      await this.events.insert(row);
    } catch (error) {
      return this.failed(msg, row.id, error);
    }
    metrics.eventsProjected.inc({ type: row.type });
    this.realtime.event(toBroadcast(row, decoded.event.version));
    return ACK;
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
