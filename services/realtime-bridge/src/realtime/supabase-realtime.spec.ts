import { broadcastRequest, SupabaseRealtime } from './supabase-realtime.js';
import { type EventBroadcast } from './realtime-sink.js';

const SESSION = '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';
const KEY = 'service-role-key-for-tests';

function anEvent(type: string, n: number): EventBroadcast {
  return {
    sessionId: SESSION,
    payload: {
      id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      sessionId: SESSION,
      version: 1,
      ts: '2030-01-01T00:00:00.000Z',
      type,
      message: `${type} ${n}`,
      payload: { n },
      cursor: `c${n}`,
    },
  };
}

interface Sent {
  topic: string;
  event: string;
  payload: { payload?: { n?: number } };
  private: boolean;
}

/** Supabase as seen from here: each request recorded, answered with the next status of the script. */
function supabase(statuses: number[] = []) {
  const requests: Array<{ url: string; method: string; headers: Record<string, string>; body: { messages: Sent[] } }> =
    [];
  const fetch = (async (url: string, init: RequestInit) => {
    requests.push({
      url,
      method: init.method!,
      headers: init.headers as Record<string, string>,
      body: JSON.parse(init.body as string) as { messages: Sent[] },
    });
    return new Response(null, { status: statuses.shift() ?? 202 });
  }) as unknown as typeof globalThis.fetch;
  return { requests, fetch };
}

describe('broadcastRequest', () => {
  it("is Supabase Realtime's broadcast REST call, authorized with the service role key", () => {
    const { url, init } = broadcastRequest('https://abcd.supabase.co', KEY, [
      { topic: `build:${SESSION}`, event: 'plan_created', payload: { id: 'e1' }, private: true },
    ]);
    expect(url).toBe('https://abcd.supabase.co/realtime/v1/api/broadcast');
    expect(init).toEqual({
      method: 'POST',
      headers: { apikey: KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [{ topic: `build:${SESSION}`, event: 'plan_created', payload: { id: 'e1' }, private: true }],
      }),
    });
  });

  it('keeps a path the URL has (a self-hosted Kong), with or without a trailing slash', () => {
    expect(broadcastRequest('http://kong:8000/sb', KEY, []).url).toBe('http://kong:8000/sb/realtime/v1/api/broadcast');
    expect(broadcastRequest('http://kong:8000/sb/', KEY, []).url).toBe('http://kong:8000/sb/realtime/v1/api/broadcast');
  });
});

describe('SupabaseRealtime', () => {
  it('sends events in order, batched, event name = type and payload = the event, on build:<id>', async () => {
    const { requests, fetch } = supabase();
    const sink = new SupabaseRealtime({
      supabaseUrl: 'https://p.supabase.co',
      serviceRoleKey: KEY,
      fetch,
      batchSize: 2,
    });
    ['plan_created', 'environment_created', 'migration_started'].forEach((type, n) => sink.event(anEvent(type, n)));
    await sink.flush();

    const sent = requests.flatMap((request) => request.body.messages);
    expect(sent.map((message) => message.event)).toEqual(['plan_created', 'environment_created', 'migration_started']);
    expect(sent[0]).toEqual({
      topic: `build:${SESSION}`,
      event: 'plan_created',
      payload: anEvent('plan_created', 0).payload,
      private: true,
    });
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(requests.every((request) => request.body.messages.length <= 2)).toBe(true);
  });

  it('sends presence as the broadcast architect_presence', async () => {
    const { requests, fetch } = supabase();
    const sink = new SupabaseRealtime({ supabaseUrl: 'https://p.supabase.co', serviceRoleKey: KEY, fetch });
    const presence = {
      actor: 'architect' as const,
      sessionId: SESSION,
      step: 'apply_migrations',
      focus: { type: 'table' as const, name: 'orders' },
      progress: 0.4,
      ts: '2030-01-01T00:00:00.000Z',
    };
    sink.presence({ sessionId: SESSION, revision: 7, presence });
    await sink.flush();
    expect(requests[0]!.body.messages).toEqual([
      { topic: `build:${SESSION}`, event: 'architect_presence', payload: presence, private: true },
    ]);
  });

  it('retries a batch Supabase could not take (503, 429), and drops one it refuses (401) without stopping', async () => {
    const { requests, fetch } = supabase([503, 429, 202, 401, 202]);
    const sink = new SupabaseRealtime({
      supabaseUrl: 'https://p.supabase.co',
      serviceRoleKey: KEY,
      fetch,
      batchSize: 1,
    });
    sink.event(anEvent('plan_created', 1));
    sink.event(anEvent('table_created', 2));
    sink.event(anEvent('build_succeeded', 3));
    await sink.flush();
    expect(requests.map((request) => request.body.messages[0]!.event)).toEqual([
      'plan_created',
      'plan_created',
      'plan_created',
      'table_created',
      'build_succeeded',
    ]);
  });

  it('keeps at most maxQueued messages while Supabase is behind, dropping the oldest', async () => {
    const { requests, fetch } = supabase();
    const sink = new SupabaseRealtime({
      supabaseUrl: 'https://p.supabase.co',
      serviceRoleKey: KEY,
      fetch,
      batchSize: 100,
      maxQueued: 3,
    });
    for (let n = 0; n < 6; n++) sink.event(anEvent('table_created', n));
    await sink.flush();
    // The first is taken at once; of the five queued behind it, the three newest are kept.
    expect(requests.flatMap((request) => request.body.messages.map((m) => m.payload.payload?.n))).toEqual([0, 3, 4, 5]);
  });
});
