import { pgErrorCode, quoteIdent, type PoolClient } from '@vibe/platform';
import type { ApiClaims } from './api-jwt.js';

/**
 * The one PostgREST endpoint the local runtime serves: `POST /rest/v1/rpc/<function>` (and GET for calls
 * without arguments), what `supabase.rpc()` calls. As PostgREST does, the call runs in a transaction as the
 * database role of the caller's JWT (`anon`, `authenticated`, `service_role`), with the claims in
 * `request.jwt.claims` so that `auth.uid()` and RLS see the caller; privileges decide, not this code.
 * Only schema `public` is exposed (PostgREST's default). Arguments are named, as PostgREST passes them.
 */
export interface RpcRequest {
  method: string;
  fn: string;
  /** The JSON body: named arguments. */
  args: Record<string, unknown>;
  /** `Content-Profile` / `Accept-Profile`, when given. */
  schema: string | null;
  claims: ApiClaims;
}

export interface RpcResponse {
  status: number;
  body: unknown;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** PostgREST's statement timeouts for the API roles are seconds; a runaway call must not hold a connection. */
const STATEMENT_TIMEOUT = '8s';

interface FunctionRow {
  returns_set: boolean;
  returns_void: boolean;
  arg_names: string[] | null;
  volatile: boolean;
}

export async function callRpc(client: PoolClient, request: RpcRequest): Promise<RpcResponse> {
  const { fn, args, claims } = request;
  const schema = request.schema ?? 'public';
  if (schema !== 'public') {
    return error(406, 'PGRST106', `The schema must be one of the following: public`);
  }
  if (!NAME.test(fn)) return error(404, 'PGRST202', `Could not find the function public.${fn.slice(0, 80)}`);
  const names = Object.keys(args);
  const bad = names.find((name) => !NAME.test(name));
  if (bad !== undefined) return error(400, 'PGRST100', `"${bad.slice(0, 80)}" is not an argument name`);

  const { rows } = await client.query<FunctionRow>(
    `select p.proretset as returns_set, p.prorettype = 'pg_catalog.void'::regtype as returns_void,
            p.proargnames as arg_names, p.provolatile = 'v' as volatile
     from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'public' and p.proname = $1`,
    [fn],
  );
  const candidates = rows.filter((row) => names.every((name) => (row.arg_names ?? []).includes(name)));
  const found = candidates[0];
  if (!found) {
    const signature = names.length ? `with parameters ${names.join(', ')}` : 'without parameters';
    return error(404, 'PGRST202', `Could not find the function public.${fn} ${signature} in the schema cache`);
  }
  if (request.method === 'GET' && found.volatile) {
    return error(405, 'PGRST101', 'Cannot use the GET method on a volatile function; use POST');
  }

  const call = `public.${quoteIdent(fn)}(${names.map((name, i) => `${quoteIdent(name)} => $${i + 1}`).join(', ')})`;
  const sql = found.returns_void
    ? `select ${call}`
    : found.returns_set
      ? `select coalesce(jsonb_agg(t), '[]'::jsonb) as result from ${call} t`
      : `select to_jsonb(${call}) as result`;
  const params = names.map((name) => argument(args[name]));

  await client.query(request.method === 'GET' ? 'begin transaction read only' : 'begin');
  try {
    await client.query(
      `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
      set_config('request.method', $3, true), set_config('statement_timeout', $4, true)`,
      [claims.role, JSON.stringify(claims), request.method, STATEMENT_TIMEOUT],
    );
    const result = await client.query<{ result?: unknown }>(sql, params);
    await client.query('commit');
    if (found.returns_void) return { status: 204, body: null };
    return { status: 200, body: result.rows[0]?.result ?? null };
  } catch (failure) {
    await client.query('rollback').catch(() => undefined);
    return pgFailure(failure, claims.role);
  }
}

/** A JSON value as a query parameter: objects and arrays as JSON text, scalars as text, null as null. */
function argument(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** PostgREST's mapping of the SQLSTATEs a call can meet to HTTP statuses. */
function pgFailure(failure: unknown, role: string): RpcResponse {
  const code = pgErrorCode(failure);
  const fields = (typeof failure === 'object' && failure !== null ? failure : {}) as {
    message?: unknown;
    detail?: unknown;
    hint?: unknown;
  };
  const message = typeof fields.message === 'string' ? fields.message : 'the call failed';
  const body = {
    code: code ?? 'PGRST000',
    message,
    details: typeof fields.detail === 'string' ? fields.detail : null,
    hint: typeof fields.hint === 'string' ? fields.hint : null,
  };
  if (code === undefined) throw failure;
  if (code === '42501') return { status: role === 'anon' ? 401 : 403, body };
  if (code === '42883') return { status: 404, body };
  if (code === '57014') return { status: 500, body };
  if (code === '23505' || code === '23503') return { status: 409, body };
  if (code === 'P0001' || code.startsWith('22') || code.startsWith('23') || code === '42P01') {
    return { status: 400, body };
  }
  if (code.startsWith('08') || code.startsWith('53') || code.startsWith('57')) return { status: 503, body };
  return { status: 500, body };
}

function error(status: number, code: string, message: string): RpcResponse {
  return { status, body: { code, message, details: null, hint: null } };
}
