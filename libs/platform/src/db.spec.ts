import { isTransientPgError as isTransient, pgErrorCode as sqlState } from './db.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isTransientPgError', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '08006', '57P01', '57P03', '53300', '40001', '40P01'])(
    'retries %s',
    (code) => {
      expect(isTransient(withCode(code))).toBe(true);
    },
  );

  it('retries a connection that ended under the client', () => {
    expect(isTransient(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it.each(['42601', '42P01', '23505', '25006', '3D000'])('does not retry %s', (code) => {
    expect(isTransient(withCode(code))).toBe(false);
  });
});

describe('pgErrorCode', () => {
  it('is the five-character SQLSTATE only', () => {
    expect(sqlState(withCode('42601'))).toBe('42601');
    expect(sqlState(withCode('ECONNREFUSED'))).toBeUndefined();
    expect(sqlState(new Error('x'))).toBeUndefined();
  });
});
