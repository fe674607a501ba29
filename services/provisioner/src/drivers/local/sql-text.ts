/**
 * Just enough of Postgres' lexer to find the top-level statements of a query string: string literals
 * (standard, E'' with backslash escapes, dollar-quoted), quoted identifiers and comments (nested block
 * comments too) are skipped, so a ";" or a keyword inside them does not count. Pure: no I/O.
 *
 * It splits on every ";" outside literals, also inside parentheses (where Postgres would not, as in
 * CREATE RULE): that gives more pieces, each checked, never fewer, which is the safe side for a guard.
 */
export interface SqlStatement {
  /** The statement as written, trimmed. */
  readonly text: string;
  /** Lower-cased, comments removed, literal contents blanked: what keyword checks look at. */
  readonly skeleton: string;
}

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

export function splitStatements(sql: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let skeleton = '';
  let i = 0;
  const n = sql.length;
  const push = (end: number) => {
    const text = sql.slice(start, end).trim();
    if (text) statements.push({ text, skeleton: skeleton.replace(/\s+/g, ' ').trim().toLowerCase() });
    skeleton = '';
    start = end + 1;
  };
  while (i < n) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    const previous = i > 0 ? sql[i - 1]! : '';
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end;
      skeleton += ' ';
    } else if (ch === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
      skeleton += ' ';
    } else if (ch === "'") {
      // E'...' (not preceded by an identifier character) takes backslash escapes; with
      // standard_conforming_strings on (the driver sets it), other strings do not.
      const escapes = (previous === 'e' || previous === 'E') && !IDENT_CHAR.test(i > 1 ? sql[i - 2]! : '');
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') {
          j += 2;
        } else if (sql[j] === "'") {
          if (sql[j + 1] === "'") j += 2;
          else break;
        } else {
          j++;
        }
      }
      skeleton += "''";
      i = j + 1;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') j += 2;
          else break;
        } else {
          j++;
        }
      }
      // Identifiers stay readable in the skeleton: `set "transaction_read_only"` names a setting too.
      skeleton += ` ${sql.slice(i + 1, j).replace(/""/g, '"')} `;
      i = j + 1;
    } else if (ch === '$' && !IDENT_CHAR.test(previous) && DOLLAR_TAG.test(sql.slice(i, i + 128))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 128))![0];
      const end = sql.indexOf(tag, i + tag.length);
      skeleton += "''";
      i = end === -1 ? n : end + tag.length;
    } else if (ch === ';') {
      push(i);
      i++;
    } else {
      skeleton += ch;
      i++;
    }
  }
  push(n);
  return statements;
}

/** The first `count` words of a statement's skeleton. */
export function leadingWords(statement: SqlStatement, count = 2): string[] {
  return statement.skeleton
    .split(/[^a-z0-9_&]+/)
    .filter(Boolean)
    .slice(0, count);
}

const ENDS_TRANSACTION = new Set(['commit', 'end', 'rollback', 'abort']);

/**
 * The first statement of `sql` that would end the transaction it runs in (COMMIT, END, ROLLBACK, ABORT,
 * PREPARE TRANSACTION), or null. A read-only `execute_sql` runs the caller's SQL inside the provisioner's
 * own read-only transaction and rolls it back; a statement that ended that transaction would let the ones
 * after it run, and commit, outside it.
 */
export function transactionEndingStatement(sql: string): string | null {
  for (const statement of splitStatements(sql)) {
    const [first, second] = leadingWords(statement);
    if (first === undefined) continue;
    if (ENDS_TRANSACTION.has(first) || (first === 'prepare' && second === 'transaction')) {
      return statement.text.length > 80 ? `${statement.text.slice(0, 80)}…` : statement.text;
    }
  }
  return null;
}
