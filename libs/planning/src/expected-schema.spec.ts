import type { Plan, PlanColumn, Template } from '@vibe/contracts';
import { chunkVibe } from './chunk.js';
import { diffSchema, expectedCheck, expectedSchema, schemaFromCatalog, type SchemaShape } from './expected-schema.js';
import { InvalidPlanError } from './render-sql.js';
import { planWithRules } from './rules-planner.js';
import { column } from './vocabulary.js';

const given = (template: Template, vibeText: string): Plan =>
  planWithRules({
    vibeText,
    chunks: chunkVibe(vibeText),
    template,
    options: { enableAnalytics: true, enableDriftSentinel: false },
  });

const MARKETPLACE = given('marketplace', 'Sellers list furniture; buyers bid and order.');
const SAAS_FEATURES = given(
  'saas',
  'Teams share projects, attach files, rate and tag projects, comment, message each other and get notifications.',
);
const tableOf = (shape: SchemaShape, name: string) => shape.tables.find((t) => t.name === name)!;

describe('expectedSchema', () => {
  it('states spec §9.2 listings as the catalog prints them: types, nullability, defaults, keys, checks', () => {
    expect(tableOf(expectedSchema(MARKETPLACE), 'listings')).toEqual({
      name: 'listings',
      rlsEnabled: true,
      columns: [
        { name: 'id', type: 'uuid', nullable: false, default: 'gen_random_uuid()' },
        { name: 'created_at', type: 'timestamp with time zone', nullable: true, default: 'now()' },
        { name: 'updated_at', type: 'timestamp with time zone', nullable: true, default: 'now()' },
        { name: 'owner_id', type: 'uuid', nullable: false, default: null },
        { name: 'title', type: 'text', nullable: false, default: null },
        { name: 'description', type: 'text', nullable: true, default: null },
        { name: 'price_cents', type: 'integer', nullable: false, default: null },
        { name: 'status', type: 'text', nullable: false, default: "'active'::text" },
      ],
      constraints: [
        'CHECK ((price_cents >= 0))',
        "CHECK ((status = ANY (ARRAY['active'::text, 'sold'::text, 'archived'::text])))",
        'foreign key (owner_id) references public.profiles (id) on delete cascade',
        'primary key (id)',
      ],
      indexes: ['index listings_owner_id_idx (owner_id)'],
    });
  });

  it('has every planned table, sorted, with RLS, and the indexes the renderer makes', () => {
    const shape = expectedSchema(SAAS_FEATURES);
    expect(shape.tables.map((t) => t.name)).toEqual([...SAAS_FEATURES.tables.map((t) => t.name)].sort());
    expect(shape.tables.every((t) => t.rlsEnabled)).toBe(true);
    expect(tableOf(shape, 'memberships').indexes).toEqual([
      'index memberships_user_id_idx (user_id)',
      'unique index memberships_org_id_user_id_uidx (org_id, user_id)',
    ]);
    expect(tableOf(shape, 'profiles').constraints).toEqual([
      'foreign key (id) references auth.users (id) on delete cascade',
      'primary key (id)',
    ]);
    expect(tableOf(shape, 'organizations').columns.find((c) => c.name === 'created_by')).toEqual({
      name: 'created_by',
      type: 'uuid',
      nullable: false,
      default: 'auth.uid()',
    });
    expect(tableOf(shape, 'categories').constraints).toContain('unique (name)');
  });

  it('refuses a plan that cannot be rendered', () => {
    const broken: Plan = { ...MARKETPLACE, tables: [...MARKETPLACE.tables, MARKETPLACE.tables[1]!] };
    expect(() => expectedSchema(broken)).toThrow(InvalidPlanError);
  });
});

describe('expectedCheck', () => {
  const check = (c: PlanColumn) => expectedCheck({ ...c, check: c.check! });

  it.each<[string, PlanColumn, string]>([
    ['non_negative int', column('n', 'int', { check: { kind: 'non_negative' } }), 'CHECK ((n >= 0))'],
    ['positive bigint', column('n', 'bigint', { check: { kind: 'positive' } }), 'CHECK ((n > 0))'],
    [
      'non_negative numeric',
      column('n', 'numeric', { check: { kind: 'non_negative' } }),
      'CHECK ((n >= (0)::numeric))',
    ],
    [
      'between with a negative bound',
      column('n', 'int', { check: { kind: 'between', min: -5, max: 5 } }),
      "CHECK (((n >= '-5'::integer) AND (n <= 5)))",
    ],
    [
      'between on numeric past int4',
      column('n', 'numeric', { check: { kind: 'between', min: -5, max: 5_000_000_000 } }),
      "CHECK (((n >= ('-5'::integer)::numeric) AND (n <= ('5000000000'::bigint)::numeric)))",
    ],
    [
      'one_of with one value',
      column('s', 'text', { check: { kind: 'one_of', values: ['x'] } }),
      "CHECK ((s = 'x'::text))",
    ],
    [
      'one_of',
      column('s', 'text', { check: { kind: 'one_of', values: ['a', 'b c'] } }),
      "CHECK ((s = ANY (ARRAY['a'::text, 'b c'::text])))",
    ],
    ['max_length', column('s', 'text', { check: { kind: 'max_length', max: 80 } }), 'CHECK ((char_length(s) <= 80))'],
  ])('prints %s as Postgres stores it', (_name, c, printed) => {
    expect(check(c)).toBe(printed);
  });
});

describe('diffSchema', () => {
  const catalogRow = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    rls_enabled: true,
    columns: JSON.stringify([
      { name: 'id', type: 'uuid', nullable: false, default: null },
      { name: 'order', type: 'integer', nullable: true, default: '0' },
    ]),
    constraints: [
      { type: 'p', columns: ['id'], definition: 'PRIMARY KEY (id)' },
      { type: 'c', columns: ['order'], definition: 'CHECK (("order" >= 0))' },
      {
        type: 'f',
        columns: ['id'],
        definition: 'FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE',
        target_schema: 'auth',
        target_table: 'users',
        target_columns: ['id'],
        on_delete: 'c',
      },
    ],
    indexes: [
      { name: 't_order_idx', unique: false, columns: ['order'], plain: true, definition: 'CREATE INDEX …' },
      {
        name: 't_expr_idx',
        unique: false,
        columns: [],
        plain: false,
        definition: 'CREATE INDEX t_expr_idx ON public.t USING btree (lower(x))',
      },
    ],
    ...extra,
  });
  const planned: SchemaShape = {
    tables: [
      {
        name: 't',
        rlsEnabled: true,
        columns: [
          { name: 'id', type: 'uuid', nullable: false, default: null },
          { name: 'order', type: 'integer', nullable: true, default: '0' },
        ],
        constraints: [
          'CHECK ((order >= 0))',
          'foreign key (id) references auth.users (id) on delete cascade',
          'primary key (id)',
        ],
        indexes: ['index t_order_idx (order)'],
      },
    ],
  };

  it('reads the catalog’s rows, JSON or parsed, into the planned shape (quotes of keywords aside)', () => {
    const shape = schemaFromCatalog([catalogRow('t')]);
    expect(diffSchema(planned, shape)).toEqual([
      'index of public.t is not in the plan: CREATE INDEX t_expr_idx ON public.t USING btree (lower(x))',
    ]);
  });

  it('names every difference: RLS, a column, a constraint, an index, a table', () => {
    const shape = schemaFromCatalog([
      catalogRow('t', {
        rls_enabled: false,
        columns: [{ name: 'id', type: 'text', nullable: true, default: "'x'::text" }],
        constraints: [],
        indexes: [],
      }),
      catalogRow('u'),
    ]);
    expect(diffSchema(planned, shape)).toEqual([
      'table public.t does not have row level security enabled',
      'column public.t.id is text, planned uuid',
      'column public.t.id is nullable, planned not null',
      "column public.t.id defaults to 'x'::text, planned nothing",
      'column public.t.order is missing',
      'constraint of public.t is missing: CHECK ((order >= 0))',
      'constraint of public.t is missing: foreign key (id) references auth.users (id) on delete cascade',
      'constraint of public.t is missing: primary key (id)',
      'index of public.t is missing: index t_order_idx (order)',
      'table public.u is not in the plan',
    ]);
    expect(diffSchema(planned, { tables: [] })).toEqual(['table public.t is missing']);
  });

  it('finds nothing between a plan and itself', () => {
    expect(diffSchema(expectedSchema(SAAS_FEATURES), expectedSchema(SAAS_FEATURES))).toEqual([]);
  });
});
