-- MIGRATION: applied once per control-plane database and recorded in control_plane_migrations.
-- Never edit this file after it has been merged; add the next one.
-- Spec §2, §2.1.1 and §3.3, with the security fixes of DESIGN.md §6 (fixed search_path, revokes).

create extension if not exists pgcrypto;

-- Supabase's API roles. On Supabase they exist; on a plain Postgres they are created so that the grants
-- below mean the same thing. Roles are cluster-wide, so another database's migration may race us.
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin', r);
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$$;

create table public.build_sessions (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  status text check (status in ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  template text not null,
  vibe_text text not null,
  options jsonb default '{}'::jsonb,
  plan jsonb,
  environment jsonb,
  outputs jsonb,
  error text,
  created_by uuid,
  -- The spec writes encode(..., 'base64url'), which Postgres before 18 does not know; this is the same
  -- alphabet (24 random bytes give 32 characters, no padding).
  share_token text not null default translate(encode(gen_random_bytes(24), 'base64'), '+/', '-_')
);

create index if not exists build_sessions_created_at_idx on public.build_sessions (created_at desc);
create unique index if not exists build_sessions_share_token_uidx on public.build_sessions (share_token);

create or replace function public.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at = now();
  return new;
end;
$$;

drop trigger if exists build_sessions_set_updated_at on public.build_sessions;
create trigger build_sessions_set_updated_at
before update on public.build_sessions
for each row execute function public.set_updated_at();

create table public.build_events (
  id uuid primary key default gen_random_uuid(),
  session_id uuid references public.build_sessions(id) on delete cascade,
  ts timestamptz default now(),
  type text not null,
  message text not null,
  payload jsonb default '{}'::jsonb,
  -- JetStream stream sequence of the event: the exact publish order, a tie-breaker for equal ts.
  seq bigint
);

create index if not exists build_events_session_ts_idx on public.build_events (session_id, ts asc);

-- spec_chunks.embedding is vector(1536) where pgvector is available, and otherwise real[] with the
-- cosine function below (DESIGN.md §3); the repository picks its query by the column's type.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'vector') then
    create extension if not exists vector;
    execute $t$
      create table public.spec_chunks (
        id uuid primary key default gen_random_uuid(),
        session_id uuid references public.build_sessions(id) on delete cascade,
        chunk_index int not null,
        content text not null,
        embedding vector(1536),
        metadata jsonb default '{}'::jsonb
      )$t$;
  else
    execute $t$
      create table public.spec_chunks (
        id uuid primary key default gen_random_uuid(),
        session_id uuid references public.build_sessions(id) on delete cascade,
        chunk_index int not null,
        content text not null,
        embedding real[] check (embedding is null or cardinality(embedding) = 1536),
        metadata jsonb default '{}'::jsonb
      )$t$;
  end if;
end
$$;

create index if not exists spec_chunks_session_chunk_idx on public.spec_chunks (session_id, chunk_index);

-- Cosine similarity for the real[] fallback (1 = same direction). Unused where pgvector is installed.
create or replace function public.cosine_similarity(a real[], b real[])
returns double precision
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select case when norm_a = 0 or norm_b = 0 then 0 else dot / (norm_a * norm_b) end
  from (
    select
      sum(x.v * y.v)::double precision as dot,
      sqrt(sum(x.v * x.v))::double precision as norm_a,
      sqrt(sum(y.v * y.v))::double precision as norm_b
    from unnest(a) with ordinality as x(v, i)
    join unnest(b) with ordinality as y(v, i) on x.i = y.i
  ) s
$$;

create table public.drift_alerts (
  id uuid primary key default gen_random_uuid(),
  session_id uuid references public.build_sessions(id) on delete cascade,
  ts timestamptz default now(),
  severity text check (severity in ('low', 'medium', 'high', 'critical')),
  type text not null,
  resource text not null,
  spec_chunk_id uuid references public.spec_chunks(id),
  recommendation text
);

create index if not exists drift_alerts_session_ts_idx on public.drift_alerts (session_id, ts desc);
create index if not exists drift_alerts_spec_chunk_idx on public.drift_alerts (spec_chunk_id);

-- Default deny: RLS on and no policy for anon or authenticated. The services connect as a server role.
alter table public.build_sessions enable row level security;
alter table public.build_events enable row level security;
alter table public.spec_chunks enable row level security;
alter table public.drift_alerts enable row level security;

-- The narrow share-token path (spec §3.3).
create or replace function public.get_session_by_share_token(p_share_token text)
returns public.build_sessions
language sql
stable
security definer
set search_path = public
as $$
  select *
  from public.build_sessions
  where share_token = p_share_token
  limit 1
$$;

-- Supabase grants execute on new functions to anon and authenticated by default privileges, so revoking
-- from public alone is not enough: revoke from them too, then grant only what is meant.
revoke all on function public.get_session_by_share_token(text) from public, anon, authenticated;
grant execute on function public.get_session_by_share_token(text) to anon, authenticated;
revoke all on function public.cosine_similarity(real[], real[]) from public, anon, authenticated;
revoke all on function public.set_updated_at() from public, anon, authenticated;
