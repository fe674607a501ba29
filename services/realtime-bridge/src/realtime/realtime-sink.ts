import { type Presence } from '@vibe/contracts';

/**
 * Where the bridge sends what happens on `build:{sessionId}` (spec §5): the bridge's own Realtime endpoint
 * (local), or Supabase Realtime's broadcast REST API (cloud). Both are told in stream order and must not block
 * the projection: what a client misses, it reads back from `GET /events?after=`.
 */
export interface RealtimeSink {
  /**
   * Whether a broadcast on the session's channel can reach anyone now: when it cannot, the projector does not
   * build it (most events of a backlog or a replay have no one watching).
   */
  listens(sessionId: string): boolean;
  /** A projected event: broadcast on the session's channel as `event` = its type, `payload` = the event. */
  event(message: EventBroadcast): void;
  /** The architect's presence changed (or was removed: `presence` null). */
  presence(update: PresenceUpdate): void;
}

/** Injection token of the configured sink. */
export const REALTIME_SINK = Symbol('REALTIME_SINK');

/**
 * The payload of an event broadcast. WIRE CONTRACT (clients read it): the event envelope as `build_events`
 * holds it (redacted), plus the event's `cursor` for `GET /events?after=` after a reconnect.
 */
export interface EventBroadcastPayload {
  id: string;
  sessionId: string;
  version: number;
  ts: string;
  type: string;
  message: string;
  payload: Record<string, unknown>;
  cursor: string;
}

export interface EventBroadcast {
  sessionId: string;
  payload: EventBroadcastPayload;
}

export interface PresenceUpdate {
  sessionId: string;
  /** The KV revision: a later update has a higher one. */
  revision: number;
  presence: Presence | null;
}

/** The channel of a session, as clients name it (`supabase.channel('build:<id>')`). WIRE CONTRACT (spec §5). */
export function channelName(sessionId: string): string {
  return `build:${sessionId}`;
}

/** The presence key of the architect on a build channel (spec §5.1). */
export const ARCHITECT_PRESENCE_KEY = 'architect';

/**
 * The broadcast event that carries presence updates where Realtime Presence cannot be set from a server
 * (Supabase's REST API): payload = the Presence. WIRE CONTRACT.
 */
export const PRESENCE_BROADCAST_EVENT = 'architect_presence';
