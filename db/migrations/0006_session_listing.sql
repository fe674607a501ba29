-- MIGRATION: applied once per control-plane database and recorded in control_plane_migrations.
-- Never edit this file after it has been merged; add the next one.
-- Listing and lifecycle (issue 12): `GET /sessions` pages through a user's sessions newest first, optionally
-- by status; `DELETE /sessions/:id` and the demo sweeper tear environments down for good. The session row and
-- its build_events stay as the audit trail: a deleted session is marked, never removed. Only the orchestrator
-- writes these columns (DESIGN.md §1: the gateway sends a command, the orchestrator carries it out).

alter table public.build_sessions
  -- When the session was deleted (by its owner) or expired (a demo environment past its time). From then on
  -- listings leave it out and its environment is being, or has been, torn down.
  add column deleted_at timestamptz,
  add column deletion_reason text check (deletion_reason in ('owner', 'expired')),
  -- When the teardown ended: the environment is gone and environment_deleted / environment_expired is on the
  -- stream. A session with deleted_at and no teardown_completed_at has teardown work left.
  add column teardown_completed_at timestamptz,
  add constraint build_sessions_deletion_reason_chk check ((deleted_at is null) = (deletion_reason is null));

-- GET /sessions: one user's sessions, newest first, with id as the tie-breaker of the keyset cursor; and the
-- same with a status filter.
create index if not exists build_sessions_created_by_created_at_idx
  on public.build_sessions (created_by, created_at desc, id desc);
create index if not exists build_sessions_created_by_status_created_at_idx
  on public.build_sessions (created_by, status, created_at desc, id desc);

-- The demo sweeper: demo sessions not yet deleted, oldest first. The predicate is the sweeper's own.
create index if not exists build_sessions_demo_expiry_idx
  on public.build_sessions (created_at)
  where deleted_at is null and (options ->> 'demo') = 'true';

-- Teardowns that did not finish (their command was lost or gave up): the sweeper sends them again.
create index if not exists build_sessions_teardown_pending_idx
  on public.build_sessions (deleted_at)
  where deleted_at is not null and teardown_completed_at is null;
