-- MIGRATION: applied once per control-plane database and recorded in control_plane_migrations.
-- Never edit this file after it has been merged; add the next one.
-- The provisioner's idempotency ledger (DESIGN.md §4): one row per completed provision command. A command
-- whose id is here is answered with the recorded result and never executed again. Only the provisioner
-- writes it.

create table public.provisioner_commands (
  command_id uuid primary key,
  session_id uuid,
  tool text,
  -- The ProvisionResult published to res.provision.<commandId> (libs/contracts, version 1).
  result jsonb not null,
  -- The provisioner_call audit event of the execution, re-published with the result, so that a crash
  -- between recording and publishing loses neither.
  audit jsonb,
  completed_at timestamptz default now()
);

create index if not exists provisioner_commands_session_idx on public.provisioner_commands (session_id);

-- Default deny, like every control-plane table: RLS on, no policy; the provisioner connects as a server role.
alter table public.provisioner_commands enable row level security;
revoke all on table public.provisioner_commands from anon, authenticated;
