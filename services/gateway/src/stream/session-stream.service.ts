import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
// Types only: the gateway reaches JetStream through @vibe/platform's connection.
import type { OrderedConsumerOptions } from '@nats-io/jetstream';
import { encodeCursor, Presence, type EventCursor } from '@vibe/contracts';
import { decodeJson, JETSTREAM, presenceBucket, redactText, type JetStreamContext } from '@vibe/platform';
import { SSE_KEEPALIVE, sseFrame, streamedEvent } from './sse.js';

/** Where a stream writes: the HTTP response. `write` returns false while the client is not keeping up. */
export interface StreamOutput {
  write(chunk: string): boolean;
  /** Bytes written but not yet sent. */
  pending(): number;
  end(): void;
}

export interface FollowHandle {
  stop(): Promise<void>;
  /** Resolves when the stream has ended (client gone, or the source failed). */
  readonly done: Promise<void>;
}

/** A client this far behind is cut off; its EventSource reconnects with Last-Event-ID and resumes. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/**
 * Follows one session for `GET /sessions/:id/stream`: its events from JetStream, in stream order, through an
 * ordered consumer filtered to the session's subjects (from the start, or from the sequence after the cursor a
 * reconnecting client gives: what it missed, then live), and the architect's presence from the KV bucket (its current value first). Nothing is
 * read from `build_events`, so the stream does not wait for the projection.
 */
@Injectable()
export class SessionStreamService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('SessionStream');
  private readonly open = new Set<FollowHandle>();
  private kv: ReturnType<typeof presenceBucket> | undefined;

  constructor(@Inject(JETSTREAM) private readonly jetstream: JetStreamContext) {}

  follow(sessionId: string, after: EventCursor | undefined, out: StreamOutput, keepAliveMs = 15_000): FollowHandle {
    const stops: Array<() => unknown> = [];
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      for (const fn of stops) await Promise.resolve(fn()).catch(() => undefined);
    };
    const write = (chunk: string) => {
      if (stopped) return;
      if (out.pending() > MAX_PENDING_BYTES) return void stop();
      out.write(chunk);
    };
    // Resources opened after a stop are closed at once.
    const onStop = (fn: () => unknown) => {
      if (stopped) void Promise.resolve(fn()).catch(() => undefined);
      else stops.push(fn);
    };
    const keepAlive = setInterval(() => write(SSE_KEEPALIVE), keepAliveMs);
    onStop(() => clearInterval(keepAlive));

    const ended = (source: Promise<void>) =>
      source.catch((error: unknown) => {
        if (!stopped) this.logger.warn(`stream of session ${sessionId} ended: ${redactText(String(error))}`);
      });
    const done = (async () => {
      write('retry: 2000\n\n');
      // Either source ending (or failing) ends the stream; the client reconnects where it left off.
      await Promise.race([
        ended(this.events(sessionId, after, write, onStop)),
        ended(this.presence(sessionId, write, onStop)),
      ]);
      await stop();
      out.end();
    })();
    const handle = { stop, done };
    this.open.add(handle);
    void done.finally(() => this.open.delete(handle));
    return handle;
  }

  /** Ends every open stream, so that the server can close (clients reconnect elsewhere with Last-Event-ID). */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.open].map((handle) => handle.stop().then(() => handle.done)));
  }

  private async events(
    sessionId: string,
    after: EventCursor | undefined,
    write: (chunk: string) => void,
    onStop: (fn: () => unknown) => void,
  ): Promise<void> {
    const { topology } = this.jetstream;
    const options: Partial<OrderedConsumerOptions> = { filter_subjects: topology.subjects.sessionEvents(sessionId) };
    // What follows a cursor is what has a higher stream sequence (a cursor without one counts as 0).
    if (after) options.opt_start_seq = (after.seq ?? 0) + 1;
    else options.deliver_policy = 'all';
    const consumer = await this.jetstream.js.consumers.get(topology.streams.events, options);
    const messages = await consumer.consume();
    onStop(() => messages.close());
    for await (const msg of messages) {
      const streamed = streamedEvent(msg.data, msg.seq);
      if (!streamed) continue;
      write(sseFrame({ id: encodeCursor(streamed.cursor), event: streamed.view.type, data: streamed.view }));
    }
  }

  private async presence(
    sessionId: string,
    write: (chunk: string) => void,
    onStop: (fn: () => unknown) => void,
  ): Promise<void> {
    this.kv ??= presenceBucket(this.jetstream);
    const kv = await this.kv.catch((error: unknown) => {
      this.kv = undefined;
      throw error;
    });
    const watch = await kv.watch({ key: sessionId });
    onStop(() => watch.stop());
    for await (const entry of watch) {
      let presence: Presence | null = null;
      if (entry.operation === 'PUT') {
        try {
          presence = Presence.safeParse(decodeJson(entry.value)).data ?? null;
        } catch {
          presence = null;
        }
      }
      write(sseFrame({ event: 'presence', data: presence }));
    }
  }
}
