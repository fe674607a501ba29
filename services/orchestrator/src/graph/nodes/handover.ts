import { FrontendHandover, type EdgeFunctionInfo, type ProvisionOutput } from '@vibe/contracts';
import type { BuildDeps } from '../ports.js';
import type { BuildStateValue } from '../state.js';
import { requireEnvironment } from './require.js';
import { together } from './together.js';

/**
 * What a succeeded build hands a frontend (issue 12, spec §8.2), read from the environment through the
 * provisioner (its publishable keys, its Edge Functions, its schema's TypeScript types via
 * `generate_typescript_types`, and its project URL when the environment has none recorded), plus the session's
 * share link. Each call has a stable key, so a finalize that
 * runs again is answered from the provisioner's ledger. The result is checked to hold nothing a browser must
 * not have (frontendHandover).
 */
export async function collectHandover(state: BuildStateValue, deps: BuildDeps): Promise<FrontendHandover> {
  const environment = requireEnvironment(state);
  const environmentRef = environment.ref;
  // The reads do not depend on each other: they run at once. The URL is the one the driver recorded (the
  // local API's, or SUPABASE_PROJECT_URL's for a project), else the MCP server's.
  const [url, { keys }, { functions }, { types }, shareToken] = await together([
    environment.apiUrl ??
      deps.provisioner
        .call(state.sessionId, 'handover:project-url', { tool: 'get_project_url', environmentRef })
        .then((answer) => answer.url),
    deps.provisioner.call(state.sessionId, 'handover:publishable-keys', {
      tool: 'get_publishable_keys',
      environmentRef,
    }),
    deps.provisioner.call(state.sessionId, 'handover:edge-functions', { tool: 'list_edge_functions', environmentRef }),
    deps.provisioner.call(state.sessionId, 'handover:types', { tool: 'generate_typescript_types', environmentRef }),
    deps.sessions.shareToken(state.sessionId),
  ]);
  return frontendHandover({
    sessionId: state.sessionId,
    apiUrl: url,
    keys,
    functions,
    types,
    tables: state.tables.map((table) => table.name),
    shareToken,
    publicBaseUrl: deps.handover.publicBaseUrl,
  });
}

export interface HandoverInput {
  sessionId: string;
  apiUrl: string;
  keys: ProvisionOutput<'get_publishable_keys'>['keys'];
  functions: EdgeFunctionInfo[];
  types: string;
  tables: string[];
  shareToken: string;
  publicBaseUrl: string;
}

/** The handover, from what the environment answered. Pure; throws when something is missing or is a secret. */
export function frontendHandover(input: HandoverInput): FrontendHandover {
  const apiUrl = publicUrl(input.apiUrl, 'the project URL');
  const key = publishableKey(input.keys);
  const edgeFunctions = [...input.functions]
    .sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0))
    .map((fn) => ({
      slug: fn.slug,
      url: `${apiUrl}/functions/v1/${encodeURIComponent(fn.slug)}`,
      verifyJwt: fn.verifyJwt,
    }));
  return FrontendHandover.parse({
    apiUrl,
    publishableKey: key.apiKey,
    publishableKeyType: key.type,
    edgeFunctions,
    shareUrl: shareUrl(input.publicBaseUrl, input.sessionId, input.shareToken),
    types: input.types,
    typesPath: `/sessions/${input.sessionId}/types`,
    snippet: supabaseJsSnippet({
      sessionId: input.sessionId,
      apiUrl,
      publishableKey: key.apiKey,
      table: input.tables.find((name) => name !== 'profiles') ?? input.tables[0] ?? null,
      edgeFunction: edgeFunctions[0]?.slug ?? null,
    }),
  });
}

/** A URL a browser may be given: http(s), without credentials; without a trailing slash. */
function publicUrl(value: string, what: string): string {
  if (!URL.canParse(value)) throw new Error(`${what} is not a URL`);
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${what} is not an http(s) URL`);
  if (url.username || url.password) throw new Error(`${what} carries credentials, which a frontend must not get`);
  return value.replace(/\/+$/, '');
}

/**
 * The key a browser may hold: an enabled `sb_publishable_` key, else the legacy anon key, which must be a JWT
 * whose role is `anon` (a service-role key is never handed over, whatever it is called).
 */
export function publishableKey(keys: HandoverInput['keys']): { apiKey: string; type: 'legacy' | 'publishable' } {
  const enabled = keys.filter((key) => !key.disabled);
  const modern = enabled.find((key) => key.type === 'publishable' && key.apiKey.startsWith('sb_publishable_'));
  if (modern) return { apiKey: modern.apiKey, type: 'publishable' };
  const anon = enabled.find((key) => key.type === 'legacy' && jwtRole(key.apiKey) === 'anon');
  if (anon) return { apiKey: anon.apiKey, type: 'legacy' };
  throw new Error(
    `the environment has no publishable key (an sb_publishable_ key or an anon JWT) among ${enabled.length} enabled key(s)`,
  );
}

function jwtRole(token: string): string | null {
  const payload = token.split('.')[1];
  if (!payload || token.split('.').length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { role?: unknown };
    return typeof claims.role === 'string' ? claims.role : null;
  } catch {
    return null;
  }
}

/** The viewer page of the gateway opens `/?session=<id>#share=<token>` read-only; the token stays in the fragment. */
export function shareUrl(publicBaseUrl: string, sessionId: string, shareToken: string): string {
  const base = publicUrl(publicBaseUrl, 'PUBLIC_BASE_URL');
  return `${base}/?session=${encodeURIComponent(sessionId)}#share=${encodeURIComponent(shareToken)}`;
}

export function supabaseJsSnippet(options: {
  sessionId: string;
  apiUrl: string;
  publishableKey: string;
  table: string | null;
  edgeFunction: string | null;
}): string {
  const { sessionId, apiUrl, publishableKey, table, edgeFunction } = options;
  const str = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return [
    `import { createClient } from '@supabase/supabase-js';`,
    `import type { Database } from './database.types'; // GET /sessions/${sessionId}/types`,
    ``,
    `// The publishable (anon) key: row level security decides what it may read and write.`,
    `export const supabase = createClient<Database>(`,
    `  ${str(apiUrl)},`,
    `  ${str(publishableKey)},`,
    `);`,
    ...(table ? [``, `const { data, error } = await supabase.from(${str(table)}).select('*');`] : []),
    ...(edgeFunction
      ? [``, `const { data: answer } = await supabase.functions.invoke(${str(edgeFunction)}, { body: {} });`]
      : []),
    ``,
  ].join('\n');
}
