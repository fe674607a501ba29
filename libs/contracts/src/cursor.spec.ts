import { decodeCursor, encodeCursor } from './cursor.js';

describe('event cursors', () => {
  const id = '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';

  it('round-trip, with a sequence and without one, keeping microseconds', () => {
    for (const cursor of [
      { ts: '2030-01-01T00:00:00.123Z', seq: 42, id },
      { ts: '2030-01-01T00:00:00.123456Z', seq: null, id },
    ]) {
      const text = encodeCursor(cursor);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(text)).toEqual(cursor);
    }
  });

  it.each([
    ['an empty string', ''],
    ['text that is not base64url', 'not a cursor!'],
    ['another version', Buffer.from(`v2|2030-01-01T00:00:00Z|1|${id}`).toString('base64url')],
    ['a bad timestamp', Buffer.from(`v1|yesterday|1|${id}`).toString('base64url')],
    ['a bad sequence', Buffer.from(`v1|2030-01-01T00:00:00Z|-1|${id}`).toString('base64url')],
    ['a bad id', Buffer.from('v1|2030-01-01T00:00:00Z|1|x').toString('base64url')],
    ['an extra field', Buffer.from(`v1|2030-01-01T00:00:00Z|1|${id}|x`).toString('base64url')],
  ])('refuses %s', (_label, text) => {
    expect(decodeCursor(text)).toBeUndefined();
  });
});
