import { mintApiKey } from './api-jwt.js';
import { findSecrets } from './secret-scan.js';

describe('findSecrets', () => {
  const secret = 'a-test-secret-that-is-long-enough-1234';
  const service = mintApiKey(secret, 'ref', 'service_role', new Date());
  const anon = mintApiKey(secret, 'ref', 'anon', new Date());
  const known = [
    { name: 'service_role_key', value: service },
    { name: 'jwt_secret', value: secret },
  ];

  it('finds nothing in an honest answer, an anon key included', () => {
    expect(findSecrets(JSON.stringify({ ok: true, drift: [], key: anon }), known)).toEqual([]);
  });

  it('names each kind of secret it finds, never its value', () => {
    const found = findSecrets(
      JSON.stringify({
        a: service,
        b: `secret=${secret}`,
        c: mintApiKey('other-secret-that-is-long-enough-000', 'x', 'service_role', new Date()),
        d: 'sb_secret_abcdefghijklmnop',
        e: 'postgres://postgres:hunter2@db.example.com:5432/postgres',
      }),
      known,
    );
    expect(found).toEqual([
      'connection_string_password',
      'jwt_secret',
      'service_role_jwt',
      'service_role_key',
      'supabase_secret_key',
    ]);
  });
});
