import {
  bootstrapFingerprint,
  environmentDatabaseName,
  environmentMarker,
  environmentRefProblem,
  isTemplateReady,
  parseEnvironmentMarker,
  serverAddress,
  spareDatabaseName,
  spareDatabasePattern,
  templateDatabaseName,
  templateMarker,
} from './naming.js';

const SESSION = '0f8e6c1a-3b2d-4c5e-9f70-81a2b3c4d5e6';

describe('environment names', () => {
  it('are the prefix and the session id without dashes', () => {
    expect(environmentDatabaseName('vibe_env_', SESSION)).toBe('vibe_env_0f8e6c1a3b2d4c5e9f7081a2b3c4d5e6');
  });

  it('refuse a session id that is not a uuid', () => {
    expect(() => environmentDatabaseName('vibe_env_', 'x"; drop database postgres; --')).toThrow(/not a uuid/);
  });

  it('fit Postgres identifiers with the longest prefix the config allows', () => {
    expect(environmentDatabaseName('p'.repeat(31), SESSION).length).toBeLessThanOrEqual(63);
  });
});

describe('template names', () => {
  it('follow the bootstrap SQL: the same SQL gives the same template, another SQL another', () => {
    const a = templateDatabaseName('vibe_env_', 'create schema auth;');
    expect(a).toMatch(/^vibe_env_template_[0-9a-f]{8}$/);
    expect(templateDatabaseName('vibe_env_', 'create schema auth;')).toBe(a);
    expect(templateDatabaseName('vibe_env_', 'create schema auth; ')).not.toBe(a);
  });

  it('are not environment refs, so no command can reach the template', () => {
    const template = templateDatabaseName('vibe_env_', 'sql');
    expect(environmentRefProblem('vibe_env_', template)).toMatch(/not an environment of this provisioner/);
  });
});

describe('environment refs', () => {
  const ok = environmentDatabaseName('vibe_env_', SESSION);

  it('accept what create_environment makes', () => {
    expect(environmentRefProblem('vibe_env_', ok)).toBeNull();
  });

  it.each([
    ['postgres', /"postgres" is not an environment of this provisioner/],
    ['vibe', /"vibe" is not an environment/],
    [`other_${ok.slice('vibe_env_'.length)}`, /not an environment/],
    [ok.toUpperCase(), /is invalid/],
    [`${ok}; drop database x`, /is invalid/],
    ['vibe_env_"x"', /is invalid/],
  ])('refuse %p, naming it', (ref, message) => {
    expect(environmentRefProblem('vibe_env_', ref)).toMatch(message);
  });

  it('shorten a very long ref in the message', () => {
    expect(environmentRefProblem('vibe_env_', 'a'.repeat(5000))!.length).toBeLessThan(300);
  });
});

describe('server address', () => {
  it('gives host and port, never the credentials', () => {
    const address = serverAddress('postgres://admin:s3cret@db.internal:6543/postgres');
    expect(address).toEqual({ host: 'db.internal', port: 6543 });
    expect(JSON.stringify(address)).not.toContain('s3cret');
  });

  it('defaults the port to 5432', () => {
    expect(serverAddress('postgres://postgres@127.0.0.1/postgres')).toEqual({ host: '127.0.0.1', port: 5432 });
  });
});

describe('markers', () => {
  it('round-trip an environment marker', () => {
    const marker = { mode: 'branch' as const, createdAt: '2025-01-02T03:04:05.678Z' };
    expect(parseEnvironmentMarker(environmentMarker(marker))).toEqual(marker);
  });

  it.each([
    null,
    undefined,
    '',
    'a comment somebody wrote',
    'vibe-architect environment {bad json',
    'vibe-architect environment {"mode":"x"}',
  ])('do not take %p for an environment marker', (comment) => {
    expect(parseEnvironmentMarker(comment)).toBeNull();
  });

  it('tell a finished template by its fingerprint', () => {
    const fingerprint = bootstrapFingerprint('sql');
    expect(isTemplateReady(templateMarker(fingerprint), fingerprint)).toBe(true);
    expect(isTemplateReady(templateMarker('00000000'), fingerprint)).toBe(false);
    expect(isTemplateReady(null, fingerprint)).toBe(false);
  });
});

describe('spare names', () => {
  const prefix = 'p'.repeat(31);
  const fingerprint = 'abcdef01';

  it('are the template name and a suffix, fit Postgres identifiers, and are never environment refs', () => {
    const ready = spareDatabaseName(prefix, fingerprint, '0123456789ab');
    expect(ready).toBe(`${prefix}template_abcdef01_s0123456789ab`);
    expect(ready.length).toBeLessThanOrEqual(63);
    expect(environmentRefProblem(prefix, ready)).not.toBeNull();
    expect(() => spareDatabaseName(prefix, fingerprint, 'xyz')).toThrow(/12 hex digits/);
  });

  it('tell ready spares from spares being made, and one bootstrap from another', () => {
    const ready = new RegExp(spareDatabasePattern('vibe_env_', fingerprint));
    const any = new RegExp(spareDatabasePattern('vibe_env_'));
    const made = spareDatabaseName('vibe_env_', fingerprint, '0123456789ab');
    const making = spareDatabaseName('vibe_env_', fingerprint, '0123456789ab', 'making');
    const older = spareDatabaseName('vibe_env_', '00000000', '0123456789ab');
    expect([made, making, older].map((name) => ready.test(name))).toEqual([true, false, false]);
    expect([made, making, older].map((name) => any.test(name))).toEqual([true, true, true]);
    expect(any.test(`vibe_env_template_${fingerprint}`)).toBe(false);
  });
});
