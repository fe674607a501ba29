import { compile, describeDatabase } from '../../../../../test/support/typescript.js';
import { renderTypescriptTypes, type TypesCatalog } from './typescript-types.js';

type Catalog = TypesCatalog;
type Column = Catalog['relations'][number]['columns'][number];

const pg = (name: string, array = false) => ({
  name,
  schema: 'pg_catalog',
  kind: 'b',
  array,
  labels: [],
  relation: null,
});
const column = (name: string, type: Column['type'], options: Partial<Column> = {}): Column => ({
  name,
  type,
  nullable: false,
  hasDefault: false,
  identity: null,
  generated: false,
  updatable: true,
  ...options,
});
const status = {
  name: 'listing_status',
  schema: 'public',
  kind: 'e',
  array: false,
  labels: ['active', 'sold'],
  relation: null,
};

/** Given a catalog like the marketplace's, with the corners: enums, arrays, identity, generated, views, functions. */
function marketplaceCatalog(): Catalog {
  return {
    schemas: ['public'],
    relations: [
      {
        schema: 'public',
        name: 'listings',
        kind: 'r',
        updatable: false,
        columns: [
          column('id', pg('uuid'), { hasDefault: true }),
          column('owner_id', pg('uuid')),
          column('title', pg('text')),
          column('description', pg('text'), { nullable: true }),
          column('price_cents', pg('int4')),
          column('status', status, { hasDefault: true }),
          column('tags', pg('text', true), { nullable: true }),
          column('meta', pg('jsonb'), { nullable: true }),
          column('seq', pg('int8'), { identity: 'a' }),
          column('title_lower', pg('text'), { nullable: true, generated: true, hasDefault: true }),
          column('weird name', pg('bool'), { hasDefault: true }),
        ],
      },
      {
        schema: 'public',
        name: 'bids',
        kind: 'r',
        updatable: false,
        columns: [
          column('id', pg('int8'), { identity: 'd' }),
          column('listing_id', pg('uuid')),
          column('amount_cents', pg('int4')),
        ],
      },
      {
        schema: 'public',
        name: 'daily_sales',
        kind: 'v',
        updatable: false,
        columns: [
          column('day', pg('timestamptz'), { nullable: true, updatable: false }),
          column('orders', pg('int8'), { nullable: true, updatable: false }),
        ],
      },
    ],
    relationships: [
      {
        name: 'bids_listing_id_fkey',
        schema: 'public',
        relation: 'bids',
        columns: ['listing_id'],
        referencedSchema: 'public',
        referencedRelation: 'listings',
        referencedColumns: ['id'],
        oneToOne: false,
      },
      {
        name: 'listings_owner_id_fkey',
        schema: 'public',
        relation: 'listings',
        columns: ['owner_id'],
        referencedSchema: 'auth',
        referencedRelation: 'users',
        referencedColumns: ['id'],
        oneToOne: false,
      },
    ],
    enums: [{ schema: 'public', name: 'listing_status', labels: ['active', 'sold'] }],
    compositeTypes: [
      {
        schema: 'public',
        name: 'money_amount',
        attributes: [column('cents', pg('int4')), column('currency', pg('text'))],
      },
    ],
    functions: [
      {
        schema: 'public',
        name: 'run_analytics_query',
        args: [],
        defaults: 0,
        returns: pg('jsonb'),
        returnsSet: false,
      },
      {
        schema: 'public',
        name: 'listings_by_status',
        args: [
          { mode: 'i', name: 'wanted', type: status },
          { mode: 'i', name: 'max_rows', type: pg('int4') },
        ],
        defaults: 1,
        returns: { name: 'listings', schema: 'public', kind: 'c', array: false, labels: [], relation: 'r' },
        returnsSet: true,
      },
      {
        schema: 'public',
        name: 'top_bids',
        args: [
          { mode: 'i', name: 'n', type: pg('int4') },
          { mode: 't', name: 'listing_id', type: pg('uuid') },
          { mode: 't', name: 'best', type: pg('int4') },
        ],
        defaults: 0,
        returns: pg('record'),
        returnsSet: true,
      },
      {
        // Two unnamed arguments: PostgREST cannot call it, so it is left out.
        schema: 'public',
        name: 'add',
        args: [
          { mode: 'i', name: '', type: pg('int4') },
          { mode: 'i', name: '', type: pg('int4') },
        ],
        defaults: 0,
        returns: pg('int4'),
        returnsSet: false,
      },
    ],
  };
}

describe('generate_typescript_types: the catalog rendered as supabase gen types writes it', () => {
  const types = renderTypescriptTypes(marketplaceCatalog());

  it('declares Json, Database with the schema sections, and the helper types', () => {
    expect(types).toMatch(/^export type Json =\n {2}\| string\n/);
    expect(types).toContain('export type Database = {\n  public: {\n    Tables: {');
    for (const section of ['Views', 'Functions', 'Enums', 'CompositeTypes'])
      expect(types).toContain(`    ${section}: {`);
    for (const helper of ['Tables', 'TablesInsert', 'TablesUpdate', 'Enums', 'CompositeTypes']) {
      expect(types).toContain(`export type ${helper}<`);
    }
    expect(types).toContain(
      'export const Constants = {\n  public: {\n    Enums: {\n      listing_status: ["active", "sold"]',
    );
  });

  it('types columns, nullability, defaults, identity and generated columns as the generator does', () => {
    const db = describeDatabase(types);
    expect(db.errors).toEqual([]);
    expect(db.tables.listings).toEqual({
      row: [
        'description',
        'id',
        'meta',
        'owner_id',
        'price_cents',
        'seq',
        'status',
        'tags',
        'title',
        'title_lower',
        'weird name',
      ],
      insertRequired: ['owner_id', 'price_cents', 'title'],
      insertNever: ['seq', 'title_lower'],
    });
    // An identity "by default" may be given; one "always" may not.
    expect(db.tables.bids).toEqual({
      row: ['amount_cents', 'id', 'listing_id'],
      insertRequired: ['amount_cents', 'listing_id'],
      insertNever: [],
    });
    expect(db.views).toEqual({ daily_sales: { row: ['day', 'orders'] } });
    expect(db.functions).toEqual(['listings_by_status', 'run_analytics_query', 'top_bids']);
    expect(db.enums).toEqual({ listing_status: ['active', 'sold'] });
    expect(types).toContain('tags: string[] | null');
    expect(types).toContain('meta: Json | null');
    expect(types).toContain('status: Database["public"]["Enums"]["listing_status"]');
    expect(types).toContain('"weird name"?: boolean');
  });

  it('lists foreign keys within the schema as Relationships, not those to other schemas', () => {
    expect(types).toContain(
      [
        '        Relationships: [',
        '          {',
        '            foreignKeyName: "bids_listing_id_fkey"',
        '            columns: ["listing_id"]',
        '            isOneToOne: false',
        '            referencedRelation: "listings"',
        '            referencedColumns: ["id"]',
        '          },',
        '        ]',
      ].join('\n'),
    );
    expect(types).not.toContain('listings_owner_id_fkey');
  });

  it('is what supabase-js types a client with: wrong columns and missing required ones do not compile', () => {
    const usage = `
import { createClient } from '@supabase/supabase-js';
import type { Database, Tables, TablesInsert, TablesUpdate, Enums } from './database.types';

const supabase = createClient<Database>('http://127.0.0.1:54321/env/x', 'anon-key');

export async function use(): Promise<void> {
  const { data } = await supabase.from('listings').select('id, title, price_cents').eq('status', 'active');
  const first: { id: string; title: string; price_cents: number } | undefined = data?.[0];
  void first;
  const listing: TablesInsert<'listings'> = { owner_id: 'u', title: 'Chair', price_cents: 100 };
  await supabase.from('listings').insert(listing);
  // @ts-expect-error price_cents is required
  const missing: TablesInsert<'listings'> = { owner_id: 'u', title: 'Chair' };
  // @ts-expect-error seq is generated always
  const identity: TablesInsert<'listings'> = { owner_id: 'u', title: 'Chair', price_cents: 1, seq: 5 };
  // @ts-expect-error no such column
  const unknown: TablesUpdate<'bids'> = { colour: 'red' };
  const row: Tables<'daily_sales'> = { day: null, orders: 3 };
  const state: Enums<'listing_status'> = 'sold';
  // @ts-expect-error not a label
  const wrong: Enums<'listing_status'> = 'gone';
  const { data: rows } = await supabase.rpc('listings_by_status', { wanted: 'active' });
  const titles: string[] = (rows ?? []).map((r) => r.title);
  const { data: best } = await supabase.rpc('top_bids', { n: 3 });
  const amounts: number[] = (best ?? []).map((b) => b.best);
  void [missing, identity, unknown, row, state, wrong, titles, amounts];
}
`;
    expect(compile({ 'database.types.ts': types, 'use.ts': usage }).errors).toEqual([]);
    // The check can fail: a types file without listings does not compile with the same usage.
    const without = renderTypescriptTypes({
      ...marketplaceCatalog(),
      relations: marketplaceCatalog().relations.filter((r) => r.name !== 'listings'),
    });
    expect(compile({ 'database.types.ts': without, 'use.ts': usage }).errors.length).toBeGreaterThan(0);
  });

  it('renders an empty schema as the generator does', () => {
    const empty = renderTypescriptTypes({
      schemas: ['public'],
      relations: [],
      relationships: [],
      enums: [],
      compositeTypes: [],
      functions: [],
    });
    expect(empty).toContain('    Tables: {\n      [_ in never]: never\n    }');
    expect(compile({ 'database.types.ts': empty }).errors).toEqual([]);
  });
});
