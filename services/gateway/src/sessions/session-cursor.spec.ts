import { decodeSessionCursor, encodeSessionCursor } from './session-cursor.js';

describe('session listing cursors', () => {
  const cursor = { createdAt: '2026-03-01T12:34:56.123456Z', id: '0b5a7c3e-9d2f-4e1a-8b6c-1234567890ab' };

  it('round-trip, microseconds included, as an opaque URL-safe string', () => {
    const text = encodeSessionCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeSessionCursor(text)).toEqual(cursor);
  });

  it.each([
    ['not base64url', 'a cursor!'],
    ['empty', ''],
    ['an event cursor', Buffer.from(`v1|${cursor.createdAt}||${cursor.id}`).toString('base64url')],
    ['a bad time', Buffer.from(`s1|yesterday|${cursor.id}`).toString('base64url')],
    ['a local time', Buffer.from(`s1|2026-03-01T12:34:56|${cursor.id}`).toString('base64url')],
    ['a bad id', Buffer.from(`s1|${cursor.createdAt}|42`).toString('base64url')],
    ['extra parts', Buffer.from(`s1|${cursor.createdAt}|${cursor.id}|x`).toString('base64url')],
  ])('refuse %s', (_why, text) => {
    expect(decodeSessionCursor(text)).toBeUndefined();
  });
});
