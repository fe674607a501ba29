import { describePgError } from './pg-errors.js';

/** The fields node-postgres puts on a DatabaseError. */
function pgError(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message)), fields);
}

describe('describePgError', () => {
  it('gives the message, SQLSTATE and the line and column of the position', () => {
    const query = 'create table ok (id int);\ncreate tabel oops (id int);';
    const error = pgError({ message: 'syntax error at or near "tabel"', code: '42601', position: '34' });
    expect(describePgError(error, query)).toBe('syntax error at or near "tabel" (SQLSTATE 42601, line 2, column 8)');
  });

  it('adds the detail and hint', () => {
    const error = pgError({
      message: 'duplicate key value violates unique constraint "t_pkey"',
      code: '23505',
      detail: 'Key (id)=(1) already exists.',
      hint: 'Try another id.',
    });
    expect(describePgError(error)).toBe(
      'duplicate key value violates unique constraint "t_pkey" (SQLSTATE 23505) detail: Key (id)=(1) already exists. hint: Try another id.',
    );
  });

  it('ignores a position outside the query', () => {
    const error = pgError({ message: 'boom', code: 'XX000', position: '999' });
    expect(describePgError(error, 'select 1')).toBe('boom (SQLSTATE XX000)');
  });

  it('describes errors that are not from Postgres', () => {
    expect(describePgError(new Error('socket hang up'))).toBe('socket hang up');
    expect(describePgError('plain')).toBe('plain');
  });
});
