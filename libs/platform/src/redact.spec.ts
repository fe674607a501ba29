import { redact, redactReporting, redactText, REDACTED } from './redact.js';

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
