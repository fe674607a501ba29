import type { KV } from '@nats-io/kv';
import {
  Presence,
  stableId,
  type BuildEvent,
  type BuildEventPayload,
  type BuildEventType,
  type PresenceFocus,
} from '@vibe/contracts';
import { encodeJson, publishEvent, type JetStreamContext } from '@vibe/platform';
import type { BuildEventsPort } from '../graph/ports.js';

/** Timeline and audit events go to the stream; presence is the latest value in the KV bucket. */
export class JetStreamBuildEvents implements BuildEventsPort {
  constructor(
    private readonly jetstream: JetStreamContext,
    private readonly presenceBucket: KV,
  ) {}

  async emit<T extends BuildEventType>(
    sessionId: string,
    type: T,
    key: string,
    message: string,
    payload: BuildEventPayload<T>,
  ): Promise<void> {
    const event = {
      id: stableId(sessionId, `event:${type}:${key}`),
      sessionId,
      type,
      version: 1,
      ts: new Date().toISOString(),
      message,
      payload,
    } as BuildEvent;
    await publishEvent(this.jetstream, event);
  }

  async presence(sessionId: string, step: string, progress: number, focus: PresenceFocus | null): Promise<void> {
    const presence = Presence.parse({
      actor: 'architect',
      sessionId,
      step,
      focus,
      progress: Math.round(progress * 1000) / 1000,
      ts: new Date().toISOString(),
    });
    await this.presenceBucket.put(sessionId, encodeJson(presence));
  }
}
