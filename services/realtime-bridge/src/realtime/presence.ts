import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';
import { Presence } from '@vibe/contracts';
import { decodeJson, redactText } from '@vibe/platform';
import { REALTIME_SINK, type PresenceUpdate, type RealtimeSink } from './realtime-sink.js';

/** Injection token of the presence KV bucket (topology `kv.presence`), where the orchestrator puts presence. */
export const PRESENCE_KV = Symbol('PRESENCE_KV');

/** A KV entry as a presence update: a put that is not a Presence, a delete or a purge mean "no presence". */
export function toPresenceUpdate(entry: KvEntry): PresenceUpdate {
  let presence: Presence | null = null;
  if (entry.operation === 'PUT') {
    try {
      const parsed = Presence.safeParse(decodeJson(entry.value));
      if (parsed.success) presence = parsed.data;
    } catch {
      // Not JSON: no presence to show.
    }
  }
  return { sessionId: entry.key, revision: entry.revision, presence };
}

/** The architect's current presence of a session, for a client that joins (late joiners see where it is). */
@Injectable()
export class PresenceReader {
  constructor(@Inject(PRESENCE_KV) private readonly kv: KV) {}

  async current(sessionId: string): Promise<PresenceUpdate> {
    const entry = await this.kv.get(sessionId);
    return entry ? toPresenceUpdate(entry) : { sessionId, revision: 0, presence: null };
  }
}

/**
 * Watches the presence bucket and tells the sink about every change, in revision order. Each bridge replica
 * watches on its own (presence is "latest value", so a replica that restarts misses nothing that matters).
 */
@Injectable()
export class PresenceWatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Presence');
  private stopped = false;
  private watcher: Awaited<ReturnType<KV['watch']>> | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    @Inject(PRESENCE_KV) private readonly kv: KV,
    @Inject(REALTIME_SINK) private readonly sink: RealtimeSink,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.watcher?.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.watcher = await this.kv.watch({ key: '>', include: KvWatchInclude.UpdatesOnly });
        for await (const entry of this.watcher) this.sink.presence(toPresenceUpdate(entry));
      } catch (error) {
        if (this.stopped) break;
        this.logger.error(`presence watch failed, restarting: ${redactText(String(error))}`);
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
