// The client's own serializer (realtime-js, under @supabase/supabase-js), so both ends are checked against it.
import Serializer from '@supabase/realtime-js/dist/main/lib/serializer.js';
import { decodeFrame, encodeFrame, ProtocolError, type PhoenixMessage } from './phoenix.js';

const client = new Serializer();
const topic = 'realtime:build:7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';

/** What realtime-js 2.0.0 makes of a frame, as it would arrive from a WebSocket (ArrayBuffer or string). */
function clientDecode(frame: string | Buffer): Record<string, unknown> {
  let decoded: Record<string, unknown> = {};
  const data =
    typeof frame === 'string' ? frame : frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.length);
  client.decode(data as ArrayBuffer | string, (message: Record<string, unknown>) => (decoded = message));
  return decoded;
}

function clientEncode(message: {
  join_ref: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: object;
}) {
  let encoded: ArrayBuffer | string = '';
  client.encode(message, (result: ArrayBuffer | string) => (encoded = result));
  return typeof encoded === 'string'
    ? { data: Buffer.from(encoded), binary: false }
    : { data: Buffer.from(encoded), binary: true };
}

describe('serializer 2.0.0 against realtime-js', () => {
  it('reads the join and heartbeat the client sends (JSON arrays)', () => {
    const join = clientEncode({
      join_ref: '1',
      ref: '1',
      topic,
      event: 'phx_join',
      payload: { config: { private: true } },
    });
    expect(join.binary).toBe(false);
    expect(decodeFrame('2.0.0', join.data, false)).toEqual({
      joinRef: '1',
      ref: '1',
      topic,
      event: 'phx_join',
      payload: { config: { private: true } },
    });
    const heartbeat = clientEncode({ join_ref: null, ref: '2', topic: 'phoenix', event: 'heartbeat', payload: {} });
    expect(decodeFrame('2.0.0', heartbeat.data, false)).toMatchObject({
      topic: 'phoenix',
      event: 'heartbeat',
      ref: '2',
    });
  });

  it('reads a user broadcast push (binary kind 3, JSON payload)', () => {
    const push = clientEncode({
      join_ref: '3',
      ref: '4',
      topic,
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'cursor', payload: { x: 1, name: 'ünï' } },
    });
    expect(push.binary).toBe(true);
    expect(decodeFrame('2.0.0', push.data, true)).toEqual({
      joinRef: '3',
      ref: '4',
      topic,
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'cursor', payload: { x: 1, name: 'ünï' } },
    });
  });

  it('writes broadcasts as binary kind 4 and everything else as JSON arrays, as the client reads them', () => {
    const event = { id: 'e1', type: 'table_created', payload: { table: 'orders', columns: ['id'] } };
    const broadcast = encodeFrame('2.0.0', {
      joinRef: null,
      ref: null,
      topic,
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'table_created', payload: event },
    });
    expect(Buffer.isBuffer(broadcast)).toBe(true);
    expect(clientDecode(broadcast)).toEqual({
      join_ref: null,
      ref: null,
      topic,
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'table_created', payload: event },
    });

    const reply: PhoenixMessage = {
      joinRef: '1',
      ref: '1',
      topic,
      event: 'phx_reply',
      payload: { status: 'ok', response: { postgres_changes: [] } },
    };
    const frame = encodeFrame('2.0.0', reply);
    expect(typeof frame).toBe('string');
    expect(clientDecode(frame)).toEqual({
      join_ref: '1',
      ref: '1',
      topic,
      event: 'phx_reply',
      payload: { status: 'ok', response: { postgres_changes: [] } },
    });
  });
});

describe('serializer 1.0.0', () => {
  it('reads and writes JSON objects, as realtime-js 1.0.0 does (JSON.stringify of the message)', () => {
    const sent = { topic, event: 'phx_join', payload: { config: {} }, ref: '1', join_ref: '1' };
    expect(decodeFrame('1.0.0', Buffer.from(JSON.stringify(sent)), false)).toEqual({
      joinRef: '1',
      ref: '1',
      topic,
      event: 'phx_join',
      payload: { config: {} },
    });
    const broadcast = encodeFrame('1.0.0', {
      joinRef: null,
      ref: null,
      topic,
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'plan_created', payload: { id: 'e1' } },
    });
    expect(JSON.parse(broadcast as string)).toEqual({
      join_ref: null,
      ref: null,
      topic,
      event: 'broadcast',
      payload: { type: 'broadcast', event: 'plan_created', payload: { id: 'e1' } },
    });
  });
});

describe('frames that are refused', () => {
  it.each([
    ['text that is not JSON', '2.0.0', Buffer.from('[1,'), false],
    ['a 2.0.0 frame that is an object', '2.0.0', Buffer.from('{"topic":"t","event":"e"}'), false],
    ['a 1.0.0 frame that is an array', '1.0.0', Buffer.from('[null,null,"t","e",{}]'), false],
    ['a frame without a topic', '2.0.0', Buffer.from('[null,null,null,"e",{}]'), false],
    ['a binary frame under 1.0.0', '1.0.0', Buffer.from([3, 0, 0, 0, 0, 0, 1]), true],
    ['a binary frame of another kind', '2.0.0', Buffer.from([4, 0, 0, 0, 1]), true],
    ['a binary frame shorter than its header', '2.0.0', Buffer.from([3, 0, 0, 9, 0, 0, 1, 65]), true],
    [
      'a binary frame with bad JSON',
      '2.0.0',
      Buffer.concat([Buffer.from([3, 0, 0, 1, 1, 0, 1]), Buffer.from('tex{')]),
      true,
    ],
  ] as const)('%s', (_label, vsn, data, binary) => {
    expect(() => decodeFrame(vsn, data, binary)).toThrow(ProtocolError);
  });
});
