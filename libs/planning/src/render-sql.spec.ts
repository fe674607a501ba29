import { Plan, type PlanPolicy } from '@vibe/contracts';
import { chunkVibe } from './chunk.js';
import { expandPolicy, renderPolicy } from './policies.js';
import { allMigrations, InvalidPlanError, renderPlan, renderTable } from './render-sql.js';
import { planWithRules } from './rules-planner.js';
import { ident } from './sql.js';
import type { Template } from '@vibe/contracts';

const plan = (vibeText: string, template: Template = 'marketplace', enableAnalytics = false) =>
  planWithRules({
    vibeText,
    chunks: chunkVibe(vibeText),
    template,
    options: { enableAnalytics, enableDriftSentinel: false },
  });

const marketplace = plan('A marketplace where sellers list furniture and buyers bid and order.');
const table = (name: string) => marketplace.tables.find((t) => t.name === name)!;

describe('renderTable', () => {
  it('renders spec §9.2 bids with RLS on and every foreign key indexed', () => {
    expect(renderTable(table('bids'))).toBe(
      [
        'create table if not exists "public"."bids" (',
        '  "id" uuid primary key default gen_random_uuid(),',
        '  "created_at" timestamptz default now(),',
        '  "listing_id" uuid not null references "public"."listings"("id") on delete cascade,',
        '  "bidder_id" uuid not null references "public"."profiles"("id") on delete cascade,',
        '  "amount_cents" int not null check ("amount_cents" > 0)',
        ');',
        'alter table "public"."bids" enable row level security;',
        'create index if not exists "bids_listing_id_idx" on "public"."bids" ("listing_id");',
        'create index if not exists "bids_bidder_id_idx" on "public"."bids" ("bidder_id");',
      ].join('\n'),
    );
  });

  it('renders §9.2 defaults and checks from the closed vocabulary', () => {
    const sql = renderTable(table('listings'));
    expect(sql).toContain(`"status" text not null default 'active' check ("status" in ('active', 'sold', 'archived'))`);
    expect(sql).toContain('"price_cents" int not null check ("price_cents" >= 0)');
    expect(sql).toContain(
      'create trigger "listings_set_updated_at" before update on "public"."listings" for each row execute function public.set_updated_at();',
    );
  });
});

describe('expandPolicy', () => {
  it('renders an insert-own policy with a per-statement auth.uid()', () => {
    const [policy] = expandPolicy(marketplace.policies.find((p) => p.table === 'orders' && p.kind === 'owner_write')!);
    expect(renderPolicy(policy!)).toBe(
      [
        'drop policy if exists "orders_insert_own" on "public"."orders";',
        'create policy "orders_insert_own"',
        'on "public"."orders"',
        'as permissive',
        'for insert',
        'to authenticated',
        'with check ("buyer_id" = (select auth.uid()));',
      ].join('\n'),
    );
  });

  it('gives the marketplace the policies of spec §9.2, with listings_write_owner split per command', () => {
    const names = renderPlan(marketplace).policies.map((p) => `${p.table}.${p.name}:${p.command}:${p.roles.join('+')}`);
    expect(names).toEqual([
      'profiles.profiles_read_own:select:authenticated',
      'profiles.profiles_update_own:update:authenticated',
      'listings.listings_read_public:select:anon+authenticated',
      'listings.listings_insert_own:insert:authenticated',
      'listings.listings_update_own:update:authenticated',
      'listings.listings_delete_own:delete:authenticated',
      'bids.bids_read_own:select:authenticated',
      'bids.bids_insert_own:insert:authenticated',
      'orders.orders_read_own:select:authenticated',
      'orders.orders_insert_own:insert:authenticated',
    ]);
    const listingsRead = renderPlan(marketplace).policies.find((p) => p.name === 'listings_read_public')!;
    expect(listingsRead.using).toBe(`"status" = 'active' or "owner_id" = (select auth.uid())`);
  });

  it.each(plan('Teams with reviews, comments, photos, messages, favorites, tags and notifications', 'saas').policies)(
    'never lets anon write nor writes with an always-true predicate ($kind on $table)',
    (policy: PlanPolicy) => {
      for (const p of expandPolicy(policy)) {
        if (p.command !== 'select') {
          expect(p.roles).not.toContain('anon');
          expect([p.using, p.withCheck]).not.toContain('true');
          expect(p.using ?? p.withCheck).toMatch(/auth\.uid\(\)|is_org_(member|admin)/);
        }
      }
    },
  );
});

describe('ident', () => {
  it.each(['orders; drop table x', 'Orders', 'a"b', '', 'x'.repeat(64)])('refuses %j', (name) => {
    expect(() => ident(name)).toThrow(/invalid SQL identifier/);
  });
});

describe('renderPlan', () => {
  it('renders analytics views and demo rows only when analytics is on', () => {
    expect(renderPlan(marketplace).analytics).toEqual([]);
    const withAnalytics = renderPlan(plan('Sellers list, buyers order', 'marketplace', true));
    expect(withAnalytics.analytics.map((m) => m.name)).toEqual(['analytics_views', 'demo_seed']);
    expect(withAnalytics.analytics[0]!.query).toContain(
      'create or replace view "public"."analytics_orders_daily" with (security_invoker = true)',
    );
    expect(withAnalytics.analytics[1]!.query).toContain('on conflict (id) do nothing');
  });

  it('keeps security definer functions away from anon and authenticated', () => {
    const rendered = renderPlan(plan('Sellers list, buyers order', 'marketplace', true));
    expect(rendered.functions.query).toContain(
      'revoke all on function public.inspect_security_state() from public, anon, authenticated;',
    );
    expect(rendered.functions.query).not.toMatch(/grant execute on function [^;]+ to (anon|authenticated)/);
    expect(rendered.functions.query).toContain("c.relname in ('profiles', 'listings', 'bids', 'orders')");
  });

  it('adds the organization helpers only to plans with organization policies', () => {
    expect(renderPlan(marketplace).schema.map((m) => m.name)).not.toContain('organization_helpers');
    const saas = renderPlan(plan('A team workspace', 'saas'));
    expect(saas.schema.map((m) => m.name)).toContain('organization_helpers');
    expect(saas.schema.find((m) => m.name === 'organization_helpers')!.query).toContain(
      "security definer\nset search_path = ''",
    );
  });

  it('creates tables after the tables they reference, whatever order the plan lists them in', () => {
    const reversed = Plan.parse({ ...marketplace, tables: [...marketplace.tables].reverse() });
    const sql = renderPlan(reversed).schema.find((m) => m.name === 'schema_tables')!.query;
    const at = (name: string) => sql.indexOf(`create table if not exists "public"."${name}"`);
    expect(at('profiles')).toBeLessThan(at('listings'));
    expect(at('listings')).toBeLessThan(at('bids'));
    expect(at('listings')).toBeLessThan(at('orders'));
  });

  it('refuses an invalid plan, naming every problem', () => {
    const broken = Plan.parse({
      ...marketplace,
      policies: [
        ...marketplace.policies,
        { kind: 'owner_read', table: 'orders', ownerColumn: 'nobody', source: { chunk: null, reason: 'x' } },
        { kind: 'owner_read', table: 'ghosts', ownerColumn: 'id', source: { chunk: null, reason: 'x' } },
      ],
    });
    expect(() => renderPlan(broken)).toThrow(InvalidPlanError);
    expect(() => renderPlan(broken)).toThrow(/orders\.nobody is not planned.*ghosts, which is not planned/);
  });

  it('is deterministic', () => {
    const a = allMigrations(renderPlan(plan('Sellers upload photos; buyers leave reviews', 'marketplace', true)));
    const b = allMigrations(renderPlan(plan('Sellers upload photos; buyers leave reviews', 'marketplace', true)));
    expect(a).toEqual(b);
  });
});
