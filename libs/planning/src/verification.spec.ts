import type { AccessCellResult, AdvisorLint, LivePolicy, NormalizedPolicy, PlannedPolicy } from '@vibe/contracts';
import { BuildVerification } from '@vibe/contracts';
import type { SchemaShape } from './expected-schema.js';
import { comparePolicies, verificationFailureMessage, verificationReport } from './verification.js';

const planned: PlannedPolicy[] = [
  {
    schema: 'public',
    table: 'orders',
    name: 'orders_read_own',
    command: 'select',
    roles: ['authenticated'],
    using: '"buyer_id" = (select auth.uid())',
    withCheck: null,
  },
  {
    schema: 'public',
    table: 'orders',
    name: 'orders_insert_own',
    command: 'insert',
    roles: ['authenticated'],
    using: null,
    withCheck: '"buyer_id" = (select auth.uid())',
  },
];
const printed = '(buyer_id = ( SELECT auth.uid() AS uid))';
const normalized: NormalizedPolicy[] = [
  { schema: 'public', table: 'orders', name: 'orders_read_own', using: printed, withCheck: null },
  { schema: 'public', table: 'orders', name: 'orders_insert_own', using: null, withCheck: printed },
];
const live = (overrides: Partial<LivePolicy> & { name: string }): LivePolicy => ({
  schema: 'public',
  table: 'orders',
  command: 'select',
  roles: ['authenticated'],
  permissive: true,
  using: printed,
  withCheck: null,
  ...overrides,
});
const asPlanned = [
  live({ name: 'orders_read_own' }),
  live({ name: 'orders_insert_own', command: 'insert', using: null, withCheck: printed }),
];

describe('comparePolicies', () => {
  it('finds the planned policies as planned when the catalog prints them as it printed the plan’s', () => {
    expect(comparePolicies(planned, normalized, asPlanned).map((c) => c.status)).toEqual(['as_planned', 'as_planned']);
  });

  it('names a missing, a changed and an unplanned policy', () => {
    const checks = comparePolicies(planned, normalized, [
      live({ name: 'orders_read_own', roles: ['anon', 'authenticated'], using: 'true' }),
      live({ name: 'orders_update_any', command: 'update', using: 'true', withCheck: 'true' }),
    ]);
    expect(checks).toEqual([
      {
        table: 'public.orders',
        name: 'orders_read_own',
        status: 'different',
        detail: `roles anon, authenticated, planned authenticated; using true, planned ${printed}`,
      },
      { table: 'public.orders', name: 'orders_insert_own', status: 'missing', detail: null },
      {
        table: 'public.orders',
        name: 'orders_update_any',
        status: 'unexpected',
        detail: 'permissive update to authenticated using true with check true',
      },
    ]);
  });

  it('says so when a planned policy could not be made to print it', () => {
    const [check] = comparePolicies(
      planned.slice(0, 1),
      [{ ...normalized[0]!, using: null, error: 'function private.is_org_member(uuid) does not exist' }],
      asPlanned.slice(0, 1),
    );
    expect(check).toMatchObject({ status: 'different', detail: expect.stringContaining('is_org_member') });
  });
});

describe('verificationReport', () => {
  const shape: SchemaShape = {
    tables: [{ name: 'orders', rlsEnabled: true, columns: [], constraints: [], indexes: [] }],
  };
  const cell = (overrides: Partial<AccessCellResult>): AccessCellResult => ({
    subject: 'public.orders',
    actor: 'other',
    operation: 'select',
    expected: 'deny',
    reason: 'no select policy',
    actual: 'deny',
    detail: null,
    ...overrides,
  });
  const lint = (name: string, level: AdvisorLint['level']): AdvisorLint => ({
    name,
    title: name,
    level,
    facing: 'EXTERNAL',
    categories: ['SECURITY'],
    description: '',
    detail: `${name} found`,
    remediation: '',
    metadata: { schema: 'public', name: 'orders', type: 'table' },
  });
  const input = {
    expectedSchema: shape,
    actualSchema: shape,
    planned,
    policies: { live: asPlanned, planned: normalized },
    cells: [cell({}), cell({ actor: 'owner', expected: 'allow', actual: 'allow' })],
    lints: [lint('rls_enabled_no_policy', 'INFO'), lint('function_search_path_mutable', 'WARN')],
    durationMs: 12,
  };

  it('passes when the schema, the policies and every cell are as planned and no lint is an ERROR', () => {
    const report = verificationReport(input);
    expect(BuildVerification.parse(report)).toEqual(report);
    expect(report).toMatchObject({
      passed: true,
      failures: [],
      rls: [{ table: 'public.orders', enabled: true }],
      matrix: { failed: [] },
      lints: { errors: [], warnings: [{ name: 'function_search_path_mutable', object: 'public.orders' }], info: 1 },
    });
  });

  it('fails on a surprising cell, an ERROR lint, a policy or a schema difference, naming each, cells first', () => {
    const report = verificationReport({
      ...input,
      actualSchema: { tables: [{ ...shape.tables[0]!, rlsEnabled: false }] },
      policies: { live: asPlanned.slice(0, 1), planned: normalized },
      cells: [
        cell({ operation: 'update', actual: 'allow' }),
        cell({ actor: 'owner', operation: 'insert', expected: 'allow', actual: 'error', detail: 'SQLSTATE 23503' }),
      ],
      lints: [...input.lints, lint('rls_disabled_in_public', 'ERROR')],
    });
    expect(report.passed).toBe(false);
    expect(report.matrix.failed).toEqual(['other update public.orders', 'owner insert public.orders']);
    expect(report.failures).toEqual([
      'cell other update public.orders: expected deny, got allow',
      'cell owner insert public.orders: expected allow, got error (SQLSTATE 23503)',
      'ERROR lint rls_disabled_in_public on public.orders',
      'policy orders_insert_own on public.orders is missing',
      'schema: table public.orders does not have row level security enabled',
    ]);
    expect(verificationFailureMessage(report, 2)).toBe(
      'the environment failed verification (5 failure(s)): cell other update public.orders: expected deny, got allow; ' +
        'cell owner insert public.orders: expected allow, got error (SQLSTATE 23503); and 3 more',
    );
  });
});
