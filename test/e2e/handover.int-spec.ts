/**
 * What a succeeded build hands over (issue 12), end to end through the five services as processes: the
 * frontend outputs (API URL, publishable key, Edge Function URLs, share link, TypeScript types, a supabase-js
 * snippet) with secrets planted in the configuration that must not appear anywhere in them; the types compiled
 * and compared with the environment's own catalog, for the marketplace with added tables and for the saas
 * template; GET /sessions/:id/types; and `vibe mcp-config`, whose printed configuration starts a working MCP
 * server scoped to the environment.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createClient } from '@supabase/supabase-js';
import { BuildOutputs, type BuildEventView, type EnvironmentInfo, type SessionView } from '@vibe/contracts';
import { mintDevJwt, withDatabase } from '@vibe/platform';
import { connectSession, type McpSession } from '../../services/provisioner/src/mcp/mcp-session.js';
import { readToolResult } from '../../services/provisioner/src/mcp/tool-result.js';
import { serviceRoleKey } from '../../services/provisioner/src/edge-runtime/local-api.server.js';
import { freePorts, ROOT_DIR, SERVICES, startStack, type RunningStack } from '../../tools/cli/src/stack.js';
import { aUser, LENIENT_LIMITS } from '../support/auth.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../support/index.js';
import { describeDatabase } from '../support/typescript.js';

const run = promisify(execFile);
const tag = () => randomBytes(12).toString('hex');

/** Planted in the services' configuration: none may reach a build's outputs. */
const SECRETS = {
  gatewayJwtSecret: `gw-jwt-secret-${tag()}-${tag()}`,
  environmentJwtSecret: `env-jwt-secret-${tag()}-${tag()}`,
  controlPlanePassword: `cppw${tag()}`,
  environmentsPassword: `envpw${tag()}`,
  accessToken: `sbp_${tag()}${tag()}`,
};

/** A URL with a password: trust authentication accepts it, and it is a secret all the same. */
function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = 'postgres';
  parsed.password = password;
  return parsed.toString();
}

function jwtClaims(token: string, secret: string): Record<string, unknown> {
  const [header, payload, signature] = token.split('.');
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  if (signature !== expected) throw new Error('the key is not signed with the environment secret');
  return JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** `${NAME}` and `${NAME:-default}` as Claude Code expands them. */
function expand(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
    const found = env[name];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is not set`);
  });
}

describe('what a succeeded build hands over', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let envPrefix: string;
  let stack: RunningStack;
  const environmentsUrl = withPassword(PG_ADMIN_URL, SECRETS.environmentsPassword);
  const owner = aUser();
  const stranger = aUser();
  const tokenOf = (user: string) => mintDevJwt(user, SECRETS.gatewayJwtSecret);

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_e2e_handover');
    namespace = createNamespace('ho');
    envPrefix = `${uniqueName('vho')}_`;
    const ports = await freePorts(SERVICES.length);
    stack = await startStack({
      env: {
        DATABASE_URL: withPassword(db.url, SECRETS.controlPlanePassword),
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: environmentsUrl,
        ENV_DB_PREFIX: envPrefix,
        ENV_JWT_SECRET: SECRETS.environmentJwtSecret,
        SUPABASE_JWT_SECRET: SECRETS.gatewayJwtSecret,
        ENV_API_URL: 'http://127.0.0.1:0/env/{ref}',
        ...LENIENT_LIMITS,
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await dropDatabasesLike(envPrefix);
    await db?.drop();
    await namespace?.cleanup();
  });

  async function api(path: string, user = owner, init: RequestInit = {}) {
    const response = await fetch(`${stack.gatewayUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${tokenOf(user)}`, 'content-type': 'application/json', ...init.headers },
    });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  }

  async function build(body: object): Promise<{ session: SessionView; events: BuildEventView[] }> {
    const created = await api('/sessions', owner, { method: 'POST', body: JSON.stringify(body) });
    expect(created.status).toBe(201);
    const { sessionId } = JSON.parse(created.text) as { sessionId: string };
    const events = await waitFor(
      async () => {
        const list = JSON.parse((await api(`/events?session_id=${sessionId}`)).text) as BuildEventView[];
        return list.some((e) => e.type === 'build_succeeded' || e.type === 'build_failed') ? list : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `the build of ${sessionId}` },
    );
    expect(events.find((e) => e.type === 'build_failed')?.message).toBeUndefined();
    return { session: JSON.parse((await api(`/sessions?id=${sessionId}`)).text) as SessionView, events };
  }

  /** Columns of every table and view of the environment's public schema, from information_schema. */
  async function catalogOf(database: string): Promise<Record<string, string[]>> {
    const env = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, database) });
    await env.connect();
    try {
      const { rows } = await env.query<{ table_name: string; columns: string[] }>(
        `select table_name, array_agg(column_name::text order by column_name::text) as columns
         from information_schema.columns where table_schema = 'public' group by table_name`,
      );
      return Object.fromEntries(rows.map((row) => [row.table_name, row.columns]));
    } finally {
      await env.end();
    }
  }

  /** The whole handover checked: contents, no secret, types against the catalog, a working supabase-js client. */
  async function checkHandover(session: SessionView, events: BuildEventView[], tables: string[]) {
    const environment = session.environment as EnvironmentInfo;
    const outputs = BuildOutputs.parse(session.outputs);
    const frontend = outputs.frontend!;
    expect(frontend).toBeDefined();

    // The URL is the environment's, and supabase-js reaches its functions under it with the key.
    expect(frontend.apiUrl).toBe(environment.apiUrl);
    expect(frontend.apiUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:[1-9]\\d*/env/${environment.ref}$`));
    expect(frontend.publishableKeyType).toBe('legacy');
    expect(jwtClaims(frontend.publishableKey, SECRETS.environmentJwtSecret)).toMatchObject({ role: 'anon' });
    const deployed = events.filter((e) => e.type === 'edge_function_deployed').map((e) => String(e.payload.slug));
    expect(frontend.edgeFunctions.map((fn) => fn.slug)).toEqual([...deployed].sort());
    for (const fn of frontend.edgeFunctions) {
      expect(fn.url).toBe(`${frontend.apiUrl}/functions/v1/${fn.slug}`);
      expect((await fetch(fn.url, { method: 'POST' })).status).toBe(401);
    }
    const supabase = createClient(frontend.apiUrl, frontend.publishableKey, { auth: { persistSession: false } });
    const invoked = await supabase.functions.invoke(frontend.edgeFunctions[0]!.slug, { body: {} });
    expect(invoked.error).toBeNull();
    expect(invoked.data).toMatchObject({ ok: true });

    // The share link opens this session in the viewer; its token is the session's.
    const shareToken = session.shareToken!;
    expect(frontend.shareUrl).toBe(`${stack.gatewayUrl}/?session=${session.id}#share=${shareToken}`);
    expect(
      (await fetch(`${stack.gatewayUrl}/sessions?id=${session.id}`, { headers: { 'x-share-token': shareToken } }))
        .status,
    ).toBe(200);
    expect(frontend.snippet).toContain(
      `createClient<Database>(\n  '${frontend.apiUrl}',\n  '${frontend.publishableKey}',`,
    );
    expect(frontend.typesPath).toBe(`/sessions/${session.id}/types`);

    // Nothing a browser must not have, anywhere in the outputs.
    const json = JSON.stringify(session.outputs);
    const planted = {
      ...SECRETS,
      serviceRoleKey: serviceRoleKey(SECRETS.environmentJwtSecret, environment.ref),
    };
    expect(
      Object.entries(planted)
        .filter(([, secret]) => json.includes(secret))
        .map(([name]) => name),
    ).toEqual([]);
    expect(json).not.toMatch(/postgres(ql)?:\/\//i);
    // (The verification report names the service role as an actor of the access matrix; the handover never does.)
    expect(JSON.stringify(frontend)).not.toMatch(/service_role|sb_secret_|sbp_/);
    const jwts = json.match(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g) ?? [];
    expect(new Set(jwts)).toEqual(new Set([frontend.publishableKey]));
    // The handover event names what was handed over, not the key or the link.
    const handover = events.find((e) => e.type === 'step_completed' && e.payload.step === 'handover');
    expect(handover?.message).toMatch(/^Handed over: API URL /);
    expect(JSON.stringify(handover)).not.toContain(frontend.publishableKey);
    expect(JSON.stringify(handover)).not.toContain(shareToken);

    // The types compile and say what the environment's catalog says.
    const typed = describeDatabase(frontend.types);
    expect(typed.errors).toEqual([]);
    const catalog = await catalogOf(environment.ref);
    expect(Object.keys(typed.tables).sort()).toEqual([...tables].sort());
    const relations = { ...typed.tables, ...typed.views };
    expect(Object.keys(relations).sort()).toEqual(Object.keys(catalog).sort());
    for (const [name, relation] of Object.entries(relations)) {
      expect([name, relation.row]).toEqual([name, catalog[name]]);
    }

    // GET /sessions/:id/types: the same file, for the owner and the share link; nobody else.
    const served = await api(`/sessions/${session.id}/types`);
    expect(served).toEqual({ status: 200, type: 'application/typescript; charset=utf-8', text: frontend.types });
    const shared = await fetch(`${stack.gatewayUrl}/sessions/${session.id}/types?share_token=${shareToken}`);
    expect([shared.status, await shared.text()]).toEqual([200, frontend.types]);
    expect((await api(`/sessions/${session.id}/types`, stranger)).status).toBe(404);
    return { environment, frontend };
  }

  async function vibe(args: string[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(process.execPath, [path.join(ROOT_DIR, 'tools/cli/dist/main.js'), ...args], {
        env: { ...process.env, GATEWAY_URL: stack.gatewayUrl, VIBE_TOKEN: tokenOf(owner), ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  let marketplace: { session: SessionView; environment: EnvironmentInfo; types: string };

  it('hands over a marketplace with added tables: URL, key, functions, link, types, and no secret', async () => {
    const { session, events } = await build({
      vibeText:
        'A marketplace for vintage furniture. Sellers list items, buyers bid and order. Buyers write reviews ' +
        'and keep favorites. Show daily sales analytics.',
      template: 'marketplace',
      options: { enableAnalytics: true },
    });
    const plan = events.find((e) => e.type === 'plan_created')!.payload as { tables: string[] };
    // The vibe added tables to the template's four, and the types have them.
    expect(plan.tables).toEqual(expect.arrayContaining(['profiles', 'listings', 'bids', 'orders', 'reviews']));
    expect(plan.tables.length).toBeGreaterThan(4);
    const { environment, frontend } = await checkHandover(session, events, plan.tables);
    marketplace = { session, environment, types: frontend.types };
  });

  it('hands over a saas build the same way', async () => {
    const { session, events } = await build({
      vibeText: 'Teams share projects. Members comment on projects and upload files.',
      template: 'saas',
    });
    const plan = events.find((e) => e.type === 'plan_created')!.payload as { tables: string[] };
    await checkHandover(session, events, plan.tables);
  });

  it('answers 409 for the types of a build that has not succeeded', async () => {
    const control = new pg.Client({ connectionString: db.url });
    await control.connect();
    try {
      const { rows } = await control.query<{ id: string }>(
        // Ended (graph_ended_at), so that the orchestrator does not adopt it.
        `insert into build_sessions (status, template, vibe_text, options, created_by, error, graph_ended_at)
         values ('failed', 'marketplace', 'x', '{}', $1, 'verify: planted', now()) returning id`,
        [owner],
      );
      const answer = await api(`/sessions/${rows[0]!.id}/types`);
      expect(answer.status).toBe(409);
      expect(answer.text).toMatch(/is failed; its types exist once its build has succeeded/);
    } finally {
      await control.end();
    }
  });

  it('prints an MCP configuration scoped to the environment, read-only, with no secret inline, that works', async () => {
    const { session, environment, types } = marketplace;
    const planted = { ENV_JWT_SECRET: SECRETS.environmentJwtSecret, SUPABASE_ACCESS_TOKEN: SECRETS.accessToken };
    const printed = await vibe(['mcp-config', session.id], planted);
    expect(printed.stderr).toMatch(/read-only/);
    expect(printed.code).toBe(0);
    for (const secret of [...Object.values(SECRETS), environmentsUrl]) expect(printed.stdout).not.toContain(secret);
    expect(printed.stdout).not.toMatch(/postgres(ql)?:\/\//);
    const config = JSON.parse(printed.stdout) as {
      mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>;
    };
    const [name, server] = Object.entries(config.mcpServers)[0]!;
    expect(name).toBe(`vibe-${session.id.slice(0, 8)}`);
    expect(server.args).toEqual([expect.stringMatching(/stdio\.js$/), '--project-ref', environment.ref, '--read-only']);
    expect(server.env).toMatchObject({
      ENV_DATABASE_URL: '${ENV_DATABASE_URL}',
      ENV_JWT_SECRET: '${ENV_JWT_SECRET}',
      ENV_DB_PREFIX: envPrefix,
    });

    // Started as an MCP client would start it, with the references filled from the client's environment.
    const clientEnv = { ENV_DATABASE_URL: environmentsUrl, ENV_JWT_SECRET: SECRETS.environmentJwtSecret };
    const transport = new StdioClientTransport({
      command: server.command,
      args: server.args,
      env: {
        ...getDefaultEnvironment(),
        ...Object.fromEntries(Object.entries(server.env).map(([key, value]) => [key, expand(value, clientEnv)])),
      },
      stderr: 'pipe',
    });
    const mcp: McpSession = await connectSession(transport, { driver: 'local', mode: 'read-only', transport: 'stdio' });
    try {
      const tools = (await mcp.listTools()).map((tool) => tool.name);
      expect(tools).toContain('execute_sql');
      expect(tools).not.toContain('apply_migration');
      const listed = readToolResult(await mcp.callTool('list_tables', { schemas: ['public'] }));
      expect(listed.ok).toBe(true);
      const tableNames = (listed.ok ? (listed.value as { tables: Array<{ name: string }> }).tables : []).map(
        (table) => table.name,
      );
      expect(tableNames).toEqual(expect.arrayContaining(['public.listings', 'public.reviews']));
      const generated = readToolResult(await mcp.callTool('generate_typescript_types', {}));
      expect(generated.ok && (generated.value as { types: string }).types).toBe(types);
      const keys = readToolResult(await mcp.callTool('get_publishable_keys', {}));
      const anonKey = keys.ok ? (keys.value as { keys: Array<{ api_key: string }> }).keys[0]!.api_key : '';
      expect(jwtClaims(anonKey, SECRETS.environmentJwtSecret)).toMatchObject({ role: 'anon' });
    } finally {
      await mcp.close();
    }

    const readWrite = await vibe(['mcp-config', session.id, '--read-write', '--client', 'cursor'], planted);
    expect(readWrite.code).toBe(0);
    const rw = Object.values(
      (JSON.parse(readWrite.stdout) as { mcpServers: Record<string, { args: string[]; env: Record<string, string> }> })
        .mcpServers,
    )[0]!;
    expect(rw.args).not.toContain('--read-only');
    expect(rw.env.ENV_DATABASE_URL).toBe('${env:ENV_DATABASE_URL}');
    expect(readWrite.stderr).toMatch(/READ-WRITE/);

    const official = await vibe(['mcp-config', session.id, '--server', 'official']);
    expect(official.code).toBe(2);
    expect(official.stderr).toMatch(/use --server local/);
    const foreign = await vibe(['mcp-config', session.id], { VIBE_TOKEN: tokenOf(stranger) });
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toBe('');
    expect((await vibe(['mcp-config', 'nope'])).code).toBe(2);
  });
});
