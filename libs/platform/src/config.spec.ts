import { BaseConfig, ConfigError, isNatsServerList, isPostgresUrl, loadConfig } from './config.js';

describe('the base configuration', () => {
  it.each([
    ['postgres://postgres@127.0.0.1:5432/vibe', true],
    ['postgresql://u:p@db.example.com/vibe?sslmode=require', true],
    ['mysql://u@db/vibe', false],
    ['127.0.0.1:5432/vibe', false],
    ['not a url', false],
  ])('takes %s as a Postgres URL: %s', (value, expected) => {
    expect(isPostgresUrl(value)).toBe(expected);
  });

  it.each([
    ['nats://127.0.0.1:4222', true],
    ['nats://a:4222, nats://b:4222', true],
    ['tls://nats.example.com:4222', true],
    ['127.0.0.1:4222', true],
    ['http://127.0.0.1:4222', false],
    ['nats://', false],
  ])('takes %s as NATS servers: %s', (value, expected) => {
    expect(isNatsServerList(value)).toBe(expected);
  });

  it.each([
    ['DATABASE_URL', { DATABASE_URL: 'mysql://root:hunter2@db/vibe' }],
    ['DATABASE_URL', { DATABASE_URL: '' }],
    ['NATS_URL', { NATS_URL: 'http://nats:4222' }],
    ['NATS_NAMESPACE', { NATS_NAMESPACE: 'a b' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
  ])('stops at boot naming %s, without its value', (name, env) => {
    expect(() => loadConfig(BaseConfig, env)).toThrow(ConfigError);
    expect(() => loadConfig(BaseConfig, env)).toThrow(new RegExp(`^Invalid configuration: ${name}: `));
    expect(() => loadConfig(BaseConfig, env)).not.toThrow(/hunter2/);
  });

  it('has working defaults', () => {
    expect(loadConfig(BaseConfig, {})).toEqual({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/vibe',
      NATS_URL: 'nats://127.0.0.1:4222',
      NATS_NAMESPACE: '',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'log',
    });
  });
});
