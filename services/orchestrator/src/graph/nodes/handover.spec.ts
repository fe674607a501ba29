import { mintDevJwt } from '@vibe/platform';
import { frontendHandover, publishableKey, shareUrl, type HandoverInput } from './handover.js';

const SECRET = 'handover-spec-secret-0123456789abcdef';
const anonKey = mintDevJwt('00000000-0000-4000-8000-000000000000', SECRET, 3600, { role: 'anon' });
const serviceKey = mintDevJwt('00000000-0000-4000-8000-000000000000', SECRET, 3600, { role: 'service_role' });
const sessionId = '6f1c3f1e-2a7b-4c1d-9e0f-0a1b2c3d4e5f';

function given(overrides: Partial<HandoverInput> = {}): HandoverInput {
  return {
    sessionId,
    apiUrl: 'http://127.0.0.1:54321/env/vibe_env_abc/',
    keys: [{ name: 'anon', type: 'legacy', apiKey: anonKey, disabled: false }],
    functions: [
      {
        id: '1',
        slug: 'drift_check',
        name: 'drift_check',
        status: 'ACTIVE',
        version: 1,
        verifyJwt: true,
        entrypointPath: 'index.ts',
        importMapPath: null,
        createdAt: null,
        updatedAt: null,
      },
      {
        id: '2',
        slug: 'analytics_query',
        name: 'analytics_query',
        status: 'ACTIVE',
        version: 1,
        verifyJwt: true,
        entrypointPath: 'index.ts',
        importMapPath: null,
        createdAt: null,
        updatedAt: null,
      },
    ],
    types: 'export type Database = {}\n',
    tables: ['profiles', 'listings'],
    shareToken: 'tok-en_123',
    publicBaseUrl: 'https://vibe.example.com',
    ...overrides,
  };
}

describe('the handover of a succeeded build', () => {
  it('gives the API URL, the anon key, each function URL, the types, a share link and a snippet', () => {
    const handover = frontendHandover(given());
    expect(handover).toMatchObject({
      apiUrl: 'http://127.0.0.1:54321/env/vibe_env_abc',
      publishableKey: anonKey,
      publishableKeyType: 'legacy',
      edgeFunctions: [
        { slug: 'analytics_query', url: 'http://127.0.0.1:54321/env/vibe_env_abc/functions/v1/analytics_query' },
        { slug: 'drift_check', url: 'http://127.0.0.1:54321/env/vibe_env_abc/functions/v1/drift_check' },
      ],
      shareUrl: `https://vibe.example.com/?session=${sessionId}#share=tok-en_123`,
      types: 'export type Database = {}\n',
      typesPath: `/sessions/${sessionId}/types`,
    });
    expect(handover.snippet).toContain('createClient<Database>(');
    expect(handover.snippet).toContain(`'http://127.0.0.1:54321/env/vibe_env_abc',\n  '${anonKey}',`);
    expect(handover.snippet).toContain(`supabase.from('listings').select('*')`);
    expect(handover.snippet).toContain(`supabase.functions.invoke('analytics_query'`);
  });

  it('never hands over a service-role key, whatever it is called', () => {
    expect(() =>
      frontendHandover(given({ keys: [{ name: 'anon', type: 'legacy', apiKey: serviceKey, disabled: false }] })),
    ).toThrow(/no publishable key/);
    expect(
      publishableKey([
        { name: 'service_role', type: 'legacy', apiKey: serviceKey, disabled: false },
        { name: 'anon', type: 'legacy', apiKey: anonKey, disabled: false },
      ]),
    ).toEqual({ apiKey: anonKey, type: 'legacy' });
    expect(() => publishableKey([{ name: 'anon', type: 'legacy', apiKey: anonKey, disabled: true }])).toThrow(
      /no publishable key/,
    );
    expect(() => publishableKey([{ name: 'x', type: 'legacy', apiKey: 'not-a-jwt', disabled: false }])).toThrow();
  });

  it('prefers an sb_publishable_ key when the environment has one', () => {
    expect(
      publishableKey([
        { name: 'anon', type: 'legacy', apiKey: anonKey, disabled: false },
        { name: 'default', type: 'publishable', apiKey: 'sb_publishable_abc123', disabled: false },
      ]),
    ).toEqual({ apiKey: 'sb_publishable_abc123', type: 'publishable' });
  });

  it('refuses a project URL with credentials in it', () => {
    expect(() => frontendHandover(given({ apiUrl: 'https://admin:pw@x.supabase.co' }))).toThrow(/credentials/);
    expect(() => frontendHandover(given({ apiUrl: 'postgres://x/y' }))).toThrow(/http/);
  });

  it('keeps the share token in the fragment, escaped', () => {
    expect(shareUrl('http://127.0.0.1:3000/', sessionId, 'a/b+c=')).toBe(
      `http://127.0.0.1:3000/?session=${sessionId}#share=a%2Fb%2Bc%3D`,
    );
  });
});
