import { jsonMayHoldSecret, redact, redactReporting, redactText, REDACTED } from './redact.js';

describe('redactText (the one redaction function)', () => {
  it.each([
    [
      'an OpenAI key',
      'OpenAI said: Incorrect API key provided: sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD.',
      'sk-abc',
    ],
    ['an OpenAI project key', 'key=sk-proj-AbCdEf_123-456_GhIjKlMnOpQrStUvWxYz0123', 'sk-proj-AbCdEf'],
    ['an OpenAI service account key', 'sk-svcacct-0123456789abcdefghijABCDEFGHIJ', 'sk-svcacct-0123'],
    ['a Supabase access token', 'token sbp_0123456789abcdef0123456789abcdef01234567 refused', 'sbp_0123'],
    ['a Supabase secret key', 'apikey: sb_secret_abcdefghijklmnop', 'sb_secret_abc'],
    ['a JWT', 'auth eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ24', 'eyJzdWIiOiJ4In0'],
    ['a bearer token', 'Authorization: Bearer abcdefgh12345678', 'abcdefgh12345678'],
    ['a password in a connection string', 'connect postgres://admin:hunter2@db:5432/x failed', 'hunter2'],
    ['a password parameter', "password='hunter 2' host=db", 'hunter 2'],
  ])('removes %s', (_what, text, secret) => {
    const clean = redactText(text);
    expect(clean).not.toContain(secret);
    expect(clean).toContain(REDACTED);
  });

  it('keeps ordinary text, including words that merely start with sk-', () => {
    expect(redactText('ask-me-anything: sk-short risk-free')).toBe('ask-me-anything: sk-short risk-free');
  });

  it('removes values under secret-looking keys, and secret-looking values anywhere, in nested objects', () => {
    const clean = redact({
      apiKey: 'anything',
      nested: { shareToken: 'abc', note: ['key sk-abcdefghijklmnopqrstuvwxyz012345'] },
      plain: 1,
    });
    expect(clean).toEqual({ apiKey: REDACTED, nested: { shareToken: REDACTED, note: [`key ${REDACTED}`] }, plain: 1 });
  });

  it.each<[string, unknown, boolean]>([
    ['nothing secret', { message: 'Created table public.orders', payload: { table: 'orders', n: 1 } }, false],
    ['a value already redacted', { payload: { token: REDACTED, note: REDACTED } }, false],
    [
      'a JWT in the message',
      { message: 'key eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl', payload: {} },
      true,
    ],
    ['a value under a secret-looking key', { payload: { nested: [{ password: 'hunter2' }] } }, true],
    ['an object under a secret-looking key', { payload: { serviceRole: { key: 'x' } } }, true],
  ])('says whether it took anything out (%s), and gives what redact gives, as a copy', (_what, value, changed) => {
    const report = redactReporting(value);
    expect(report.changed).toBe(changed);
    expect(report.value).toEqual(redact(value));
    expect(report.changed).toBe(JSON.stringify(report.value) !== JSON.stringify(value));
    if (typeof value === 'object' && value !== null) expect(report.value).not.toBe(value);
  });
});

describe('jsonMayHoldSecret (may redact change what this JSON parses to?)', () => {
  const secrets = [
    'sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD',
    'sbp_0123456789abcdef0123456789abcdef01234567',
    'sb_secret_abcdefghijklmnop',
    'sb_publishable_abcdefghijklmnop',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ24',
    'Bearer abcdefgh12345678',
    'postgres://admin:hunter2@db:5432/x',
    "password='hunter 2'",
  ];
  const secretKeys = ['password', 'apiKey', 'api_key', 'accessToken', 'serviceRole', 'Authorization', 'cookie', 'jwt'];

  it('is false for an ordinary event, which is then stored without a copy', () => {
    const event = { message: 'Created table public.orders', payload: { table: 'orders', columns: ['id'], n: 1 } };
    expect(jsonMayHoldSecret(JSON.stringify(event))).toBe(false);
  });

  it.each(secrets)('is true for a value holding %s, in any case', (secret) => {
    for (const text of [secret, secret.toUpperCase(), `before ${secret} after`]) {
      expect(jsonMayHoldSecret(JSON.stringify({ message: 'ok', payload: { note: text } }))).toBe(true);
    }
  });

  it.each(secretKeys)('is true for a value under the key %s', (key) => {
    expect(jsonMayHoldSecret(JSON.stringify({ payload: { [key]: 'x' } }))).toBe(true);
  });

  it('is true when a JSON escape could spell a secret in other characters', () => {
    const spelled = [
      '{"note":"\\u0065yJhbGciOiJIUzI1NiJ9.\\u0065yJzdWIiOiJ4In0.c2lnbmF0dXJl"}',
      '{"note":"postgres:\\/\\/admin:hunter2@db/x"}',
      '{"p\\u0061ssw\\u006frd":"x"}',
    ];
    for (const json of spelled) {
      expect(redactReporting(JSON.parse(json) as unknown).changed).toBe(true);
      expect(jsonMayHoldSecret(json)).toBe(true);
    }
    expect(jsonMayHoldSecret('{"note":"a \\"quoted\\" line\\nand a tab\\t"}')).toBe(false);
  });

  it('is true past the depth redact descends to, whatever the brackets inside strings', () => {
    const nest = (depth: number): unknown => (depth === 0 ? 'leaf' : { a: nest(depth - 1) });
    expect(jsonMayHoldSecret(JSON.stringify(nest(20)))).toBe(false);
    expect(jsonMayHoldSecret(JSON.stringify(nest(21)))).toBe(true);
    expect(jsonMayHoldSecret(JSON.stringify({ note: '[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{' }))).toBe(false);
  });

  it('is never false where redact would change the parsed value (generated values)', () => {
    // Values built from ordinary words, secrets, secret keys, escapes and nesting, in a fixed pseudo-random order.
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const words = [
      'orders',
      'id',
      'ok',
      'line\nbreak',
      'tab\t',
      'quote "',
      'ünïcode',
      'sk',
      'bear',
      'pass',
      ...secrets,
    ];
    const keys = ['table', 'note', 'items', 'nested', ...secretKeys];
    const make = (depth: number): unknown => {
      const kind = next(depth > 24 ? 2 : 4);
      if (kind === 0) return words[next(words.length)]!;
      if (kind === 1) return next(1000);
      if (kind === 2) return Array.from({ length: next(3) + 1 }, () => make(depth + 1));
      return Object.fromEntries(Array.from({ length: next(3) + 1 }, () => [keys[next(keys.length)]!, make(depth + 1)]));
    };
    let clean = 0;
    for (let i = 0; i < 3000; i++) {
      const value = { message: words[next(words.length)]!, payload: make(1) };
      const json = JSON.stringify(value);
      if (jsonMayHoldSecret(json)) continue;
      clean++;
      expect(redactReporting(JSON.parse(json) as unknown).changed).toBe(false);
    }
    expect(clean).toBeGreaterThan(100);
  });
});
