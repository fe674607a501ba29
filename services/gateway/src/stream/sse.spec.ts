import { decodeJson, encodeJson } from '@vibe/platform';
import { sseFrame, streamedEvent } from './sse.js';

const SESSION = '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';

describe('sseFrame', () => {
  it('writes id, event and one line of JSON data, ended by a blank line', () => {
    expect(sseFrame({ id: 'c1', event: 'table_created', data: { a: 'x\ny' } })).toBe(
      'id: c1\nevent: table_created\ndata: {"a":"x\\ny"}\n\n',
    );
    expect(sseFrame({ event: 'presence', data: null })).toBe('event: presence\ndata: null\n\n');
  });
});

describe('streamedEvent', () => {
  const event = {
    id: '00000000-0000-4000-8000-000000000001',
    sessionId: SESSION,
    version: 1,
    ts: '2030-01-01T00:00:00.000Z',
    type: 'table_created',
    message: 'via postgres://u:hunter2@db/x',
    payload: { table: 'orders', columns: ['id'] },
  };

  it('shows the event as GET /events does (redacted), with its cursor', () => {
    const streamed = streamedEvent(encodeJson(event), 7)!;
    expect(streamed.cursor).toEqual({ ts: event.ts, seq: 7, id: event.id });
    expect(streamed.view).toEqual({
      id: event.id,
      sessionId: SESSION,
      ts: event.ts,
      type: 'table_created',
      message: 'via postgres://u:[redacted]@db/x',
      payload: { table: 'orders', columns: ['id'] },
    });
    expect(decodeJson(encodeJson(streamed.view))).toEqual(streamed.view);
  });

  it('skips what is not an event', () => {
    expect(streamedEvent(new TextEncoder().encode('{'), 1)).toBeUndefined();
    expect(streamedEvent(encodeJson({ ...event, payload: {} }), 1)).toBeUndefined();
  });
});
