import type { AdvisorLint, Plan } from '@vibe/contracts';
import { expandPolicy, renderPolicy } from '@vibe/planning';
import { MARKETPLACE_VIBE, observedFromPlan, planFor, VIBE_CHUNK } from '../../test/factories.js';
import { diff, type DriftFinding } from './diff.js';
import { loadSqlParser } from './expression.js';
import { fingerprint } from './fingerprint.js';
import type { Observed, ObservedPolicy, ObservedTable } from './observed.js';

beforeAll(loadSqlParser);

/** given(plan).when(tamper).then(): the findings of a check of the tampered environment. */
function given(plan: Plan, options: { deferred?: string[] } = {}) {
  return {
    when(tamper: (observed: Observed) => void) {
      const observed = observedFromPlan(plan, options);
      tamper(observed);
      return { then: (): DriftFinding[] => diff(plan, observed, options) };
    },
  };
}

const untouched = () => undefined;

function table(observed: Observed, name: string): ObservedTable {
  const found = observed.snapshot.tables.find((t) => t.name === name);
  if (!found) throw new Error(`no table ${name}`);
  return found;
}

function policy(observed: Observed, tableName: string, name: string): ObservedPolicy {
  const found = observed.snapshot.policies.find((p) => p.table === tableName && p.name === name);
  if (!found) throw new Error(`no policy ${name}`);
  return found;
}

function lint(name: string, level: AdvisorLint['level'], metadata: Record<string, unknown>): AdvisorLint {
  return {
    name,
    title: name,
    level,
    facing: 'EXTERNAL',
    categories: ['SECURITY'],
    description: `${name} description`,
    detail: `${name} on ${String(metadata.name)}`,
    remediation: `https://supabase.com/docs/guides/database/database-linter?lint=${name}`,
    metadata,
  };
}

const summary = (findings: DriftFinding[]) => findings.map((f) => [f.type, f.severity, f.resource]);

const plan = planFor();
const tableSource = (name: string) => plan.tables.find((t) => t.name === name)!.source;

describe('diff(plan, observed)', () => {
  it('given an environment as the plan built it, then nothing drifted', () => {
    expect(given(plan).when(untouched).then()).toEqual([]);
    const rich = planFor(`${MARKETPLACE_VIBE} Sellers upload photos. Show daily sales analytics.`, 'marketplace', {
      enableAnalytics: true,
    });
    expect(rich.buckets.length).toBe(1);
    expect(given(rich).when(untouched).then()).toEqual([]);
  });

  it('given a SaaS plan, then the org helpers it grants to authenticated on purpose are not drift', () => {
    const saas = planFor('Teams manage projects in organizations.', 'saas');
    const findings = given(saas)
      .when((o) => {
        for (const object of ['is_org_member', 'is_org_admin']) {
          o.lints.push(
            lint('authenticated_security_definer_function_executable', 'WARN', {
              schema: 'private',
              name: object,
              type: 'function',
            }),
          );
        }
      })
      .then();
    expect(findings).toEqual([]);
  });

  describe('row level security', () => {
    it('when RLS is disabled on a table the API roles can reach, then a critical finding re-enables it', () => {
      const findings = given(plan)
        .when((o) => {
          table(o, 'bids').rlsEnabled = false;
          o.lints.push(
            lint('rls_disabled_in_public', 'ERROR', { schema: 'public', name: 'bids', type: 'table' }),
            lint('policy_exists_rls_disabled', 'ERROR', { schema: 'public', name: 'bids', type: 'table' }),
          );
        })
        .then();
      expect(summary(findings)).toEqual([['rls_disabled', 'critical', 'table:public.bids']]);
      expect(findings[0]!.recommendation).toBe('alter table "public"."bids" enable row level security;');
      expect(findings[0]!.lints).toEqual(['policy_exists_rls_disabled', 'rls_disabled_in_public']);
      expect(findings[0]!.source).toEqual(tableSource('bids'));
      expect(findings[0]!.source?.chunk).toBe(VIBE_CHUNK.bids);
    });

    it('when RLS is disabled but the API roles hold no privilege on the table, then it is high, not critical', () => {
      const findings = given(plan)
        .when((o) => {
          table(o, 'orders').rlsEnabled = false;
          table(o, 'orders').apiPrivileges = [];
        })
        .then();
      expect(summary(findings)).toEqual([['rls_disabled', 'high', 'table:public.orders']]);
    });
  });

  describe('policies', () => {
    const planned = (name: string) => plan.policies.flatMap(expandPolicy).find((p) => p.name === name)!;

    it('when a policy is dropped, then it is high and the recommendation creates it as planned', () => {
      const findings = given(plan)
        .when((o) => {
          o.snapshot.policies = o.snapshot.policies.filter((p) => p.name !== 'bids_read_own');
        })
        .then();
      expect(summary(findings)).toEqual([['policy_missing', 'high', 'policy:public.bids.bids_read_own']]);
      expect(findings[0]!.recommendation).toBe(renderPolicy(planned('bids_read_own')));
    });

    it('when a read policy is replaced by using (true), then it widens access: critical', () => {
      const findings = given(plan)
        .when((o) => {
          policy(o, 'orders', 'orders_read_own').using = 'true';
        })
        .then();
      expect(summary(findings)).toEqual([['policy_changed', 'critical', 'policy:public.orders.orders_read_own']]);
      expect(findings[0]!.summary).toMatch(/using \(true\) instead of/);
      expect(findings[0]!.recommendation).toBe(renderPolicy(planned('orders_read_own')));
    });

    it('when a write policy is opened to anon, or to every command, then it is critical', () => {
      const toAnon = given(plan)
        .when((o) => {
          policy(o, 'listings', 'listings_update_own').roles = ['anon', 'authenticated'];
        })
        .then();
      expect(summary(toAnon)).toEqual([['policy_changed', 'critical', 'policy:public.listings.listings_update_own']]);
      const toAll = given(plan)
        .when((o) => {
          policy(o, 'bids', 'bids_insert_own').command = 'all';
        })
        .then();
      expect(summary(toAll)).toEqual([['policy_changed', 'critical', 'policy:public.bids.bids_insert_own']]);
    });

    it('when a policy changes in a way that widens nothing provably, then it is high', () => {
      const findings = given(plan)
        .when((o) => {
          policy(o, 'bids', 'bids_read_own').using = '(listing_id = ( SELECT auth.uid() AS uid))';
        })
        .then();
      expect(summary(findings)).toEqual([['policy_changed', 'high', 'policy:public.bids.bids_read_own']]);
    });

    it('when a policy is spelled as Postgres stores it, then it is not a change', () => {
      const findings = given(plan)
        .when((o) => {
          const read = policy(o, 'listings', 'listings_read_public');
          read.using = "((status = 'active'::text) OR (owner_id = ( SELECT auth.uid() AS uid)))";
          read.roles = ['authenticated', 'anon'];
        })
        .then();
      expect(findings).toEqual([]);
    });

    it('when a permissive always-true policy is added, then it is critical and the fix drops it; a restrictive one is low', () => {
      const findings = given(plan)
        .when((o) => {
          o.snapshot.policies.push(
            {
              schema: 'public',
              table: 'orders',
              name: 'orders_everyone',
              permissive: true,
              command: 'select',
              roles: ['public'],
              using: 'true',
              withCheck: null,
            },
            {
              schema: 'public',
              table: 'bids',
              name: 'bids_only_positive',
              permissive: false,
              command: 'insert',
              roles: ['authenticated'],
              using: null,
              withCheck: '(amount_cents > 0)',
            },
          );
        })
        .then();
      expect(summary(findings)).toEqual([
        ['policy_added', 'critical', 'policy:public.orders.orders_everyone'],
        ['policy_added', 'low', 'policy:public.bids.bids_only_positive'],
      ]);
      expect(findings[0]!.recommendation).toBe('drop policy if exists "orders_everyone" on "public"."orders";');
    });

    it('when a write policy turns always true, then the rls_policy_always_true lint joins its finding', () => {
      const findings = given(plan)
        .when((o) => {
          const update = policy(o, 'listings', 'listings_update_own');
          update.using = 'true';
          update.withCheck = 'true';
          o.lints.push(
            lint('rls_policy_always_true', 'WARN', {
              schema: 'public',
              name: 'listings',
              type: 'table',
              policy_name: 'listings_update_own',
            }),
          );
        })
        .then();
      expect(summary(findings)).toEqual([['policy_changed', 'critical', 'policy:public.listings.listings_update_own']]);
      expect(findings[0]!.lints).toEqual(['rls_policy_always_true']);
    });

    it('when a bucket folder policy is dropped, then it is missing on storage.objects', () => {
      const withPhotos = planFor(`${MARKETPLACE_VIBE} Sellers upload photos of each item.`);
      const findings = given(withPhotos)
        .when((o) => {
          o.snapshot.policies = o.snapshot.policies.filter((p) => p.name !== 'listing_images_read_own');
        })
        .then();
      expect(summary(findings)).toEqual([['policy_missing', 'high', 'policy:storage.objects.listing_images_read_own']]);
      expect(findings[0]!.recommendation).toContain('create policy "listing_images_read_own"\non storage.objects');
    });
  });

  describe('schema', () => {
    it('when a column is added, then it is medium and the fix drops it', () => {
      const findings = given(plan)
        .when((o) => {
          table(o, 'listings').columns.push({ name: 'seller_email', type: 'text', notNull: false, default: null });
        })
        .then();
      expect(summary(findings)).toEqual([['column_added', 'medium', 'column:public.listings.seller_email']]);
      expect(findings[0]!.recommendation).toContain(
        'alter table "public"."listings" drop column if exists "seller_email";',
      );
    });

    it('when a column is dropped, then one finding adds it back with its check (not one per lost constraint)', () => {
      const findings = given(plan)
        .when((o) => {
          const bids = table(o, 'bids');
          bids.columns = bids.columns.filter((c) => c.name !== 'amount_cents');
          bids.constraints = bids.constraints.filter((c) => !c.columns.includes('amount_cents'));
        })
        .then();
      expect(summary(findings)).toEqual([['column_missing', 'medium', 'column:public.bids.amount_cents']]);
      expect(findings[0]!.recommendation).toBe(
        'alter table "public"."bids" add column if not exists "amount_cents" int not null check ("amount_cents" > 0);',
      );
    });

    it('when a foreign key column is dropped, then its index comes back with it', () => {
      const findings = given(plan)
        .when((o) => {
          const bids = table(o, 'bids');
          bids.columns = bids.columns.filter((c) => c.name !== 'listing_id');
          bids.constraints = bids.constraints.filter((c) => !c.columns.includes('listing_id'));
          bids.indexes = bids.indexes.filter((i) => !i.columns.includes('listing_id'));
        })
        .then();
      expect(summary(findings)).toEqual([['column_missing', 'medium', 'column:public.bids.listing_id']]);
      expect(findings[0]!.recommendation).toBe(
        'alter table "public"."bids" add column if not exists "listing_id" uuid not null references "public"."listings"("id") on delete cascade;\n' +
          'create index if not exists "bids_listing_id_idx" on "public"."bids" ("listing_id");',
      );
    });

    it('when a column changes type, nullability and default, then one finding restores all three', () => {
      const findings = given(plan)
        .when((o) => {
          const status = table(o, 'listings').columns.find((c) => c.name === 'status')!;
          Object.assign(status, { type: 'character varying(20)', notNull: false, default: "'sold'::text" });
        })
        .then();
      expect(summary(findings)).toEqual([['column_changed', 'medium', 'column:public.listings.status']]);
      expect(findings[0]!.recommendation.split('\n')).toEqual([
        'alter table "public"."listings" alter column "status" type text using "status"::text;',
        'alter table "public"."listings" alter column "status" set not null;',
        `alter table "public"."listings" alter column "status" set default 'active';`,
      ]);
    });

    it('when a table is dropped, then one finding recreates it with RLS, indexes and its policies', () => {
      const findings = given(plan)
        .when((o) => {
          o.snapshot.tables = o.snapshot.tables.filter((t) => t.name !== 'bids');
          o.snapshot.policies = o.snapshot.policies.filter((p) => p.table !== 'bids');
        })
        .then();
      expect(summary(findings)).toEqual([['table_missing', 'medium', 'table:public.bids']]);
      const sql = findings[0]!.recommendation;
      expect(sql).toContain('create table if not exists "public"."bids"');
      expect(sql).toContain('alter table "public"."bids" enable row level security;');
      expect(sql).toContain('create index if not exists "bids_bidder_id_idx"');
      expect(sql).toContain('create policy "bids_read_own"');
      expect(sql).toContain('create policy "bids_insert_own"');
    });

    it('when a table the plan lacks is added without RLS, then it is critical', () => {
      const findings = given(plan)
        .when((o) => {
          o.snapshot.tables.push({
            name: 'secrets',
            rlsEnabled: false,
            apiPrivileges: ['anon:select'],
            columns: [{ name: 'value', type: 'text', notNull: false, default: null }],
            constraints: [],
            indexes: [],
          });
          o.lints.push(lint('rls_disabled_in_public', 'ERROR', { schema: 'public', name: 'secrets', type: 'table' }));
        })
        .then();
      expect(summary(findings)).toEqual([['table_added', 'critical', 'table:public.secrets']]);
      expect(findings[0]!.lints).toEqual(['rls_disabled_in_public']);
      expect(findings[0]!.recommendation).toContain('drop table if exists "public"."secrets";');
    });

    it('when a check constraint is loosened, a foreign key changes and an index is dropped, then each is named', () => {
      const findings = given(plan)
        .when((o) => {
          const listings = table(o, 'listings');
          listings.constraints.find((c) => c.name === 'listings_price_cents_check')!.expression =
            '(price_cents >= -100)';
          const orders = table(o, 'orders');
          orders.constraints.find((c) => c.name === 'orders_listing_id_fkey')!.references!.onDelete = 'c';
          orders.indexes = orders.indexes.filter((i) => i.name !== 'orders_buyer_id_idx');
        })
        .then();
      expect(summary(findings)).toEqual([
        ['constraint_changed', 'medium', 'constraint:public.listings.listings_price_cents_check'],
        ['constraint_changed', 'medium', 'constraint:public.orders.orders_listing_id_fkey'],
        ['index_missing', 'low', 'index:public.orders.orders_buyer_id_idx'],
      ]);
      expect(findings[0]!.recommendation).toBe(
        'alter table "public"."listings" drop constraint if exists "listings_price_cents_check";\n' +
          'alter table "public"."listings" add constraint "listings_price_cents_check" check ("price_cents" >= 0);',
      );
      expect(findings[2]!.recommendation).toBe(
        'create index if not exists "orders_buyer_id_idx" on "public"."orders" ("buyer_id");',
      );
    });
  });

  it('when an index the plan lacks is added (an expression index too), then it is low and the fix drops it', () => {
    const findings = given(plan)
      .when((o) => {
        table(o, 'listings').indexes.push({
          name: 'listings_lower_title_idx',
          unique: false,
          constraint: false,
          columns: [''],
          partial: false,
          expressions: true,
          definition: 'CREATE INDEX listings_lower_title_idx ON public.listings USING btree (lower(title))',
        });
      })
      .then();
    expect(summary(findings)).toEqual([['index_added', 'low', 'index:public.listings.listings_lower_title_idx']]);
    expect(findings[0]!.recommendation).toBe('drop index if exists "public"."listings_lower_title_idx";');
  });

  describe('views', () => {
    it('when a security definer view over auth.users is added, then one critical finding carries both lints', () => {
      const findings = given(plan)
        .when((o) => {
          o.snapshot.views.push({
            name: 'user_directory',
            materialized: false,
            securityInvoker: false,
            apiSelect: ['anon', 'authenticated'],
            dependsOn: ['auth.users'],
          });
          o.lints.push(
            lint('security_definer_view', 'ERROR', { schema: 'public', name: 'user_directory', type: 'view' }),
            lint('auth_users_exposed', 'ERROR', { schema: 'public', name: 'user_directory', type: 'view' }),
          );
        })
        .then();
      expect(summary(findings)).toEqual([['view_added', 'critical', 'view:public.user_directory']]);
      expect(findings[0]!.lints).toEqual(['auth_users_exposed', 'security_definer_view']);
      expect(findings[0]!.recommendation).toContain('drop view if exists "public"."user_directory";');
      // The plan item about user accounts: the profiles table, which references auth.users.
      expect(findings[0]!.source).toEqual(tableSource('profiles'));
    });

    it('when the analytics view loses security_invoker, then it is critical and the fix recreates it', () => {
      const analytics = planFor(`${MARKETPLACE_VIBE} Show daily sales analytics.`, 'marketplace', {
        enableAnalytics: true,
      });
      const findings = given(analytics)
        .when((o) => {
          o.snapshot.views[0]!.securityInvoker = false;
        })
        .then();
      expect(summary(findings)).toEqual([['view_changed', 'critical', 'view:public.analytics_orders_daily']]);
      expect(findings[0]!.recommendation).toContain(
        'create or replace view "public"."analytics_orders_daily" with (security_invoker = true)',
      );
    });
  });

  describe('Edge Functions', () => {
    it('when a deployed Edge Function is gone, then it is low', () => {
      const findings = given(plan)
        .when((o) => {
          o.edgeFunctions = [];
        })
        .then();
      expect(summary(findings)).toEqual([['edge_function_missing', 'low', 'edge_function:drift_check']]);
      expect(findings[0]!.source).toEqual(plan.edgeFunctions[0]!.source);
    });

    it('when the build deferred the Edge Function, then its absence is not drift', () => {
      const deferred = ['Edge Function drift_check: deployment to a Deno runtime is not available yet'];
      const findings = given(plan, { deferred })
        .when((o) => {
          o.edgeFunctions = [];
        })
        .then();
      expect(findings).toEqual([]);
    });
  });

  describe('security lints', () => {
    it('when a lint no structural finding explains appears, then it is its own finding with a fix', () => {
      const findings = given(plan)
        .when((o) => {
          o.lints.push(
            lint('function_search_path_mutable', 'WARN', {
              schema: 'public',
              name: 'set_updated_at',
              type: 'function',
            }),
            lint('anon_security_definer_function_executable', 'WARN', {
              schema: 'public',
              name: 'inspect_security_state',
              type: 'function',
              arguments: '',
            }),
            lint('rls_enabled_no_policy', 'INFO', { schema: 'public', name: 'bids', type: 'table' }),
          );
        })
        .then();
      expect(summary(findings)).toEqual([
        ['security_lint', 'high', 'function:public.inspect_security_state'],
        ['security_lint', 'medium', 'function:public.set_updated_at'],
      ]);
      expect(findings[0]!.recommendation).toBe(
        'revoke execute on function "public"."inspect_security_state"() from public, anon;',
      );
      expect(findings[1]!.recommendation).toBe(`alter function "public"."set_updated_at" set search_path = '';`);
    });
  });

  describe('fingerprint', () => {
    const once = (using: string) =>
      given(plan)
        .when((o) => {
          policy(o, 'bids', 'bids_read_own').using = using;
        })
        .then()[0]!;

    it('is the same for the same drift, however it is spelled, and differs when the drift changes', () => {
      expect(fingerprint(once('true'))).toBe(fingerprint(once('(true)')));
      expect(fingerprint(once('true'))).not.toBe(fingerprint(once('(listing_id = ( SELECT auth.uid() AS uid))')));
    });
  });
});
