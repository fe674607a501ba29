import { ProvisionError } from '@vibe/platform';
import { isTransientError } from './transient.js';

const named = (name: string, message = 'x', extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name }, extra);

describe('isTransientError', () => {
  it.each([
    ['a provisioner that did not answer in time', new ProvisionError('no answer', 'apply_migration', true)],
    ['Postgres refusing connections', Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })],
    ['Postgres shutting down', Object.assign(new Error('terminating'), { code: '57P01' })],
    ['a NATS request timeout', named('TimeoutError', 'timeout')],
    ['NATS without responders', named('NoResponders')],
    ['a lost NATS connection', named('ConnectionError')],
    ['JetStream answering 503', named('JetStreamApiError', 'unavailable', { status: 503 })],
    ['a cause that is transient', new Error('publish failed', { cause: named('TimeoutError') })],
  ])('retries %s', (_label, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  it.each([
    ['a provisioner refusal', new ProvisionError('syntax error', 'apply_migration', false, '42601')],
    ['a Postgres syntax error', Object.assign(new Error('syntax'), { code: '42601' })],
    ['a plain bug', new TypeError('x is undefined')],
    ['JetStream refusing a request', named('JetStreamApiError', 'bad request', { status: 400 })],
    ['not an error at all', 'boom'],
  ])('does not retry %s', (_label, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});
