/**
 * The Phoenix channel protocol as Supabase Realtime speaks it, both serializers that `@supabase/realtime-js`
 * v2 offers (read from its `RealtimeClient` and `lib/serializer.ts`):
 *
 * - `1.0.0`: every frame is a JSON object `{ join_ref, ref, topic, event, payload }`.
 * - `2.0.0` (the client's default): text frames are JSON arrays `[join_ref, ref, topic, event, payload]`;
 *   binary frames carry user broadcasts. The client pushes kind 3 (user broadcast push:
 *   `kind, join_ref length, ref length, topic length, event length, metadata length, encoding`, then those
 *   strings and the payload), and receives kind 4 (user broadcast: `kind, topic length, event length,
 *   metadata length, encoding`, then those strings and the payload). Encoding 1 is a JSON payload, 0 binary.
 *
 * WIRE CONTRACT with a client library we do not control: change only against its source.
 */
export type Vsn = '1.0.0' | '2.0.0';
export const VSNS: readonly Vsn[] = ['1.0.0', '2.0.0'];

export interface PhoenixMessage {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** A frame this server cannot read: the connection is closed. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;

export function decodeFrame(vsn: Vsn, data: Buffer, isBinary: boolean): PhoenixMessage {
  if (isBinary) {
    if (vsn !== '2.0.0') throw new ProtocolError('binary frames need serializer 2.0.0');
    return decodeBinary(data);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    throw new ProtocolError('a text frame that is not JSON');
  }
  if (vsn === '1.0.0') {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ProtocolError('serializer 1.0.0 frames are JSON objects');
    }
    const message = raw as Record<string, unknown>;
    return checked(message.join_ref, message.ref, message.topic, message.event, message.payload);
  }
  if (!Array.isArray(raw) || raw.length !== 5) throw new ProtocolError('serializer 2.0.0 frames are 5-element arrays');
  const [joinRef, ref, topic, event, payload] = raw as unknown[];
  return checked(joinRef, ref, topic, event, payload);
}

/** The frame for a message: a string (text frame) or a Buffer (binary frame). */
export function encodeFrame(vsn: Vsn, message: PhoenixMessage): string | Buffer {
  if (vsn === '1.0.0') {
    const { joinRef, ref, topic, event, payload } = message;
    return JSON.stringify({ join_ref: joinRef, ref, topic, event, payload });
  }
  const broadcast = userBroadcast(message);
  if (broadcast) return broadcast;
  return JSON.stringify([message.joinRef, message.ref, message.topic, message.event, message.payload]);
}

/** A server broadcast `{ type: 'broadcast', event, payload }` as realtime-js 2.0.0 receives it: binary kind 4. */
function userBroadcast(message: PhoenixMessage): Buffer | undefined {
  if (message.event !== 'broadcast' || typeof message.payload !== 'object' || message.payload === null) return;
  const { event, payload, ...rest } = message.payload as Record<string, unknown>;
  if (typeof event !== 'string' || rest.type !== 'broadcast') return;
  const meta = rest.meta === undefined ? '' : JSON.stringify(rest.meta);
  const parts = [message.topic, event, meta].map((text) => Buffer.from(text, 'utf8'));
  if (parts.some((part) => part.length > 255)) return;
  const [topic, name, metadata] = parts as [Buffer, Buffer, Buffer];
  const header = Buffer.from([KIND_USER_BROADCAST, topic.length, name.length, metadata.length, ENCODING_JSON]);
  return Buffer.concat([header, topic, name, metadata, Buffer.from(JSON.stringify(payload ?? {}), 'utf8')]);
}

function decodeBinary(data: Buffer): PhoenixMessage {
  if (data.length < 7 || data[0] !== KIND_USER_BROADCAST_PUSH) {
    throw new ProtocolError('the only binary frame a client sends is a user broadcast push (kind 3)');
  }
  const lengths = [data[1]!, data[2]!, data[3]!, data[4]!, data[5]!];
  const encoding = data[6];
  let offset = 7;
  const [joinRef, ref, topic, event, metadata] = lengths.map((length) => {
    const text = data.subarray(offset, offset + length);
    if (text.length !== length) throw new ProtocolError('a binary frame shorter than its header says');
    offset += length;
    return text.toString('latin1');
  }) as [string, string, string, string, string];
  const body = data.subarray(offset);
  let userPayload: unknown = body;
  let meta: Record<string, unknown> = {};
  try {
    if (encoding === ENCODING_JSON) userPayload = JSON.parse(body.toString('utf8'));
    else if (encoding !== ENCODING_BINARY) throw new ProtocolError(`unknown payload encoding ${encoding}`);
    if (metadata) meta = JSON.parse(metadata) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError('a binary frame whose JSON does not parse');
  }
  return {
    joinRef: joinRef || null,
    ref: ref || null,
    topic,
    event: 'broadcast',
    payload: { ...meta, type: 'broadcast', event, payload: userPayload },
  };
}

function checked(joinRef: unknown, ref: unknown, topic: unknown, event: unknown, payload: unknown): PhoenixMessage {
  const optional = (value: unknown) => value === null || value === undefined || typeof value === 'string';
  if (!optional(joinRef) || !optional(ref) || typeof topic !== 'string' || typeof event !== 'string') {
    throw new ProtocolError('a frame without a string topic and event');
  }
  return {
    joinRef: typeof joinRef === 'string' ? joinRef : null,
    ref: typeof ref === 'string' ? ref : null,
    topic,
    event,
    payload: payload ?? {},
  };
}
