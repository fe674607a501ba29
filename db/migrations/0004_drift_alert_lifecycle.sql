-- MIGRATION: applied once per control-plane database and recorded in control_plane_migrations.
-- Never edit this file after it has been merged; add the next one.
-- Drift sentinel (spec §2.4, §10.1): what an alert needs to be raised once and resolved when its drift is
-- gone, and the claims that let exactly one sentinel replica check an environment per round. Only the
-- drift sentinel writes these (DESIGN.md §1).

alter table public.drift_alerts
  -- An alert is open while its drift is found, resolved when a later check no longer finds it.
  add column status text not null default 'open' check (status in ('open', 'resolved')),
  add column resolved_at timestamptz,
  -- The last check that still found the drift.
  add column last_seen_at timestamptz default now(),
  -- Identifies "the same drift" (type, resource, severity and what was observed): at most one open alert
  -- per session and fingerprint, so a drift that stays is not alerted twice.
  add column fingerprint text,
  -- One sentence of what drifted, and one of why it matters.
  add column summary text,
  add column rationale text,
  -- What was expected and observed, the confirming lints, how the spec chunk was chosen.
  add column details jsonb not null default '{}'::jsonb,
  -- The check that opened it (drift_checks.id).
  add column check_id uuid,
  -- Set once the alert's drift_detected event is on the stream; a check publishes those still unset
  -- (an outbox: a crash between the commit and the publish loses no event).
  add column event_published_at timestamptz;

-- An alert names the spec chunk that explains it; replacing a session's chunks must not be blocked by an
-- alert: the alert loses the reference instead (spec §2.4 leaves the delete action open).
alter table public.drift_alerts
  drop constraint if exists drift_alerts_spec_chunk_id_fkey,
  add constraint drift_alerts_spec_chunk_id_fkey
    foreign key (spec_chunk_id) references public.spec_chunks(id) on delete set null;

create unique index if not exists drift_alerts_open_fingerprint_uidx
  on public.drift_alerts (session_id, fingerprint)
  where status = 'open' and fingerprint is not null;

create index if not exists drift_alerts_unpublished_idx
  on public.drift_alerts (session_id)
  where event_published_at is null;

-- One row per check. A scheduled check claims (session, round) by inserting its row: the unique index makes
-- the claim, so exactly one replica checks an environment in a round however many received the job.
create table public.drift_checks (
  id uuid primary key,
  session_id uuid not null references public.build_sessions(id) on delete cascade,
  -- The schedule's tick (ISO 8601) of a scheduled check; null for a check asked for through the API.
  round text,
  trigger text not null check (trigger in ('schedule', 'request')),
  -- The sentinel process (host:pid) that ran it.
  worker text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  outcome text check (outcome in ('checked', 'skipped', 'failed')),
  -- Why it was skipped or failed (redacted).
  note text,
  findings integer,
  opened integer,
  resolved integer,
  duration_ms integer
);

create unique index if not exists drift_checks_round_uidx
  on public.drift_checks (session_id, round)
  where round is not null;

create index if not exists drift_checks_session_started_idx
  on public.drift_checks (session_id, started_at desc);

-- The sentinel removes checks older than its retention (DRIFT_CHECK_RETENTION_DAYS); alerts stay.
create index if not exists drift_checks_started_idx on public.drift_checks (started_at);

-- Default deny, like every control-plane table: RLS on, no policy; the sentinel connects as a server role.
alter table public.drift_checks enable row level security;
revoke all on table public.drift_checks from anon, authenticated;
