import { decodeCursor, newId, type BuildEvent } from '@vibe/contracts';
import { encodeJson } from '@vibe/platform';
import { decodeEvent, dispositionForFailure, toBroadcast, toRow } from './projection.js';

const rlsEnabled = (overrides: Partial<BuildEvent> = {}): BuildEvent =>
  ({
    id: newId(),
    sessionId: newId(),
    version: 1,
    ts: '2030-01-01T00:00:00.000Z',
    type: 'rls_enabled',
    message: 'RLS on orders',
    payload: { table: 'orders' },
    ...overrides,
  }) as BuildEvent;

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('decodeEvent', () => {
  it('gives back a valid event', () => {
    const event = rlsEnabled();
    expect(decodeEvent(encodeJson(event))).toEqual({ ok: true, event, clean: true });
  });

  it('says when the text may hold a secret, so that toRow redacts it', () => {
    const planted = rlsEnabled({ message: 'via postgres://u:hunter2@db/x' });
    const decoded = decodeEvent(encodeJson(planted));
    expect(decoded).toEqual({ ok: true, event: planted, clean: false });
    if (!decoded.ok) throw new Error('decoded');
    expect(toRow(decoded.event, 1, decoded.clean).row.message).not.toContain('hunter2');
  });

  it('rejects bytes that are not JSON', () => {
    expect(decodeEvent(new TextEncoder().encode('{'))).toEqual({ ok: false, reason: 'not JSON' });
  });

  it('rejects JSON that is not a BuildEvent, naming the field', () => {
    const decoded = decodeEvent(encodeJson({ ...rlsEnabled(), payload: {} }));
    expect(decoded).toEqual({ ok: false, reason: expect.stringMatching(/^not a BuildEvent: payload\.table: /) });
    expect(decodeEvent(encodeJson({ ...rlsEnabled(), type: 'table_dropped' })).ok).toBe(false);
    expect(decodeEvent(encodeJson({ ...rlsEnabled(), version: 2 })).ok).toBe(false);
  });
});

describe('toRow', () => {
  it('maps the envelope and keeps the stream sequence', () => {
    const event = rlsEnabled();
    expect(toRow(event, 42)).toEqual({
      row: {
        id: event.id,
        sessionId: event.sessionId,
        ts: event.ts,
        type: 'rls_enabled',
        message: 'RLS on orders',
        payload: { table: 'orders' },
        seq: 42,
      },
      redacted: false,
    });
  });

  it('stores a clean event as it is', () => {
    const event = rlsEnabled();
    expect(toRow(event, 42, true)).toEqual(toRow(event, 42, false));
  });

  it('redacts a planted secret and says so', () => {
    const { row, redacted } = toRow(rlsEnabled({ message: 'via postgres://u:hunter2@db/x' }), 1);
    expect(redacted).toBe(true);
    expect(row.message).not.toContain('hunter2');
  });
});

describe('dispositionForFailure', () => {
  it('terminates what can never be stored', () => {
    expect(dispositionForFailure(pgError('23503'), 1)).toEqual({ term: 'its session does not exist' });
    expect(dispositionForFailure(pgError('22P05'), 1)).toEqual({ term: 'Postgres cannot store it (22P05)' });
  });

  it('retries everything else with a growing delay', () => {
    expect(dispositionForFailure(pgError('08006'), 1)).toEqual({ nak: 500 });
    expect(dispositionForFailure(pgError('42P01'), 3)).toEqual({ nak: 2000 });
    expect(dispositionForFailure(new Error('Connection terminated unexpectedly'), 20)).toEqual({ nak: 30_000 });
  });
});

describe('toBroadcast', () => {
  it('is the stored (redacted) event, named by its type, with the cursor of its stream sequence', () => {
    const event = rlsEnabled({ message: 'via postgres://u:hunter2@db/x' });
    const { row } = toRow(event, 42);
    const broadcast = toBroadcast(row, event.version);
    expect(broadcast).toEqual({
      sessionId: event.sessionId,
      payload: {
        id: event.id,
        sessionId: event.sessionId,
        version: 1,
        ts: event.ts,
        type: 'rls_enabled',
        message: row.message,
        payload: { table: 'orders' },
        cursor: expect.any(String),
      },
    });
    expect(broadcast.payload.message).not.toContain('hunter2');
    expect(decodeCursor(broadcast.payload.cursor)).toEqual({ ts: event.ts, seq: 42, id: event.id });
  });
});
