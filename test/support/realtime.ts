/**
 * The real `@supabase/supabase-js` v2 client on a build channel, as an application would use it, with what it
 * received recorded for assertions.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import { type Presence } from '@vibe/contracts';
import { waitFor } from './index.js';

export type Vsn = '1.0.0' | '2.0.0';

/** An event as broadcast on the channel: the stored event and its cursor. */
export interface BroadcastEvent {
  id: string;
  sessionId: string;
  version: number;
  ts: string;
  type: string;
  message: string;
  payload: Record<string, unknown>;
  cursor: string;
}

export interface Received {
  /** Broadcast event names and payloads, in arrival order. */
  broadcasts: Array<{ event: string; payload: BroadcastEvent }>;
  /** The architect's presence after every presence sync (undefined while there is none). */
  presence: Array<Presence | undefined>;
  statuses: string[];
  errors: string[];
}

export interface BuildChannel {
  client: SupabaseClient;
  channel: RealtimeChannel;
  received: Received;
  /** Resolves with the first final subscribe status: SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT or CLOSED. */
  subscribed: Promise<string>;
  close(): Promise<void>;
}

export interface JoinOptions {
  vsn?: Vsn;
  /** The owner's JWT, sent by supabase-js as the join's access_token. */
  accessToken?: string;
  /** The session's share token, in the join payload. */
  shareToken?: string;
  /** Ask the server to acknowledge this client's broadcasts (so a refusal is seen). */
  ack?: boolean;
}

/** Creates a client for `url` (the bridge) and subscribes to `build:<sessionId>`, recording what arrives. */
export function joinBuild(url: string, sessionId: string, options: JoinOptions = {}): BuildChannel {
  const client = createClient(url, 'local', {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { ...(options.vsn ? { vsn: options.vsn } : {}), heartbeatIntervalMs: 5_000 },
    ...(options.accessToken ? { accessToken: async () => options.accessToken! } : {}),
  });
  const channel = client.channel(`build:${sessionId}`, {
    config: { private: true, ...(options.ack ? { broadcast: { ack: true } } : {}) },
  });
  if (options.shareToken) channel.updateJoinPayload({ share_token: options.shareToken });
  const received: Received = { broadcasts: [], presence: [], statuses: [], errors: [] };
  channel
    .on('broadcast', { event: '*' }, ({ event, payload }) =>
      received.broadcasts.push({ event, payload: payload as BroadcastEvent }),
    )
    .on('presence', { event: 'sync' }, () => {
      const [architect] = channel.presenceState<Presence>().architect ?? [];
      received.presence.push(architect);
    });
  const subscribed = (async () => {
    // As Supabase documents for private channels: the token is set before subscribing, so the join carries it.
    if (options.accessToken) await client.realtime.setAuth(options.accessToken);
    return new Promise<string>((resolve) => {
      channel.subscribe((status, error) => {
        received.statuses.push(status);
        if (error) received.errors.push(error.message);
        if (['SUBSCRIBED', 'CHANNEL_ERROR', 'TIMED_OUT', 'CLOSED'].includes(status)) resolve(status);
      });
    });
  })();
  return {
    client,
    channel,
    received,
    subscribed,
    async close() {
      await client.removeAllChannels();
    },
  };
}

/** Events received as broadcasts, deduplicated by id, in arrival order. */
export function receivedEvents(channel: BuildChannel): BroadcastEvent[] {
  const seen = new Set<string>();
  return channel.received.broadcasts
    .filter(({ event }) => event !== 'architect_presence')
    .map(({ payload }) => payload)
    .filter((payload) => !seen.has(payload.id) && seen.add(payload.id));
}

/** Waits until the channel has received a broadcast of `type`. */
export function waitForBroadcast(channel: BuildChannel, type: string, timeoutMs = 60_000): Promise<BroadcastEvent> {
  return waitFor(async () => channel.received.broadcasts.find((b) => b.event === type)?.payload, {
    timeoutMs,
    intervalMs: 20,
    what: `a ${type} broadcast`,
  });
}

/** The architect's presences as received, without the gaps. */
export function presences(channel: BuildChannel): Presence[] {
  return channel.received.presence.filter((presence) => presence !== undefined);
}
