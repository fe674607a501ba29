import { BuildEvent, type BuildEventView, type EventCursor } from '@vibe/contracts';
import { decodeJson, redact } from '@vibe/platform';

/**
 * Server-sent events (the `text/event-stream` format): `id:` is the event's cursor, so a reconnecting
 * EventSource sends it back as `Last-Event-ID` and misses nothing; `event:` is the event type (or
 * `presence`); `data:` one line of JSON.
 */
export function sseFrame(frame: { id?: string; event: string; data: unknown }): string {
  const id = frame.id ? `id: ${frame.id}\n` : '';
  return `${id}event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`;
}

/** A comment line: keeps proxies and the connection from timing out, ignored by EventSource. */
export const SSE_KEEPALIVE = ': keep-alive\n\n';

/**
 * A message of the events stream as the stream endpoint shows it: the event as `GET /events` shows it
 * (redacted, like `build_events`), and its cursor. Undefined for a message that is not an event (the
 * projector terminates those too).
 */
export function streamedEvent(
  data: Uint8Array,
  seq: number,
): { view: BuildEventView; cursor: EventCursor } | undefined {
  let raw: unknown;
  try {
    raw = decodeJson(data);
  } catch {
    return undefined;
  }
  const parsed = BuildEvent.safeParse(raw);
  if (!parsed.success) return undefined;
  const event = parsed.data;
  const clean = redact({ message: event.message, payload: event.payload });
  return {
    view: { id: event.id, sessionId: event.sessionId, ts: event.ts, type: event.type, ...clean },
    cursor: { ts: event.ts, seq, id: event.id },
  };
}
