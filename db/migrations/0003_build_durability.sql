-- MIGRATION: applied once per control-plane database and recorded in control_plane_migrations.
-- Never edit this file after it has been merged; add the next one.
-- Crash-proof builds (DESIGN.md §4): what the orchestrator needs to resume, adopt and cancel builds. Only
-- the orchestrator writes these columns (DESIGN.md §1). Who drives a build right now is not a column: it
-- is a Postgres advisory lock held by the driving orchestrator for as long as it drives, so a driver that
-- dies gives it up with its connection.

alter table public.build_sessions
  -- Set when a cancel was requested (POST /sessions/:id/cancel); the build stops at the next node boundary.
  add column cancel_requested_at timestamptz,
  -- How many times an orchestrator started driving the build (first run, resumes after crashes and
  -- shutdowns). A build that keeps being interrupted is failed after a bounded number of attempts.
  add column attempts integer not null default 0,
  -- Why the last attempt ended without finishing the build (redacted), for the attempt that gives up.
  add column last_error text,
  -- Which orchestrator process (host:pid) drove the build last.
  add column driver text,
  -- Set when the build graph reached its end (finalize or cancel_build returned). A session without it
  -- has work left, even when its status is already final (the process died between writing the status
  -- and emitting the final event): the orchestrator adopts it and resumes it from its checkpoint.
  add column graph_ended_at timestamptz,
  -- Set when the environment of a canceled or failed build was removed. A failed or canceled session
  -- with an environment and no environment_removed_at is marked for removal.
  add column environment_removed_at timestamptz;

-- Sessions that finished before this migration have nothing left to do. Their updated_at stays as it was.
alter table public.build_sessions disable trigger build_sessions_set_updated_at;
update public.build_sessions
set graph_ended_at = coalesce(updated_at, now())
where status in ('succeeded', 'failed', 'canceled');
alter table public.build_sessions enable trigger build_sessions_set_updated_at;

-- The adoption scan: sessions with work left, oldest change first.
create index if not exists build_sessions_unfinished_idx
  on public.build_sessions (updated_at)
  where graph_ended_at is null;

-- LangGraph checkpoints (@langchain/langgraph-checkpoint-postgres) live in their own schema; the
-- orchestrator creates its tables with the library's setup(). Nothing in it is for the API roles.
create schema if not exists langgraph;
revoke all on schema langgraph from public, anon, authenticated;
