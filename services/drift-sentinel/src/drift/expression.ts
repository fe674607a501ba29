import { loadModule, parseSync } from 'libpg-query';

/**
 * SQL expressions compared by meaning, not by spelling. The plan's renderer writes `"owner_id" = (select
 * auth.uid())`; Postgres stores it and `pg_get_expr` gives back `(owner_id = ( SELECT auth.uid() AS uid))`.
 * Both are parsed with Postgres' own parser (libpg-query, the real grammar compiled to WebAssembly) and the
 * trees are normalized: parentheses vanish in parsing, and what Postgres adds when it stores an expression
 * is removed (source positions, `::text` on string literals, `AS uid` on sub-select columns, the `public.`
 * schema, `IN (…)` stored as `= ANY (ARRAY[…])`, `BETWEEN` stored as two comparisons). Anything else that
 * differs is a difference. Deterministic and without I/O once the parser is loaded.
 */

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the parser (WebAssembly) once per process; call before the first comparison. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Node = { [key: string]: Json };

/** Source positions, which differ between any two spellings. */
const POSITION_KEYS = new Set(['location', 'rexpr_list_start', 'rexpr_list_end', 'list_start', 'list_end']);

function isNode(value: Json | undefined): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringValue(node: Json | undefined): string | undefined {
  return isNode(node) && isNode(node.String) && typeof node.String.sval === 'string' ? node.String.sval : undefined;
}

/** `'x'::text` (what Postgres stores for a literal compared with a text column) becomes `'x'`. */
function unwrapTextCast(node: Node): Json | undefined {
  const cast = node.TypeCast;
  if (!isNode(cast) || !isNode(cast.arg) || !isNode(cast.arg.A_Const) || !isNode(cast.typeName)) return undefined;
  if (cast.typeName.arrayBounds !== undefined || cast.typeName.typmods !== undefined) return undefined;
  const names = Array.isArray(cast.typeName.names) ? cast.typeName.names.map(stringValue) : [];
  const isText = names.at(-1) === 'text' && (names.length === 1 || names[0] === 'pg_catalog');
  return isText && isNode(cast.arg.A_Const.sval) ? cast.arg : undefined;
}

function normalize(value: Json): Json {
  if (Array.isArray(value)) return value.map(normalize);
  if (!isNode(value)) return value;

  const literal = unwrapTextCast(value);
  if (literal !== undefined) return normalize(literal);

  const expr = value.A_Expr;
  if (isNode(expr) && isNode(expr.rexpr) && isNode(expr.rexpr.List) && Array.isArray(expr.rexpr.List.items)) {
    const items = expr.rexpr.List.items;
    // `x in (a, b)` is stored as `x = ANY (ARRAY[a, b])`.
    if (expr.kind === 'AEXPR_IN' && Array.isArray(expr.name) && stringValue(expr.name[0]) === '=') {
      return normalize({
        A_Expr: {
          kind: 'AEXPR_OP_ANY',
          name: expr.name,
          lexpr: expr.lexpr,
          rexpr: { A_ArrayExpr: { elements: items } },
        },
      } as Node);
    }
    // `x between a and b` is stored as `x >= a and x <= b`.
    if (expr.kind === 'AEXPR_BETWEEN' && items.length === 2) {
      const compare = (op: string, bound: Json): Json => ({
        A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: op } }], lexpr: expr.lexpr ?? null, rexpr: bound },
      });
      return normalize({
        BoolExpr: { boolop: 'AND_EXPR', args: [compare('>=', items[0]!), compare('<=', items[1]!)] },
      });
    }
  }

  const out: Node = {};
  for (const [key, child] of Object.entries(value)) {
    if (POSITION_KEYS.has(key) || key.endsWith('location')) continue;
    out[key] = normalize(child);
  }
  // Column aliases (`AS uid`) name nothing the predicate depends on.
  if (isNode(out.ResTarget)) delete out.ResTarget.name;
  // `public.t` and `t` are the same table here: the environment's tables live in public.
  if (isNode(out.RangeVar) && out.RangeVar.schemaname === 'public') delete out.RangeVar.schemaname;
  if (isNode(out.ColumnRef) && Array.isArray(out.ColumnRef.fields)) {
    const fields = out.ColumnRef.fields;
    if (fields.length >= 3 && stringValue(fields[0]) === 'public') out.ColumnRef.fields = fields.slice(1);
  }
  // `a and (b and c)` is `a and b and c`.
  const bool = out.BoolExpr;
  if (isNode(bool) && Array.isArray(bool.args)) {
    bool.args = bool.args.flatMap((arg) =>
      isNode(arg) && isNode(arg.BoolExpr) && arg.BoolExpr.boolop === bool.boolop && Array.isArray(arg.BoolExpr.args)
        ? arg.BoolExpr.args
        : [arg],
    );
  }
  return out;
}

/** JSON with keys in a fixed order, so that equal trees give equal strings. */
function stableStringify(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isNode(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(value[key]!)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The canonical form of an expression (null for null): two expressions mean the same here when their
 * canonical forms are equal. An expression the parser refuses is kept as its whitespace-collapsed text, so
 * it equals only the same text.
 */
export function canonicalExpression(sql: string | null): string | null {
  if (sql === null) return null;
  if (!loaded) throw new Error('the SQL parser is not loaded: await loadSqlParser() first');
  try {
    // Parenthesized, so the text can only ever be one expression.
    const tree = parseSync(`select (${sql})`) as unknown as Json;
    const target = (tree as { stmts: Array<{ stmt: { SelectStmt: { targetList: Json[] } } }> }).stmts[0]?.stmt
      .SelectStmt.targetList;
    if (!target || target.length !== 1) return `unparsed:${sql.replace(/\s+/g, ' ').trim()}`;
    return stableStringify(normalize(target[0]!));
  } catch {
    return `unparsed:${sql.replace(/\s+/g, ' ').trim()}`;
  }
}

/** Whether two expressions mean the same (both null counts as the same). */
export function sameExpression(a: string | null, b: string | null): boolean {
  return canonicalExpression(a) === canonicalExpression(b);
}

/** `true`, `(true)`, `1 = 1`: a predicate that lets every row through. */
export function isAlwaysTrue(sql: string | null): boolean {
  if (sql === null) return false;
  const canonical = canonicalExpression(sql);
  return canonical === canonicalExpression('true') || canonical === canonicalExpression('1 = 1');
}
