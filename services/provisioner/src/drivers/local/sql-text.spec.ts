import { leadingWords, splitStatements, transactionEndingStatement } from './sql-text.js';

const texts = (sql: string) => splitStatements(sql).map((s) => s.text);

describe('splitStatements', () => {
  it('splits on top-level semicolons and drops empty statements', () => {
    expect(texts('select 1; select 2;;  ')).toEqual(['select 1', 'select 2']);
  });

  it('keeps semicolons inside string literals, quoted identifiers and comments', () => {
    expect(texts(`select 'a;b', "c;d" from t -- e;f\n; /* g; /* nested; */ h; */ select 2`)).toEqual([
      `select 'a;b', "c;d" from t -- e;f`,
      `/* g; /* nested; */ h; */ select 2`,
    ]);
  });

  it('reads doubled quotes and E-string backslash escapes as part of the literal', () => {
    expect(texts(`select 'it''s; fine'; select E'back\\'slash; still'; select 3`)).toHaveLength(3);
  });

  it('takes a backslash in a standard string as a plain character', () => {
    // standard_conforming_strings = on: 'a\' is a complete literal.
    expect(texts(`select 'a\\'; commit`)).toEqual([`select 'a\\'`, 'commit']);
  });

  it('skips dollar-quoted bodies, tagged or not, but not $1 parameters or identifiers with $', () => {
    const sql = `create function f() returns int language sql as $$ select 1; $$; do $body$ begin perform 1; end $body$; select $1, a$b$ from t`;
    expect(texts(sql)).toEqual([
      'create function f() returns int language sql as $$ select 1; $$',
      'do $body$ begin perform 1; end $body$',
      'select $1, a$b$ from t',
    ]);
  });

  it('blanks literal contents and comments in the skeleton', () => {
    const [statement] = splitStatements(`/* commit */ SET local "Request.JWT.Claims" = '{"commit": true}'`);
    expect(statement!.skeleton).toBe(`set local request.jwt.claims = ''`);
    expect(leadingWords(statement!, 3)).toEqual(['set', 'local', 'request']);
  });
});

describe('transactionEndingStatement', () => {
  it.each([
    'commit',
    'select 1; COMMIT; insert into t values (1)',
    'end',
    'rollback; insert into t values (1)',
    'abort',
    `prepare transaction 'x'`,
    '/* hide */ commit',
    '-- hide\ncommit',
    `select 'a\\'; commit; insert into t values (1)`,
  ])('finds the statement that would end the transaction in %p', (sql) => {
    expect(transactionEndingStatement(sql)).not.toBeNull();
  });

  it.each([
    'select 1',
    `set local role authenticated; set local request.jwt.claims = '{"sub":"x"}'; select auth.uid()`,
    `select 'commit; rollback'`,
    `select "commit" from t`,
    '/* commit; */ select 1',
    `do $$ begin commit; end $$`,
    `select E'\\'; commit; --'`,
    'prepare q as select 1',
  ])('lets %p through', (sql) => {
    expect(transactionEndingStatement(sql)).toBeNull();
  });
});
