import { Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { backoff, redactText } from '@vibe/platform';
import {
  channelName,
  PRESENCE_BROADCAST_EVENT,
  type EventBroadcast,
  type PresenceUpdate,
  type RealtimeSink,
} from './realtime-sink.js';

/** One message of Supabase Realtime's broadcast REST API. */
export interface BroadcastMessage {
  /** The channel name without realtime-js's `realtime:` prefix, e.g. `build:<id>`. */
  topic: string;
  event: string;
  payload: unknown;
  /** Build channels are private: Supabase delivers them only to clients its RLS lets read them. */
  private: true;
}

/**
 * The request Supabase Realtime's broadcast REST API takes: `POST {SUPABASE_URL}/realtime/v1/api/broadcast`
 * with the service role key as `apikey` and bearer token, body `{ messages: [...] }` (the same endpoint
 * realtime-js falls back to in `channel.send`). WIRE CONTRACT with Supabase.
 */
export function broadcastRequest(
  supabaseUrl: string,
  serviceRoleKey: string,
  messages: BroadcastMessage[],
): { url: string; init: RequestInit } {
  return {
    url: new URL('realtime/v1/api/broadcast', supabaseUrl.endsWith('/') ? supabaseUrl : `${supabaseUrl}/`).href,
    init: {
      method: 'POST',
      headers: {
        apikey: serviceRoleKey,
        authorization: `Bearer ${serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ messages }),
    },
  };
}

export interface SupabaseRealtimeOptions {
  supabaseUrl: string;
  serviceRoleKey: string;
  fetch?: typeof fetch;
  /** Messages per request (Supabase accepts several per call). */
  batchSize?: number;
  /** Attempts per batch before it is dropped (a client that missed it catches up from `GET /events`). */
  attempts?: number;
  /** Messages kept while Supabase is unreachable; beyond it the oldest are dropped. */
  maxQueued?: number;
  timeoutMs?: number;
}

/**
 * Broadcasts through Supabase Realtime (DESIGN.md §3, cloud). Messages are queued and sent in order, several
 * per request, so a slow Supabase never holds back the projection. Failed requests are retried with a growing
 * delay (429, 5xx, network); a 4xx other than 429 is a configuration error: logged, batch dropped. Presence is
 * sent as the broadcast `architect_presence`, since Realtime Presence cannot be set over REST.
 */
export class SupabaseRealtime implements RealtimeSink, BeforeApplicationShutdown {
  private readonly logger = new Logger('SupabaseRealtime');
  private readonly queue: BroadcastMessage[] = [];
  private draining: Promise<void> | undefined;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SupabaseRealtimeOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Supabase Realtime knows who is subscribed; this side does not, so every event goes out. */
  listens(): boolean {
    return true;
  }

  event({ sessionId, payload }: EventBroadcast): void {
    this.enqueue({ topic: channelName(sessionId), event: payload.type, payload, private: true });
  }

  presence({ sessionId, presence }: PresenceUpdate): void {
    this.enqueue({ topic: channelName(sessionId), event: PRESENCE_BROADCAST_EVENT, payload: presence, private: true });
  }

  /** On shutdown, what is queued gets a few seconds to go out. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.race([this.flush(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }

  /** Resolves when everything queued so far was sent (or dropped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private enqueue(message: BroadcastMessage): void {
    const max = this.options.maxQueued ?? 10_000;
    if (this.queue.length >= max) {
      this.queue.splice(0, this.queue.length - max + 1);
      this.logger.warn(`Supabase Realtime is behind; dropped the oldest queued broadcasts to keep ${max}`);
    }
    this.queue.push(message);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchSize ?? 100);
      await this.send(batch);
    }
  }

  private async send(batch: BroadcastMessage[]): Promise<void> {
    const { url, init } = broadcastRequest(this.options.supabaseUrl, this.options.serviceRoleKey, batch);
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let problem: string;
      try {
        const response = await this.fetch(url, {
          ...init,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
        problem = `HTTP ${response.status}`;
        if (response.status < 500 && response.status !== 429) {
          this.logger.error(
            `Supabase Realtime refused ${batch.length} broadcast(s) (${problem}); check SUPABASE_URL and the key`,
          );
          return;
        }
      } catch (error) {
        problem = redactText(error instanceof Error ? error.message : String(error));
      }
      if (attempt === attempts) {
        this.logger.error(`dropped ${batch.length} broadcast(s) after ${attempts} attempts: ${problem}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
    }
  }
}
