import ts from 'typescript';
import type { Template } from '@vibe/contracts';
import { chunkVibe } from './chunk.js';
import {
  edgeFunctionAnswerProblems,
  expectedSecurityState,
  parseForeignTable,
  renderAnalyticsWrapper,
  renderEdgeFunctions,
} from './render-edge-functions.js';
import { InvalidPlanError } from './render-sql.js';
import { planWithRules } from './rules-planner.js';

const plan = (vibeText: string, template: Template = 'marketplace', enableAnalytics = false) =>
  planWithRules({
    vibeText,
    chunks: chunkVibe(vibeText),
    template,
    options: { enableAnalytics, enableDriftSentinel: false },
  });

const analytics = plan('Sellers list furniture, buyers order it. Show daily sales analytics.', 'marketplace', true);
const plain = plan('Teams share projects.', 'saas');

/** Syntax errors of a Deno source, as TypeScript's parser sees them. */
function syntaxErrors(source: string): string[] {
  const out = ts.transpileModule(source, {
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  });
  return (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('renderEdgeFunctions', () => {
  it('renders one Deno entrypoint per planned function, verify_jwt as planned', () => {
    const rendered = renderEdgeFunctions(analytics);
    expect(rendered.map((f) => [f.slug, f.verifyJwt, f.entrypointPath, f.files.map((file) => file.name)])).toEqual([
      ['drift_check', true, 'index.ts', ['index.ts']],
      ['analytics_query', true, 'index.ts', ['index.ts']],
    ]);
    expect(renderEdgeFunctions(plain).map((f) => f.slug)).toEqual(['drift_check']);
  });

  it('writes sources that parse, serve POST only and use what Supabase provides, nothing else', () => {
    for (const fn of renderEdgeFunctions(analytics)) {
      const source = fn.files[0]!.content;
      expect(syntaxErrors(source)).toEqual([]);
      expect(source).toContain('import { createClient } from "jsr:@supabase/supabase-js@2";');
      expect(source).toContain('Deno.serve(');
      expect(source).toContain('status: 405');
      expect(source).toContain('status: 401');
      const env = [...source.matchAll(/Deno\.env\.get\("([A-Z_]+)"\)/g)].map((m) => m[1]);
      expect(env).toEqual(['SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY']);
      // Only jsr:/npm: imports (what both runtimes resolve), and no key ever echoed back.
      expect([...source.matchAll(/from "([^"]+)"/g)].map((m) => m[1])).toEqual(['jsr:@supabase/supabase-js@2']);
      expect(source).not.toMatch(/Response\.json\([^)]*serviceRoleKey/);
    }
  });

  it('embeds what the build made as drift_check expects it: every table and every policy, roles sorted', () => {
    const source = renderEdgeFunctions(analytics)[0]!.files[0]!.content;
    const expected = expectedSecurityState(analytics);
    expect(expected.tables).toEqual(['profiles', 'listings', 'bids', 'orders']);
    expect(expected.policies).toContainEqual({
      table: 'listings',
      policy: 'listings_read_public',
      cmd: 'SELECT',
      roles: ['anon', 'authenticated'],
    });
    expect(source).toContain(JSON.stringify(expected, null, 2));
    expect(source).toContain('rpc("inspect_security_state")');
  });

  it('says where analytics rows come from: local views by default, the configured wrapper otherwise', () => {
    const local = renderEdgeFunctions(analytics)[1]!.files[0]!.content;
    expect(local).toContain('rpc("run_analytics_query")');
    expect(local).toContain('"kind": "views"');
    expect(local).toContain('"relation": "public.orders"');
    const wrapper = renderEdgeFunctions(analytics, {
      analyticsProvenance: { kind: 'wrapper', relation: 'analytics.orders_iceberg', description: 'S3/Iceberg' },
    })[1]!.files[0]!.content;
    expect(wrapper).toContain('"kind": "wrapper"');
    expect(wrapper).toContain('"relation": "analytics.orders_iceberg"');
  });

  it('is pure: the same plan renders the same sources', () => {
    expect(renderEdgeFunctions(analytics)).toEqual(renderEdgeFunctions(analytics));
  });

  it('refuses analytics_query without the analytics view that run_analytics_query reads', () => {
    const broken = { ...analytics, analyticsViews: [] };
    expect(() => renderEdgeFunctions(broken)).toThrow(InvalidPlanError);
  });
});

describe('edgeFunctionAnswerProblems (spec §11.4)', () => {
  const ok = { status: 200, secretsFound: [] as string[] };
  it('accepts the spec’s shapes', () => {
    expect(edgeFunctionAnswerProblems('drift_check', { ...ok, body: { ok: true, drift: [] } })).toEqual([]);
    expect(
      edgeFunctionAnswerProblems('drift_check', {
        ...ok,
        body: { ok: true, drift: [{ type: 'rls_disabled', resource: 'public.orders' }] },
      }),
    ).toEqual([]);
    expect(
      edgeFunctionAnswerProblems('analytics_query', {
        ...ok,
        body: { ok: true, rows: [], provenance: { kind: 'views' } },
      }),
    ).toEqual([]);
  });

  it('names what is wrong: status, ok, the array, provenance, secrets', () => {
    expect(edgeFunctionAnswerProblems('drift_check', { status: 500, secretsFound: [], body: { error: 'x' } })).toEqual([
      'status 500, not 200',
      '"ok" is not true',
      '"drift" is not an array',
    ]);
    expect(
      edgeFunctionAnswerProblems('analytics_query', {
        status: 200,
        secretsFound: ['service_role_key'],
        body: { ok: true, rows: {} },
      }),
    ).toEqual([
      'the response contains secrets (service_role_key)',
      '"rows" is not an array',
      '"provenance" is missing',
    ]);
    expect(edgeFunctionAnswerProblems('drift_check', { ...ok, body: { ok: true, drift: ['x'] } })).toEqual([
      'a "drift" finding has no type or resource',
    ]);
  });
});

describe('renderAnalyticsWrapper (spec §10.2)', () => {
  it('points run_analytics_query at the wrapper’s foreign table, with the same grants', () => {
    const { name, query } = renderAnalyticsWrapper(analytics, 'analytics.orders_iceberg');
    expect(name).toBe('analytics_wrapper');
    expect(query).toContain('from "analytics"."orders_iceberg"');
    expect(query).toContain('sum("total_cents") as total');
    expect(query).toContain('grant execute on function public.run_analytics_query() to service_role;');
    expect(query).toContain('revoke all on function public.run_analytics_query() from public, anon, authenticated;');
  });

  it.each(['orders', 'a.b.c', 'Analytics.Orders', 'x"; drop table y; --.z'])(
    'refuses %p as a foreign table',
    (name) => {
      expect(parseForeignTable(name)).toBeNull();
      expect(() => renderAnalyticsWrapper(analytics, name)).toThrow(InvalidPlanError);
    },
  );
});
