/**
 * A local stand-in for Supabase's Management API (https://api.supabase.com/v1) and its projects' APIs, for
 * the cloud driver's tests. It answers with the API's documented request and response shapes (the ones the
 * official MCP server and the API reference use), and what it answers is real: each branch or project is a
 * database on the machine's Postgres (made by the local driver, so it looks like Supabase), SQL and
 * migrations run in it, functions are stored in it and served by the local Deno runtime, keys are JWTs
 * signed with its secret. Scripted behaviours make it slow, failing or rate limited like the real one.
 *
 *   /v1/...                         the Management API (Bearer token required), types included
 *   /p/<ref>/functions/v1/<slug>    the project's API (what https://<ref>.supabase.co serves)
 *   /p/<ref>/rest/v1/rpc/<fn>
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import pg from 'pg';
import { Logger } from '@nestjs/common';
import { newId } from '@vibe/contracts';
import { loadProvisionerConfig } from '../src/config.js';
import { toJsonRows } from '../src/drivers/local/json-rows.js';
import { LocalDriver } from '../src/drivers/local/local.driver.js';
import { environmentDatabaseName } from '../src/drivers/local/naming.js';
import { LocalApiServer, serviceRoleKey } from '../src/edge-runtime/local-api.server.js';
import { mintAnonKey } from '../src/mcp/local/api-keys.js';
import { LocalEnvironment } from '../src/mcp/local/local-environment.js';
import { dropDatabasesLike, PG_ADMIN_URL, uniqueName } from '../../../test/support/index.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | null;
  /** JSON body, or for multipart `{ metadata, files: [{ name, content }] }`. */
  body: unknown;
  contentType: string | null;
}

/** A scripted answer for the next requests matching a method and path pattern. */
export interface Injection {
  method?: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  times: number;
}

interface Environment {
  id: string;
  ref: string;
  name: string;
  kind: 'branch' | 'project';
  parent: string | null;
  sessionId: string;
  database: string;
  createdAt: string;
  /** Statuses reported by successive GETs; the last one stays. */
  statuses: string[];
  /** Probes (project GET, database/query) that fail after the status says ready. */
  notReallyReady: number;
  secrets: Map<string, string>;
  deleted: boolean;
}

export interface FakeBehaviour {
  /** What a new branch reports, GET after GET (default: CREATING_PROJECT, RUNNING_MIGRATIONS, MIGRATIONS_PASSED). */
  branchStatuses?: string[];
  /** What a new project reports (default: COMING_UP, COMING_UP, ACTIVE_HEALTHY). */
  projectStatuses?: string[];
  /** Probes that fail after a branch reports ready (default 0). */
  notReallyReady?: number;
}

export interface FakeManagementApi {
  readonly url: string;
  readonly token: string;
  readonly parentRef: string;
  readonly organization: string;
  /** The project URL template for SUPABASE_PROJECT_URL. */
  readonly projectUrlTemplate: string;
  readonly requests: RecordedRequest[];
  behaviour: FakeBehaviour;
  inject(injection: Injection): void;
  /** Forgets recorded requests, pending injections and scripted behaviour. */
  reset(): void;
  /** The database behind a branch or project ref. */
  databaseOf(ref: string): string;
  environments(): Array<{ ref: string; name: string; kind: string; deleted: boolean }>;
  /**
   * The Auth settings (`/v1/projects/{ref}/config/auth`) of the parent project (the control plane in the
   * control-plane auth tests) or of a live environment: what a GET answers now. `setAuthConfig` changes them as
   * a person in the dashboard would (no request recorded).
   */
  authConfig(ref: string): Record<string, unknown>;
  setAuthConfig(ref: string, settings: Record<string, unknown>): void;
  /** The parent project's keys as `/v1/projects/{parentRef}/api-keys` lists them (anon and service_role JWTs). */
  readonly parentKeys: { anon: string; serviceRole: string };
  close(): Promise<void>;
}

/**
 * The Auth settings the fake knows, with Supabase's defaults for a new project and each field's JSON type; a
 * PATCH with another field or type is answered 400, as the API validates its body.
 */
const AUTH_CONFIG_DEFAULTS: Record<string, string | boolean | number> = {
  site_url: 'http://localhost:3000',
  uri_allow_list: '',
  disable_signup: false,
  external_email_enabled: true,
  external_phone_enabled: false,
  external_anonymous_users_enabled: false,
  mailer_autoconfirm: false,
  mailer_secure_email_change_enabled: true,
  jwt_exp: 3600,
};

const randomRef = () => Array.from(randomBytes(20), (byte) => String.fromCharCode(97 + (byte % 26))).join('');

export async function startFakeManagementApi(behaviour: FakeBehaviour = {}): Promise<FakeManagementApi> {
  // The local runtime behind the fake logs like a service; a test wants its warnings only.
  Logger.overrideLogger(['error', 'warn']);
  const prefix = `${uniqueName('fk')}_`;
  const config = loadProvisionerConfig({
    ENV_DATABASE_URL: PG_ADMIN_URL,
    ENV_DB_PREFIX: prefix,
    ENV_API_URL: 'http://127.0.0.1:0/env/{ref}',
    EDGE_RUNTIME_IDLE_MS: '30000',
  });
  const driver = new LocalDriver(config);
  const localApi = new LocalApiServer(config, driver);
  await localApi.onModuleInit();
  const token = `sbp_${randomBytes(20).toString('hex')}`;
  const parentRef = randomRef();
  const organization = `org-${randomBytes(4).toString('hex')}`;
  const environments = new Map<string, Environment>();
  const requests: RecordedRequest[] = [];
  const injections: Injection[] = [];
  const state = { behaviour };
  const authConfigs = new Map<string, Record<string, unknown>>();
  const authConfigOf = (ref: string) => {
    let config = authConfigs.get(ref);
    if (!config) authConfigs.set(ref, (config = { ...AUTH_CONFIG_DEFAULTS }));
    return config;
  };
  const parentSecret = randomBytes(32).toString('hex');
  const parentKeys = {
    anon: mintAnonKey(parentSecret, parentRef, new Date()),
    serviceRole: serviceRoleKey(parentSecret, parentRef),
  };

  const local = (env: Environment) =>
    new LocalEnvironment(env.database, driver, { apiUrlTemplate: localApi.urlTemplate });

  async function create(kind: 'branch' | 'project', name: string, parent: string | null): Promise<Environment> {
    const sessionId = newId();
    await driver.createEnvironment({
      version: 1,
      tool: 'create_environment',
      commandId: newId(),
      sessionId,
      mode: 'branch',
    });
    const env: Environment = {
      id: randomUUID(),
      ref: randomRef(),
      name,
      kind,
      parent,
      sessionId,
      database: environmentDatabaseName(prefix, sessionId),
      createdAt: new Date().toISOString(),
      statuses:
        kind === 'branch'
          ? [...(state.behaviour.branchStatuses ?? ['CREATING_PROJECT', 'RUNNING_MIGRATIONS', 'MIGRATIONS_PASSED'])]
          : [...(state.behaviour.projectStatuses ?? ['COMING_UP', 'COMING_UP', 'ACTIVE_HEALTHY'])],
      notReallyReady: kind === 'branch' ? (state.behaviour.notReallyReady ?? 0) : 0,
      secrets: new Map(),
      deleted: false,
    };
    environments.set(env.ref, env);
    return env;
  }

  const status = (env: Environment) => (env.statuses.length > 1 ? env.statuses.shift()! : env.statuses[0]!);
  const branchView = (env: Environment, current = status(env)) => ({
    id: env.id,
    name: env.name,
    project_ref: env.ref,
    parent_project_ref: env.parent,
    is_default: false,
    persistent: false,
    status: current,
    created_at: env.createdAt,
    updated_at: new Date().toISOString(),
  });
  const projectView = (env: Environment, current: string) => ({
    id: env.id,
    ref: env.ref,
    organization_id: organization,
    organization_slug: organization,
    name: env.name,
    region: 'us-east-1',
    created_at: env.createdAt,
    status: current,
  });
  /** A branch's project is healthy once the branch says ready and the not-really-ready probes are spent. */
  const projectStatus = (env: Environment) => {
    if (env.kind === 'project') return status(env);
    const ready = ['MIGRATIONS_PASSED', 'FUNCTIONS_DEPLOYED'].includes(env.statuses[0]!) && env.statuses.length === 1;
    if (!ready) return 'COMING_UP';
    if (env.notReallyReady > 0) {
      env.notReallyReady--;
      return 'COMING_UP';
    }
    return 'ACTIVE_HEALTHY';
  };

  const functionView = (row: {
    id: string;
    slug: string;
    name: string;
    version: number;
    status: string;
    verify_jwt: boolean;
    entrypoint_path: string;
    import_map_path: string | null;
    created_at: string;
    updated_at: string;
  }) => ({
    id: row.id,
    slug: row.slug,
    name: row.name,
    version: row.version,
    status: row.status,
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
    verify_jwt: row.verify_jwt,
    import_map: row.import_map_path !== null,
    // The API names files by URL, as the official server reads them.
    entrypoint_path: `file:///src/${row.entrypoint_path}`,
    ...(row.import_map_path !== null && { import_map_path: `file:///src/${row.import_map_path}` }),
  });

  async function managementApi(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    let m: RegExpExecArray | null;
    const live = (ref: string) => {
      const env = environments.get(ref);
      return env && !env.deleted ? env : undefined;
    };
    const notFound = { status: 404, body: { message: 'Not found' } };

    if ((m = /^\/v1\/projects\/([a-z]{20})\/branches$/.exec(path))) {
      if (m[1] !== parentRef) return notFound;
      if (method === 'POST') {
        const name = (body as { branch_name?: unknown }).branch_name;
        if (typeof name !== 'string' || !name) return { status: 400, body: { message: 'branch_name is required' } };
        const env = await create('branch', name, parentRef);
        return { status: 201, body: branchView(env, env.statuses[0]) };
      }
      if (method === 'GET') {
        return {
          status: 200,
          body: [...environments.values()]
            .filter((e) => e.kind === 'branch' && !e.deleted)
            .map((e) => branchView(e, e.statuses[0])),
        };
      }
    }
    if ((m = /^\/v1\/projects\/([a-z]{20})\/branches\/([^/]+)$/.exec(path)) && method === 'GET') {
      const name = decodeURIComponent(m[2]!);
      const env = [...environments.values()].find((e) => e.kind === 'branch' && e.name === name && !e.deleted);
      return env && m[1] === parentRef ? { status: 200, body: branchView(env) } : notFound;
    }
    if ((m = /^\/v1\/branches\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      const env = [...environments.values()].find((e) => (e.id === m![1] || e.ref === m![1]) && !e.deleted);
      if (!env) return notFound;
      await remove(env);
      return { status: 200, body: { message: 'ok' } };
    }
    if (path === '/v1/projects') {
      if (method === 'GET') {
        return {
          status: 200,
          body: [...environments.values()]
            .filter((e) => e.kind === 'project' && !e.deleted)
            .map((e) => projectView(e, e.statuses[0]!)),
        };
      }
      if (method === 'POST') {
        const request = body as { name?: unknown; organization_slug?: unknown; region?: unknown; db_pass?: unknown };
        if (
          typeof request.name !== 'string' ||
          request.organization_slug !== organization ||
          typeof request.db_pass !== 'string'
        ) {
          return { status: 400, body: { message: 'name, organization_slug and db_pass are required' } };
        }
        const env = await create('project', request.name, null);
        return { status: 201, body: projectView(env, env.statuses[0]!) };
      }
    }
    if ((m = /^\/v1\/projects\/([a-z]{20})\/config\/auth$/.exec(path))) {
      if (m[1] !== parentRef && !live(m[1]!)) return notFound;
      const config = authConfigOf(m[1]!);
      if (method === 'GET') return { status: 200, body: { ...config } };
      if (method === 'PATCH') {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          return { status: 400, body: { message: 'the body must be a JSON object' } };
        }
        const problems = Object.entries(body as Record<string, unknown>).flatMap(([field, value]) =>
          !(field in AUTH_CONFIG_DEFAULTS)
            ? [`${field} is not an Auth setting`]
            : typeof value !== typeof AUTH_CONFIG_DEFAULTS[field]
              ? [`${field} must be a ${typeof AUTH_CONFIG_DEFAULTS[field]}`]
              : [],
        );
        if (problems.length) return { status: 400, body: { message: problems.join('; ') } };
        Object.assign(config, body);
        return { status: 200, body: { ...config } };
      }
    }
    if (path === `/v1/projects/${parentRef}/api-keys` && method === 'GET') {
      return {
        status: 200,
        body: [
          { name: 'anon', api_key: parentKeys.anon, type: 'legacy', id: 'anon' },
          {
            name: 'service_role',
            api_key:
              query.get('reveal') === 'true'
                ? parentKeys.serviceRole
                : `${parentKeys.serviceRole.slice(0, 12)}··········`,
            type: 'legacy',
            id: 'service_role',
          },
        ],
      };
    }
    if ((m = /^\/v1\/projects\/([a-z]{20})(\/.*)?$/.exec(path))) {
      const env = live(m[1]!);
      if (!env) return notFound;
      const rest = m[2] ?? '';
      if (rest === '' && method === 'GET') return { status: 200, body: projectView(env, projectStatus(env)) };
      if (rest === '' && method === 'DELETE') {
        await remove(env);
        return { status: 200, body: { id: env.id, ref: env.ref, name: env.name } };
      }
      if (rest === '/database/query' && method === 'POST') {
        const { query: sql, read_only } = body as { query?: unknown; read_only?: unknown };
        if (typeof sql !== 'string') return { status: 400, body: { message: 'query is required' } };
        if (env.kind === 'branch' && projectStatus(env) !== 'ACTIVE_HEALTHY') {
          return { status: 400, body: { message: 'Failed to run sql query: connection refused' } };
        }
        try {
          const parameters = (body as { parameters?: unknown }).parameters;
          const rows = await runSql(env, sql, Array.isArray(parameters) ? parameters : undefined, read_only === true);
          return { status: 201, body: rows };
        } catch (error) {
          return { status: 400, body: { message: `Failed to run sql query: ${(error as Error).message}` } };
        }
      }
      if (rest === '/database/migrations') {
        if (method === 'GET') return { status: 200, body: await local(env).listMigrations() };
        if (method === 'POST') {
          const { name, query: sql } = body as { name?: unknown; query?: unknown };
          if (typeof sql !== 'string') return { status: 400, body: { message: 'query is required' } };
          try {
            await local(env).applyMigration(typeof name === 'string' ? name : `migration_${Date.now()}`, sql);
            return { status: 200, body: {} };
          } catch (error) {
            return { status: 400, body: { message: `Failed to run sql query: ${(error as Error).message}` } };
          }
        }
      }
      if ((m = /^\/advisors\/(security|performance)$/.exec(rest)) && method === 'GET') {
        return { status: 200, body: { lints: await local(env).advisors(m[1] as 'security' | 'performance') } };
      }
      if (rest === '/api-keys' && method === 'GET') {
        const secret = await local(env).jwtSecret();
        const reveal = query.get('reveal') === 'true';
        const service = serviceRoleKey(secret, env.database);
        return {
          status: 200,
          body: [
            { name: 'anon', api_key: mintAnonKey(secret, env.database, new Date()), type: 'legacy', id: 'anon' },
            {
              name: 'service_role',
              api_key: reveal ? service : `${service.slice(0, 12)}··········`,
              type: 'legacy',
              id: 'service_role',
            },
          ],
        };
      }
      if (rest === '/api-keys/legacy' && method === 'GET') return { status: 200, body: { enabled: true } };
      if (rest === '/types/typescript' && method === 'GET') {
        return { status: 200, body: { types: await local(env).typescriptTypes() } };
      }
      if (rest === '/functions' && method === 'GET') {
        return { status: 200, body: (await local(env).listFunctions()).map(functionView) };
      }
      if (rest === '/functions/deploy' && method === 'POST') {
        const slug = query.get('slug');
        const form = body as { metadata?: Record<string, unknown>; files?: Array<{ name: string; content: string }> };
        if (!slug || !form.metadata || !form.files?.length) {
          return { status: 400, body: { message: 'slug, metadata and at least one file are required' } };
        }
        const row = await local(env).deployFunction({
          name: slug,
          entrypointPath:
            typeof form.metadata.entrypoint_path === 'string'
              ? form.metadata.entrypoint_path.replace(/^file:\/\/\/src\//, '')
              : 'index.ts',
          importMapPath: typeof form.metadata.import_map_path === 'string' ? form.metadata.import_map_path : undefined,
          verifyJwt: form.metadata.verify_jwt !== false,
          files: form.files,
        });
        return { status: 201, body: functionView(row) };
      }
      if ((m = /^\/functions\/([^/]+)$/.exec(rest)) && method === 'GET') {
        try {
          return { status: 200, body: functionView(await local(env).getFunction(decodeURIComponent(m[1]!))) };
        } catch {
          return notFound;
        }
      }
      if (rest === '/secrets') {
        if (method === 'POST') {
          for (const { name, value } of body as Array<{ name: string; value: string }>) env.secrets.set(name, value);
          return { status: 201, body: {} };
        }
        if (method === 'GET') {
          return { status: 200, body: [...env.secrets.keys()].map((name) => ({ name, value: '[hashed]' })) };
        }
      }
    }
    return { status: 404, body: { message: `no route ${method} ${path}` } };
  }

  /**
   * SQL as the API runs it: read-only when asked, with `parameters` when given (the official server's
   * list_tables sends them), the last statement's rows, numbers as JSON numbers (the API answers JSON made by
   * Postgres, where a bigint is a number, not node-postgres' string).
   */
  async function runSql(env: Environment, sql: string, parameters: unknown[] | undefined, readOnly: boolean) {
    return driver.withEnvironment(env.database, async (client) => {
      await client.query(readOnly ? 'begin transaction read only' : 'begin');
      try {
        const result = (await client.query({ text: sql, values: parameters, types: JSON_TYPES })) as
          pg.QueryResult | pg.QueryResult[];
        const last = Array.isArray(result) ? result[result.length - 1] : result;
        await client.query(readOnly ? 'rollback' : 'commit');
        return toJsonRows((last?.rows ?? []) as Array<Record<string, unknown>>);
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  async function remove(env: Environment): Promise<void> {
    env.deleted = true;
    await driver.deleteEnvironment({
      version: 1,
      tool: 'delete_environment',
      commandId: newId(),
      sessionId: env.sessionId,
      environmentRef: null,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const raw = await readAll(req);
    const contentType = req.headers['content-type'] ?? null;

    // The projects' own APIs, forwarded to the local runtime that serves their databases.
    const project = /^\/p\/([a-z]{20})(\/.*)$/.exec(url.pathname);
    if (project) {
      const env = environments.get(project[1]!);
      if (!env || env.deleted) return reply(res, 404, { message: 'project not found' });
      const target = `${localApi.projectUrl(env.database)}${project[2]}${url.search}`;
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name)),
      ) as Record<string, string>;
      const answer = await fetch(target, {
        method: req.method,
        headers,
        body: ['GET', 'HEAD'].includes(req.method ?? 'GET') ? undefined : raw,
      });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
      res.end(Buffer.from(await answer.arrayBuffer()));
      return;
    }

    let body: unknown = null;
    if (contentType?.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: raw,
      }).formData();
      const metadata = form.get('metadata');
      body = {
        metadata:
          metadata instanceof Blob
            ? (JSON.parse(await metadata.text()) as unknown)
            : typeof metadata === 'string'
              ? (JSON.parse(metadata) as unknown)
              : null,
        files: await Promise.all(
          form.getAll('file').map(async (file) => ({
            name: file instanceof File ? file.name : 'file',
            content: file instanceof Blob ? await file.text() : String(file),
          })),
        ),
      };
    } else if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = raw.toString('utf8');
      }
    }
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization ?? null,
      body,
      contentType,
    });
    if (req.headers.authorization !== `Bearer ${token}`) return reply(res, 401, { message: 'Unauthorized' });
    const injected = injections.find(
      (injection) =>
        injection.times > 0 &&
        injection.path.test(url.pathname) &&
        (!injection.method || injection.method === req.method),
    );
    if (injected) {
      injected.times--;
      return reply(res, injected.status, injected.body ?? { message: `injected ${injected.status}` }, injected.headers);
    }
    const answer = await managementApi(req.method ?? 'GET', url.pathname, url.searchParams, body ?? {});
    reply(res, answer.status, answer.body, answer.headers);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => reply(res, 500, { message: (error as Error).message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    url,
    token,
    parentRef,
    organization,
    projectUrlTemplate: `${url}/p/{ref}`,
    requests,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(value: FakeBehaviour) {
      state.behaviour = value;
    },
    inject: (injection) => injections.push({ ...injection }),
    reset: () => {
      requests.length = 0;
      injections.length = 0;
      state.behaviour = {};
    },
    databaseOf: (ref) => {
      const env = environments.get(ref);
      if (!env) throw new Error(`no environment ${ref}`);
      return env.database;
    },
    environments: () =>
      [...environments.values()].map((env) => ({ ref: env.ref, name: env.name, kind: env.kind, deleted: env.deleted })),
    authConfig: (ref) => ({ ...authConfigOf(ref) }),
    setAuthConfig: (ref, settings) => {
      Object.assign(authConfigOf(ref), settings);
    },
    parentKeys,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await localApi.beforeApplicationShutdown();
      await driver.beforeApplicationShutdown();
      await dropDatabasesLike(prefix);
    },
  };
}

/** int8 and numeric as numbers, everything else as node-postgres reads it. */
const JSON_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) =>
    oid === 20 || oid === 1700
      ? (value: string) => Number(value)
      : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)) as typeof pg.types.getTypeParser,
};

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
