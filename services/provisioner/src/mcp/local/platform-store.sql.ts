/**
 * What the local platform keeps inside an environment database for itself, out of reach of the API roles:
 * the Edge Functions deployed to it (`supabase_functions.edge_functions`, served by the local Deno runtime) and the environment's JWT secret (`vibe_platform.jwt_secret`).
 *
 * PERSISTED: these tables live in environment databases; change them only by adding columns.
 * Made on first use (idempotent, run under an advisory lock), so environments made before them get them too.
 */
export const FUNCTIONS_STORE_SQL = `
create schema if not exists supabase_functions;
revoke all on schema supabase_functions from public, anon, authenticated, service_role;
create table if not exists supabase_functions.edge_functions (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique,
  name text not null,
  version integer not null,
  status text not null,
  verify_jwt boolean not null,
  entrypoint_path text not null,
  import_map_path text,
  files jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
revoke all on table supabase_functions.edge_functions from public, anon, authenticated, service_role;
`;

/**
 * Deployed and served (by the provisioner's local API, src/edge-runtime, on the first request), as Supabase
 * says of a function it serves. Environments from before the local runtime hold `STORED`.
 */
export const DEPLOYED_STATUS = 'ACTIVE';

/** $1 name (= slug), $2 verify_jwt, $3 entrypoint, $4 import map given, $5 import map among the files, $6 files. */
export const DEPLOY_FUNCTION_SQL = `
insert into supabase_functions.edge_functions as f
  (slug, name, version, status, verify_jwt, entrypoint_path, import_map_path, files)
values ($1::text, $1::text, 1, '${DEPLOYED_STATUS}', $2::boolean, $3::text, coalesce($4::text, $5::text), $6::jsonb)
on conflict (slug) do update set
  version = f.version + 1,
  status = excluded.status,
  verify_jwt = excluded.verify_jwt,
  entrypoint_path = excluded.entrypoint_path,
  import_map_path = coalesce($4::text, f.import_map_path, $5::text),
  files = excluded.files,
  updated_at = now()
returning id::text, slug, name, status, version, verify_jwt, entrypoint_path, import_map_path,
  (extract(epoch from created_at) * 1000)::bigint as created_at,
  (extract(epoch from updated_at) * 1000)::bigint as updated_at`;

export const FUNCTION_COLUMNS = `id::text, slug, name, status, version, verify_jwt, entrypoint_path, import_map_path,
  (extract(epoch from created_at) * 1000)::bigint as created_at,
  (extract(epoch from updated_at) * 1000)::bigint as updated_at`;

/** A stored function as the store returns it (bigint epochs come back from node-postgres as strings). */
export interface FunctionRow {
  id: string;
  slug: string;
  name: string;
  status: string;
  version: number;
  verify_jwt: boolean;
  entrypoint_path: string;
  import_map_path: string | null;
  created_at: string;
  updated_at: string;
}

export const JWT_SECRET_STORE_SQL = `
create schema if not exists vibe_platform;
revoke all on schema vibe_platform from public, anon, authenticated, service_role;
create table if not exists vibe_platform.jwt_secret (
  id boolean primary key default true check (id),
  secret text not null,
  created_at timestamptz not null default now()
);
revoke all on table vibe_platform.jwt_secret from public, anon, authenticated, service_role;
`;
