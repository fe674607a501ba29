import { type Presence } from '@vibe/contracts';
import { presenceDiff } from './local-realtime.js';

const SESSION = '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';
const presence = (step: string, progress: number): Presence => ({
  actor: 'architect',
  sessionId: SESSION,
  step,
  focus: null,
  progress,
  ts: '2030-01-01T00:00:00.000Z',
});

describe('presenceDiff', () => {
  it('joins the architect with one stable ref, so that each update replaces the last', () => {
    const first = presenceDiff({ sessionId: SESSION, revision: 1, presence: presence('ingest_vibe', 0) }, undefined);
    const next = presenceDiff(
      { sessionId: SESSION, revision: 2, presence: presence('finalize', 1) },
      { sessionId: SESSION, revision: 1, presence: presence('ingest_vibe', 0) },
    );
    expect(first).toEqual({
      joins: { architect: { metas: [{ phx_ref: 'architect', ...presence('ingest_vibe', 0) }] } },
      leaves: {},
    });
    expect(next).toEqual({
      joins: { architect: { metas: [{ phx_ref: 'architect', ...presence('finalize', 1) }] } },
      leaves: {},
    });
  });

  it('lets the architect leave when its presence is removed, and says nothing when there was none', () => {
    const previous = { sessionId: SESSION, revision: 3, presence: presence('finalize', 1) };
    expect(presenceDiff({ sessionId: SESSION, revision: 4, presence: null }, previous)).toEqual({
      joins: {},
      leaves: { architect: { metas: [{ phx_ref: 'architect', ...presence('finalize', 1) }] } },
    });
    expect(presenceDiff({ sessionId: SESSION, revision: 4, presence: null }, undefined)).toBeUndefined();
  });
});
