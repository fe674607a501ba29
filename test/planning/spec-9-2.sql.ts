/**
 * Spec §9.1 and §9.2 exactly as the spec writes them: the reference that the rendered marketplace must
 * match in behaviour (test/planning/render.int-spec.ts runs the same access matrix on both).
 */
export const SPEC_9_1_AND_9_2 = `
create table if not exists public.profiles (
  id uuid primary key references auth.users(id) on delete cascade,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  display_name text,
  avatar_url text
);
alter table public.profiles enable row level security;
create policy "profiles_read_own" on public.profiles for select to authenticated using (id = auth.uid());
create policy "profiles_update_own" on public.profiles for update to authenticated using (id = auth.uid()) with check (id = auth.uid());
create or replace function public.handle_new_user()
returns trigger language plpgsql security definer set search_path = public as $$
begin
  insert into public.profiles (id, display_name, avatar_url)
  values (new.id, new.raw_user_meta_data ->> 'name', new.raw_user_meta_data ->> 'avatar_url')
  on conflict (id) do nothing;
  return new;
end;
$$;
drop trigger if exists on_auth_user_created on auth.users;
create trigger on_auth_user_created after insert on auth.users for each row execute function public.handle_new_user();
create or replace function public.set_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at = now();
  return new;
end;
$$;
create table if not exists public.listings (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  owner_id uuid not null references public.profiles(id) on delete cascade,
  title text not null,
  description text,
  price_cents int not null check (price_cents >= 0),
  status text not null default 'active' check (status in ('active', 'sold', 'archived'))
);
create trigger listings_set_updated_at before update on public.listings for each row execute function public.set_updated_at();
create table if not exists public.bids (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz default now(),
  listing_id uuid not null references public.listings(id) on delete cascade,
  bidder_id uuid not null references public.profiles(id) on delete cascade,
  amount_cents int not null check (amount_cents > 0)
);
create index if not exists bids_listing_idx on public.bids (listing_id);
create index if not exists bids_bidder_idx on public.bids (bidder_id);
create table if not exists public.orders (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz default now(),
  buyer_id uuid not null references public.profiles(id) on delete cascade,
  listing_id uuid not null references public.listings(id) on delete restrict,
  total_cents int not null check (total_cents >= 0),
  status text not null default 'created' check (status in ('created', 'paid', 'canceled', 'fulfilled'))
);
create index if not exists orders_buyer_idx on public.orders (buyer_id);
alter table public.listings enable row level security;
alter table public.bids enable row level security;
alter table public.orders enable row level security;
create policy "listings_read_public" on public.listings for select to anon, authenticated using (status = 'active');
create policy "listings_write_owner" on public.listings for all to authenticated using (owner_id = auth.uid()) with check (owner_id = auth.uid());
create policy "bids_read_own" on public.bids for select to authenticated using (bidder_id = auth.uid());
create policy "bids_insert_own" on public.bids for insert to authenticated with check (bidder_id = auth.uid());
create policy "orders_read_own" on public.orders for select to authenticated using (buyer_id = auth.uid());
create policy "orders_insert_own" on public.orders for insert to authenticated with check (buyer_id = auth.uid());
`;
