import {
  AccessMatrixSpec,
  Plan,
  type AccessActor,
  type AccessMatrixSpec as Matrix,
  type FixtureRow,
  type Template,
} from '@vibe/contracts';
import { ACCESS_MATRIX_USERS, accessMatrix, plannedPolicies } from './access-matrix.js';
import { chunkVibe } from './chunk.js';
import { InvalidPlanError, renderPlan } from './render-sql.js';
import { planWithRules } from './rules-planner.js';

const given = (template: Template, vibeText: string, enableAnalytics = false): Plan =>
  planWithRules({
    vibeText,
    chunks: chunkVibe(vibeText),
    template,
    options: { enableAnalytics, enableDriftSentinel: false },
  });

const MARKETPLACE = given('marketplace', 'Sellers list furniture; buyers bid and order.');
const MARKETPLACE_FEATURES = given(
  'marketplace',
  'Sellers upload photos. Buyers review items, save favorites, message sellers and comment. Items have categories. Notify sellers. Show sales analytics.',
  true,
);
const SAAS_FEATURES = given(
  'saas',
  'Teams share projects, attach files, rate and tag projects, comment, message each other and get notifications. Admins see a dashboard.',
  true,
);

/**
 * The matrix as a grid: per subject and actor, the operations expected allowed (`s`elect, `i`nsert,
 * `u`pdate, `d`elete), `-` where denied.
 */
function grid(matrix: Matrix): Record<string, Record<AccessActor, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const cell of matrix.cells) {
    const row = (out[cell.subject] ??= {});
    const letters = row[cell.actor] ?? '';
    row[cell.actor] = letters + (cell.expected === 'allow' ? cell.operation[0] : '-');
  }
  return out;
}

/** The plan without listings' public read: a parent row its own owner cannot read. */
function unreadableListings(plan: Plan): Plan {
  return Plan.parse({
    ...plan,
    policies: plan.policies.filter((p) => !(p.table === 'listings' && p.kind === 'public_read')),
  });
}

const subject = (matrix: Matrix, name: string) => matrix.subjects.find((s) => s.name === name)!;
const ALL = 'siud';

describe('accessMatrix', () => {
  it('gives the marketplace the access of spec §9.2 for anon, the owner, another user and the service role', () => {
    expect(grid(accessMatrix(MARKETPLACE))).toEqual({
      'public.profiles': { anon: '----', owner: 's-u-', other: '----', service_role: ALL },
      'public.listings': { anon: 's---', owner: ALL, other: 's---', service_role: ALL },
      'public.bids': { anon: '----', owner: 'si--', other: '----', service_role: ALL },
      'public.orders': { anon: '----', owner: 'si--', other: '----', service_role: ALL },
    });
  });

  it('gives every feature table of the marketplace its owner-only writes, and the bucket its folder', () => {
    const matrix = accessMatrix(MARKETPLACE_FEATURES);
    expect(grid(matrix)).toMatchObject({
      'public.reviews': { anon: 's---', owner: ALL, other: 's---', service_role: ALL },
      'public.favorites': { anon: '----', owner: 'si-d', other: '----', service_role: ALL },
      'public.messages': { anon: '----', owner: 'siu-', other: '----', service_role: ALL },
      'public.categories': { anon: 's---', owner: 's---', other: 's---', service_role: ALL },
      'public.listing_categories': { anon: 's---', owner: 'si-d', other: 's---', service_role: ALL },
      'public.notifications': { anon: '----', owner: 's-u-', other: '----', service_role: ALL },
      'storage.objects (bucket listing-images)': { anon: '----', owner: ALL, other: '----', service_role: ALL },
    });
    expect(matrix.cells).toHaveLength(matrix.subjects.length * 16);
  });

  it('keeps a SaaS organization’s rows to its members: the owner (its admin) writes, another user sees nothing', () => {
    const matrix = accessMatrix(SAAS_FEATURES);
    expect(grid(matrix)).toEqual({
      'public.profiles': { anon: '----', owner: 's-u-', other: '----', service_role: ALL },
      'public.organizations': { anon: '----', owner: ALL, other: '----', service_role: ALL },
      'public.memberships': { anon: '----', owner: ALL, other: '----', service_role: ALL },
      'public.projects': { anon: '----', owner: ALL, other: '----', service_role: ALL },
      'public.reviews': { anon: '----', owner: ALL, other: '----', service_role: ALL },
      'public.comments': { anon: '----', owner: ALL, other: '----', service_role: ALL },
      'public.messages': { anon: '----', owner: 'siu-', other: '----', service_role: ALL },
      'public.categories': { anon: 's---', owner: 's---', other: 's---', service_role: ALL },
      'public.project_categories': { anon: '----', owner: 'si-d', other: '----', service_role: ALL },
      'public.notifications': { anon: '----', owner: 's-u-', other: '----', service_role: ALL },
      'storage.objects (bucket project-files)': { anon: '----', owner: ALL, other: '----', service_role: ALL },
    });
  });

  it('makes the owner an owner of the organization: before an org-scoped row, after the organization itself', () => {
    const matrix = accessMatrix(SAAS_FEATURES);
    const isOwnerMembership = (row: FixtureRow) =>
      row.table === 'memberships' && row.values.user_id === ACCESS_MATRIX_USERS.owner && row.values.role === 'owner';
    expect(subject(matrix, 'public.projects').setup.filter(isOwnerMembership)).toHaveLength(1);
    expect(subject(matrix, 'public.organizations').setup.some(isOwnerMembership)).toBe(false);
    expect(subject(matrix, 'public.organizations').after.filter(isOwnerMembership)).toHaveLength(1);
    // The membership under test is another member's, so the owner's own membership does not collide with it.
    expect(subject(matrix, 'public.memberships').row.values.user_id).toBe(ACCESS_MATRIX_USERS.bystander);
  });

  it.each([
    ['marketplace', MARKETPLACE],
    ['marketplace with features', MARKETPLACE_FEATURES],
    ['saas with features', SAAS_FEATURES],
  ])('gives the %s fixtures that satisfy the schema: parents first, every required column, every check', (_n, plan) => {
    const matrix = accessMatrix(plan);
    for (const s of matrix.subjects.filter((x) => x.row.schema === 'public')) {
      const table = plan.tables.find((t) => t.name === s.row.table)!;
      const inserted = [...s.setup];
      for (const column of table.columns) {
        const value = s.row.values[column.name];
        if (!column.nullable && column.default === null)
          expect([s.name, column.name, value]).not.toContainEqual(undefined);
        if (value === undefined || value === null) continue;
        const check = column.check;
        if (check?.kind === 'one_of') expect(check.values).toContain(value);
        if (check?.kind === 'max_length') expect(String(value).length).toBeLessThanOrEqual(check.max);
        if (check?.kind === 'positive') expect(value).toBeGreaterThan(0);
        if (check?.kind === 'non_negative') expect(value).toBeGreaterThanOrEqual(0);
        const ref = column.references;
        if (ref) {
          // The row it points at is inserted before it.
          const parent = inserted.find(
            (row) => row.schema === ref.schema && row.table === ref.table && row.values[ref.column] === value,
          );
          expect([s.name, column.name, parent !== undefined]).toEqual([s.name, column.name, true]);
        }
      }
      // Users first, then rows in an order where parents precede children.
      expect(s.setup.slice(0, 3).map((row) => `${row.schema}.${row.table}`)).toEqual(Array(3).fill('auth.users'));
      s.setup.forEach((row, i) => {
        const rowTable = plan.tables.find((t) => t.name === row.table);
        for (const column of rowTable?.columns ?? []) {
          const ref = column.references;
          const value = row.values[column.name];
          if (!ref || typeof value !== 'string' || row.values.id === value) continue;
          const before = s.setup.slice(0, i);
          expect(before.some((p) => p.table === ref.table && p.values[ref.column] === value)).toBe(true);
        }
      });
    }
  });

  it('fills a public filter with the value that makes the row public', () => {
    expect(subject(accessMatrix(MARKETPLACE), 'public.listings').row.values.status).toBe('active');
  });

  it('updates a column no policy, key or trigger depends on, with a value its check accepts', () => {
    const matrix = accessMatrix(SAAS_FEATURES);
    for (const s of matrix.subjects.filter((x) => x.row.schema === 'public')) {
      expect(s.update).toEqual({ column: 'created_at', value: '2001-02-03T04:05:06.000Z' });
    }
    const without = (...names: string[]) =>
      Plan.parse({
        ...MARKETPLACE,
        tables: MARKETPLACE.tables.map((t) =>
          t.name === 'orders' ? { ...t, columns: t.columns.filter((c) => !names.includes(c.name)) } : t,
        ),
      });
    // Without created_at: the next column that may change, to a value its check accepts.
    expect(subject(accessMatrix(without('created_at')), 'public.orders').update).toEqual({
      column: 'total_cents',
      value: 2,
    });
    // A status left to its default ('created') changes to another allowed value, not to the default itself.
    expect(subject(accessMatrix(without('created_at', 'total_cents')), 'public.orders').update).toEqual({
      column: 'status',
      value: 'paid',
    });
  });

  it('says why a cell is expected: the policy that allows it, or that none does', () => {
    const cells = accessMatrix(MARKETPLACE).cells;
    const reason = (actor: AccessActor, operation: string, table: string) =>
      cells.find((c) => c.actor === actor && c.operation === operation && c.subject === `public.${table}`)!.reason;
    expect(reason('anon', 'select', 'listings')).toBe('policy listings_read_public');
    expect(reason('owner', 'insert', 'orders')).toBe('policy orders_insert_own');
    expect(reason('other', 'insert', 'orders')).toBe(
      'no insert policy for authenticated admits the row (orders_insert_own)',
    );
    expect(reason('anon', 'insert', 'orders')).toBe('no insert policy for anon');
    expect(reason('service_role', 'delete', 'orders')).toBe('the service role bypasses RLS');
  });

  it('follows a parent-owner policy to its parent, which the caller must also be able to read', () => {
    // Given listings that nobody may read (their public read removed)…
    const plan = unreadableListings(MARKETPLACE_FEATURES);
    const matrix = grid(accessMatrix(plan));
    // …their owner still writes them (an unfiltered update or delete needs no read), but no longer links them
    // to categories: the link policy's sub-select runs under the owner's RLS and finds no listing.
    expect(matrix['public.listings']).toEqual({ anon: '----', owner: '-iud', other: '----', service_role: ALL });
    expect(matrix['public.listing_categories']).toEqual({
      anon: 's---',
      owner: 's---',
      other: 's---',
      service_role: ALL,
    });
  });

  it('fits its contract, and is the same for the same plan', () => {
    const matrix = accessMatrix(SAAS_FEATURES);
    expect(AccessMatrixSpec.parse(matrix)).toEqual(matrix);
    expect(accessMatrix(SAAS_FEATURES)).toEqual(matrix);
    expect(matrix.users).toEqual({ owner: ACCESS_MATRIX_USERS.owner, other: ACCESS_MATRIX_USERS.other });
  });

  it('refuses a plan that cannot be rendered', () => {
    const broken = Plan.parse({
      ...MARKETPLACE,
      policies: [
        ...MARKETPLACE.policies,
        { kind: 'owner_read', table: 'nowhere', ownerColumn: 'x', source: { chunk: null, reason: '' } },
      ],
    });
    expect(() => accessMatrix(broken)).toThrow(InvalidPlanError);
  });
});

describe('plannedPolicies', () => {
  it('is every policy the renderer writes: the tables’ and the buckets’ folder policies', () => {
    const planned = plannedPolicies(MARKETPLACE_FEATURES);
    expect(planned.filter((p) => p.schema === 'public').map(({ schema: _, ...p }) => p)).toEqual(
      renderPlan(MARKETPLACE_FEATURES).policies,
    );
    expect(planned.filter((p) => p.schema === 'storage').map((p) => `${p.table}.${p.name}:${p.command}`)).toEqual([
      'objects.listing_images_read_own:select',
      'objects.listing_images_insert_own:insert',
      'objects.listing_images_update_own:update',
      'objects.listing_images_delete_own:delete',
    ]);
  });
});
