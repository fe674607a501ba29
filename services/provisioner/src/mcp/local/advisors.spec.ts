import { advisorsQuery, groupLints, LINTS, toLintRows } from './advisors.js';

const row = (lint: string, name: string) => ({
  lint,
  detail: `about ${name}`,
  metadata: { schema: 'public', name, type: 'table' },
  cache_key: `${lint}_public_${name}`,
});

describe('the advisor’s lints', () => {
  it('are named and levelled as Supabase’s security advisor names them', () => {
    const security = Object.fromEntries(LINTS.filter((l) => l.type === 'security').map((l) => [l.name, l.level]));
    expect(security).toMatchObject({
      rls_disabled_in_public: 'ERROR',
      policy_exists_rls_disabled: 'ERROR',
      rls_enabled_no_policy: 'INFO',
      security_definer_view: 'ERROR',
      function_search_path_mutable: 'WARN',
      auth_users_exposed: 'ERROR',
      rls_policy_always_true: 'WARN',
      anon_security_definer_function_executable: 'WARN',
      authenticated_security_definer_function_executable: 'WARN',
    });
    const performance = LINTS.filter((l) => l.type === 'performance').map((l) => l.name);
    expect(performance).toEqual(
      expect.arrayContaining(['auth_rls_initplan', 'unindexed_foreign_keys', 'multiple_permissive_policies']),
    );
    expect(new Set(LINTS.map((l) => l.name)).size).toBe(LINTS.length);
  });

  it('are queried by type, one union', () => {
    const query = advisorsQuery('performance');
    expect(query).toContain("'auth_rls_initplan' as lint");
    expect(query).not.toContain("'rls_disabled_in_public' as lint");
  });
});

describe('toLintRows', () => {
  it('gives a finding its lint’s fixed fields and a remediation link', () => {
    expect(toLintRows([row('rls_disabled_in_public', 'a')])).toEqual([
      {
        name: 'rls_disabled_in_public',
        title: 'RLS Disabled in Public',
        level: 'ERROR',
        facing: 'EXTERNAL',
        categories: ['SECURITY'],
        description: expect.any(String),
        detail: 'about a',
        remediation: 'https://supabase.com/docs/guides/database/database-linter?lint=0013_rls_disabled_in_public',
        metadata: { schema: 'public', name: 'a', type: 'table' },
        cache_key: 'rls_disabled_in_public_public_a',
      },
    ]);
  });

  it('refuses a row of an unknown lint', () => {
    expect(() => toLintRows([row('made_up', 'a')])).toThrow(/unknown lint made_up/);
  });
});

describe('groupLints', () => {
  it('groups findings under their lint, as the official server does, dropping cache keys', () => {
    const groups = groupLints(
      toLintRows([
        row('rls_disabled_in_public', 'a'),
        row('rls_enabled_no_policy', 'c'),
        row('rls_disabled_in_public', 'b'),
      ]),
    );
    expect(groups.map((g) => [g.name, g.count, g.findings.map((f) => f.metadata.name)])).toEqual([
      ['rls_disabled_in_public', 2, ['a', 'b']],
      ['rls_enabled_no_policy', 1, ['c']],
    ]);
    expect(JSON.stringify(groups)).not.toContain('cache_key');
  });
});
