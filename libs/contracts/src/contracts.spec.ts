import { CreateSessionRequest, stableId, topology, BuildEvent } from './index.js';

describe('CreateSessionRequest', () => {
  it('fills option defaults', () => {
    const parsed = CreateSessionRequest.parse({ vibeText: ' a marketplace ', template: 'marketplace' });
    expect(parsed).toEqual({
      vibeText: 'a marketplace',
      template: 'marketplace',
      options: { enableAnalytics: false, enableDriftSentinel: false, environmentMode: 'branch' },
    });
  });

  it.each([
    ['a missing vibeText', { template: 'marketplace' }, 'vibeText'],
    ['a blank vibeText', { vibeText: '   ', template: 'marketplace' }, 'vibeText'],
    ['a vibeText over the limit', { vibeText: 'x'.repeat(4001), template: 'marketplace' }, 'vibeText'],
    ['an unknown template', { vibeText: 'x', template: 'crm' }, 'template'],
    [
      'a non-boolean option',
      { vibeText: 'x', template: 'saas', options: { enableAnalytics: 'yes' } },
      'options.enableAnalytics',
    ],
    [
      'an unknown mode',
      { vibeText: 'x', template: 'saas', options: { environmentMode: 'cluster' } },
      'options.environmentMode',
    ],
  ])('rejects %s, naming the field', (_label, body, field) => {
    const result = CreateSessionRequest.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toContain(field);
  });
});

describe('stableId', () => {
  it('is a deterministic RFC 4122 uuid per session and key', () => {
    const session = '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';
    expect(stableId(session, 'plan_created')).toBe(stableId(session, 'plan_created'));
    expect(stableId(session, 'plan_created')).not.toBe(stableId(session, 'environment_created'));
    expect(stableId(session, 'x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('topology', () => {
  it('prefixes every name with the namespace', () => {
    const t = topology('t1');
    expect(t.streams.events).toBe('t1_BUILD_EVENTS');
    expect(t.subjects.event('s', 'table_created')).toBe('t1.evt.build.s.table_created');
    expect(topology().subjects.allEvents).toBe('evt.build.>');
  });

  it('refuses a namespace that would break subjects', () => {
    expect(() => topology('a.b')).toThrow(/namespace/);
  });
});

describe('BuildEvent', () => {
  it('parses by type and rejects a payload of the wrong shape', () => {
    const base = {
      id: '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10',
      sessionId: '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a11',
      version: 1,
      ts: new Date().toISOString(),
      message: 'm',
    };
    expect(BuildEvent.parse({ ...base, type: 'rls_enabled', payload: { table: 'orders' } }).type).toBe('rls_enabled');
    expect(BuildEvent.safeParse({ ...base, type: 'rls_enabled', payload: {} }).success).toBe(false);
    expect(BuildEvent.safeParse({ ...base, type: 'unknown', payload: {} }).success).toBe(false);
  });
});
