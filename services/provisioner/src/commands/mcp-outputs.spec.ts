import { PermanentFailure } from '../drivers/driver.js';
import { columnType, toApplied, toLints, toPublishableKeys, toTables } from './mcp-outputs.js';

describe('reading the official output formats', () => {
  it('names column types as information_schema does, arrays and user-defined types by their format', () => {
    expect(columnType({ data_type: 'character varying', format: 'varchar' })).toBe('character varying');
    expect(columnType({ data_type: 'ARRAY', format: '_text' })).toBe('text[]');
    expect(columnType({ data_type: 'USER-DEFINED', format: 'order_status' })).toBe('order_status');
  });

  it('splits list_tables names into schema and table, a dot in the table name included', () => {
    const value = {
      tables: [
        {
          name: 'public.odd.name',
          rls_enabled: false,
          rows: 0,
          columns: [{ name: 'id', data_type: 'integer', format: 'int4', options: ['updatable'] }],
        },
        { name: 'auth.users', rls_enabled: true, rows: 3 },
      ],
    };
    expect(toTables(value, ['public', 'auth'])).toEqual([
      {
        schema: 'public',
        name: 'odd.name',
        rlsEnabled: false,
        columns: [{ name: 'id', dataType: 'integer', nullable: false }],
      },
      { schema: 'auth', name: 'users', rlsEnabled: true, columns: [] },
    ]);
  });

  it('reads apply_migration from either server: ours says when a name was applied before', () => {
    expect(toApplied({ success: true })).toBe(true);
    expect(toApplied({ success: true, applied: false })).toBe(false);
  });

  it('flattens grouped lints into one per finding, and reads flat ones too', () => {
    const shared = {
      name: 'rls_disabled_in_public',
      title: 'RLS Disabled in Public',
      level: 'ERROR',
      facing: 'EXTERNAL',
      categories: ['SECURITY'],
      description: 'd',
      remediation: 'r',
    };
    const grouped = {
      result: {
        lints: [
          {
            ...shared,
            count: 2,
            findings: [
              { detail: 'a', metadata: { name: 'a' } },
              { detail: 'b', metadata: { name: 'b' } },
            ],
          },
          {
            ...shared,
            name: 'rls_enabled_no_policy',
            level: 'INFO',
            detail: 'c',
            metadata: { name: 'c' },
            cache_key: 'k',
          },
        ],
      },
    };
    expect(toLints(grouped).map((lint) => [lint.name, lint.level, lint.detail, lint.metadata.name])).toEqual([
      ['rls_disabled_in_public', 'ERROR', 'a', 'a'],
      ['rls_disabled_in_public', 'ERROR', 'b', 'b'],
      ['rls_enabled_no_policy', 'INFO', 'c', 'c'],
    ]);
  });

  it('reads publishable keys, enabled unless said otherwise', () => {
    expect(toPublishableKeys({ keys: [{ api_key: 'eyJ.x.y', name: 'anon', type: 'legacy' }] })).toEqual([
      { apiKey: 'eyJ.x.y', name: 'anon', type: 'legacy', disabled: false },
    ]);
  });

  it('refuses an answer in another format with a failure that says which tool', () => {
    expect(() => toTables({ rows: [] }, ['public'])).toThrow(PermanentFailure);
    expect(() => toTables({ rows: [] }, ['public'])).toThrow(/list_tables answered in an unexpected format/);
  });
});
