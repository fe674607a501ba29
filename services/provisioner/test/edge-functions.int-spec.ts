/**
 * Edge Functions for real on the local driver: the plan's functions (libs/planning renderEdgeFunctions)
 * deployed with `deploy_edge_function`, served by Deno through the provisioner's local API, called over HTTP
 * as a client would, and calling back into the environment through the local REST RPC (spec §9.3, §11.4).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { newId, ProvisionOutputs, type Plan, type ProvisionOutput } from '@vibe/contracts';
import { callProvisioner } from '@vibe/platform';
import { allMigrations, chunkVibe, planWithRules, renderEdgeFunctions, renderPlan } from '@vibe/planning';
import { waitFor } from '../../../test/support/index.js';
import { mintApiKey } from '../src/edge-runtime/api-jwt.js';
import { commands, inEnvironment, outputOf, startProvisioner, type Provisioner } from './harness.js';

const VIBE = 'Sellers list furniture. Buyers bid and order. Show daily sales analytics.';

function marketplacePlan(enableAnalytics: boolean): Plan {
  return planWithRules({
    vibeText: VIBE,
    chunks: chunkVibe(VIBE),
    template: 'marketplace',
    options: { enableAnalytics, enableDriftSentinel: false },
  });
}

describe('provisioner: Edge Functions served by Deno on the local API', () => {
  let provisioner: Provisioner;
  let sessionId: string;
  let ref: string;
  let url: string;
  let anonKey: string;
  const plan = marketplacePlan(true);

  const call = <T extends Parameters<typeof inEnvironment>[2]>(request: T) =>
    callProvisioner(provisioner.client, inEnvironment(sessionId, ref, request), 90_000);

  async function invoke(
    slug: string,
    options: { method?: 'GET' | 'POST'; auth?: 'anon' | 'none' } = {},
  ): Promise<ProvisionOutput<'invoke_edge_function'>> {
    return call({
      tool: 'invoke_edge_function',
      slug,
      method: options.method ?? 'POST',
      auth: options.auth ?? 'anon',
    });
  }

  beforeAll(async () => {
    provisioner = await startProvisioner({ EDGE_RUNTIME_IDLE_MS: '60000' });
    sessionId = newId();
    const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    ref = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
    for (const migration of allMigrations(renderPlan(plan))) {
      outputOf(await provisioner.send(commands.applyMigration(sessionId, ref, migration.name, migration.query)));
    }
    for (const fn of renderEdgeFunctions(plan)) {
      const deployed = await call({
        tool: 'deploy_edge_function',
        name: fn.slug,
        entrypointPath: fn.entrypointPath,
        verifyJwt: fn.verifyJwt,
        files: fn.files,
      });
      expect(deployed).toMatchObject({ function: { slug: fn.slug, status: 'ACTIVE', verifyJwt: true } });
    }
    url = (await call({ tool: 'get_project_url' })).url;
    const keys = await call({ tool: 'get_publishable_keys' });
    anonKey = keys.keys[0]!.apiKey;
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  it('answers drift_check with { ok: true, drift: [] } for an environment as the plan made it, no secret in it', async () => {
    const answer = await invoke('drift_check');
    expect(answer).toMatchObject({ url: `${url}/functions/v1/drift_check`, status: 200, secretsFound: [] });
    expect(answer.body).toEqual({ ok: true, drift: [], checked: { tables: 4, policies: 10 } });
  });

  it('answers analytics_query with non-empty demo rows and their provenance', async () => {
    const answer = await invoke('analytics_query');
    expect(answer.status).toBe(200);
    expect(answer.secretsFound).toEqual([]);
    const body = answer.body as {
      ok: boolean;
      rows: Array<Record<string, unknown>>;
      provenance: Record<string, unknown>;
    };
    expect(body.ok).toBe(true);
    // The seed's two orders, two and zero days ago: one row per day, newest first.
    expect(body.rows).toHaveLength(2);
    expect(body.rows[0]).toEqual({ day: expect.any(String), rows: 1, total: 4200 });
    expect(body.provenance).toMatchObject({
      kind: 'views',
      relation: 'public.orders',
      query: 'public.run_analytics_query()',
      rowCount: 2,
    });
  });

  it('refuses a request without a JWT (verify_jwt) with 401, and GET with 405', async () => {
    for (const slug of ['drift_check', 'analytics_query']) {
      const unauthenticated = await invoke(slug, { auth: 'none' });
      expect([unauthenticated.status, unauthenticated.body]).toEqual([
        401,
        { code: 401, message: 'Missing authorization header' },
      ]);
      const get = await invoke(slug, { method: 'GET' });
      expect([get.status, get.body]).toEqual([405, 'Method Not Allowed']);
    }
    // A JWT signed with another secret is no better than none.
    const forged = mintApiKey('another-secret-of-at-least-32-characters', ref, 'service_role', new Date());
    const response = await fetch(`${url}/functions/v1/drift_check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${forged}` },
    });
    expect([response.status, await response.json()]).toEqual([401, { code: 401, message: 'Invalid JWT' }]);
  });

  it('serves over plain HTTP like Supabase: the same answer to a browser with the anon key', async () => {
    const response = await fetch(`${url}/functions/v1/drift_check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${anonKey}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-vibe-worker')).toBe('warm');
    expect(await response.json()).toMatchObject({ ok: true, drift: [] });
    const missing = await fetch(`${url}/functions/v1/no_such_function`, {
      method: 'POST',
      headers: { authorization: `Bearer ${anonKey}` },
    });
    expect(missing.status).toBe(404);
  });

  it('reports drift when the environment no longer matches the plan', async () => {
    await provisioner.inEnvironment(ref, async (db) => {
      await db.query('alter table public.orders disable row level security');
      await db.query('drop policy bids_read_own on public.bids');
      await db.query(`create policy listings_open on public.listings for delete to anon using (true)`);
    });
    try {
      const answer = await invoke('drift_check');
      expect(answer.status).toBe(200);
      const body = answer.body as { ok: boolean; drift: Array<Record<string, string>> };
      expect(body.ok).toBe(true);
      expect(body.drift.map((d) => [d.type, d.severity, d.resource])).toEqual([
        ['rls_disabled', 'critical', 'public.orders'],
        ['policy_missing', 'high', 'public.bids.bids_read_own'],
        ['policy_unexpected', 'medium', 'public.listings.listings_open'],
      ]);
    } finally {
      await provisioner.inEnvironment(ref, async (db) => {
        await db.query('alter table public.orders enable row level security');
        await db.query('drop policy listings_open on public.listings');
        await db.query(
          'create policy bids_read_own on public.bids for select to authenticated using (bidder_id = (select auth.uid()))',
        );
      });
    }
  });

  it('runs REST RPC as the JWT role: service-only functions refuse anon and authenticated callers', async () => {
    const rpc = (key: string | null, fn: string) =>
      fetch(`${url}/rest/v1/rpc/${fn}`, {
        method: 'POST',
        headers: { ...(key && { apikey: key, authorization: `Bearer ${key}` }), 'content-type': 'application/json' },
        body: '{}',
      });
    const anon = await rpc(anonKey, 'inspect_security_state');
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ code: '42501' });
    expect((await rpc(null, 'run_analytics_query')).status).toBe(401);
    const unknown = await rpc(anonKey, 'no_such_function');
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, 'PGRST202']);
  });

  it('runs a redeployed version at once, in a new worker', async () => {
    const deployed = await call({
      tool: 'deploy_edge_function',
      name: 'hello',
      verifyJwt: false,
      files: [{ name: 'index.ts', content: 'Deno.serve(() => Response.json({ v: 1 }));' }],
    });
    expect(deployed).toMatchObject({ function: { version: 1, verifyJwt: false } });
    const first = await invoke('hello', { auth: 'none' });
    expect([first.status, first.body]).toEqual([200, { v: 1 }]);
    await call({
      tool: 'deploy_edge_function',
      name: 'hello',
      verifyJwt: false,
      files: [{ name: 'index.ts', content: 'Deno.serve(() => Response.json({ v: 2 }));' }],
    });
    const second = await invoke('hello', { auth: 'none' });
    expect([second.status, second.body]).toEqual([200, { v: 2 }]);
  });

  it('keeps functions off the platform’s own servers (Postgres, NATS) while they reach the network', async () => {
    const probe = (host: string, port: number) =>
      `await Deno.connect({ hostname: ${JSON.stringify(host)}, port: ${port} }).then((c) => { c.close(); return "connected"; }, (e) => e.name)`;
    await call({
      tool: 'deploy_edge_function',
      name: 'sandbox',
      verifyJwt: false,
      files: [
        {
          name: 'index.ts',
          content: `Deno.serve(async () => Response.json({
  postgres: ${probe('127.0.0.1', 5432)},
  postgresByName: ${probe('localhost', 5432)},
  nats: ${probe('127.0.0.1', 4222)},
  api: (await fetch(${JSON.stringify(`${url}/rest/v1/rpc/x`)})).status,
}));`,
        },
      ],
    });
    const answer = await invoke('sandbox', { auth: 'none' });
    expect([answer.status, answer.body]).toEqual([
      200,
      { postgres: 'NotCapable', postgresByName: 'NotCapable', nats: 'NotCapable', api: 401 },
    ]);
  });

  it('deploys and calls functions side by side on a new environment, as a build does', async () => {
    // Nothing made in the environment yet (no functions store, no JWT secret): the calls that make them on
    // first use run at the same time, and each sees what the other made.
    const fresh = newId();
    const created = await provisioner.send(commands.createEnvironment(fresh, 'branch'));
    const freshRef = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
    for (const migration of allMigrations(renderPlan(plan))) {
      outputOf(await provisioner.send(commands.applyMigration(fresh, freshRef, migration.name, migration.query)));
    }
    const inFresh = <T extends Parameters<typeof inEnvironment>[2]>(request: T) =>
      callProvisioner(provisioner.client, inEnvironment(fresh, freshRef, request), 90_000);
    const rendered = renderEdgeFunctions(plan);
    const deployed = await Promise.all(
      rendered.map((fn) =>
        inFresh({
          tool: 'deploy_edge_function',
          name: fn.slug,
          entrypointPath: fn.entrypointPath,
          verifyJwt: fn.verifyJwt,
          files: fn.files,
        }),
      ),
    );
    expect(deployed.map((d) => d.function.slug)).toEqual(rendered.map((fn) => fn.slug));
    const answers = await Promise.all(
      rendered.flatMap((fn) => [
        inFresh({ tool: 'invoke_edge_function', slug: fn.slug, method: 'POST', auth: 'anon' }),
        inFresh({ tool: 'get_publishable_keys' }),
      ]),
    );
    expect(answers.filter((a) => 'status' in a).map((a) => (a as { status: number }).status)).toEqual([200, 200]);
    expect(answers.filter((a) => 'keys' in a)).toHaveLength(2);
    // One JWT secret was made, whichever call came first.
    const secrets = await provisioner.inEnvironment(freshRef, async (db) => {
      const { rows } = await db.query('select count(*)::int as n from vibe_platform.jwt_secret');
      return rows[0].n as number;
    });
    expect(secrets).toBe(1);
  });

  it('refuses to start a function whose jsr: import cannot be mapped, saying why, instead of hanging', async () => {
    await call({
      tool: 'deploy_edge_function',
      name: 'stdlib',
      verifyJwt: false,
      files: [
        {
          name: 'index.ts',
          content: 'import { delay } from "jsr:@std/async@1";\nDeno.serve(() => new Response("x"));',
        },
      ],
    });
    const answer = await invoke('stdlib', { auth: 'none' });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ code: 'BOOT_ERROR', message: expect.stringContaining('jsr:@std/async@1') });
  });
});

describe('provisioner: the local functions runtime stays bounded', () => {
  let provisioner: Provisioner;

  afterAll(async () => {
    await provisioner?.close();
  });

  it('stops a function after its idle time, and starts it again on the next request', async () => {
    // Without spares, so that no worker starts at a deploy (warm): each starts on its first request.
    provisioner = await startProvisioner({
      EDGE_RUNTIME_IDLE_MS: '500',
      EDGE_RUNTIME_MAX_WORKERS: '2',
      EDGE_RUNTIME_SPARES: '0',
    });
    const sessionId = newId();
    const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    const ref = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
    const call = <T extends Parameters<typeof inEnvironment>[2]>(request: T) =>
      callProvisioner(provisioner.client, inEnvironment(sessionId, ref, request), 90_000);
    for (const name of ['one', 'two', 'three']) {
      await call({
        tool: 'deploy_edge_function',
        name,
        verifyJwt: false,
        files: [{ name: 'index.ts', content: `Deno.serve(() => Response.json({ name: ${JSON.stringify(name)} }));` }],
      });
    }
    const url = (await call({ tool: 'get_project_url' })).url;
    const health = async () => ((await (await fetch(new URL('/health', url))).json()) as { workers: number }).workers;
    const post = async (name: string) => {
      const response = await fetch(`${url}/functions/v1/${name}`, { method: 'POST' });
      return { status: response.status, worker: response.headers.get('x-vibe-worker'), body: await response.json() };
    };

    expect(await post('one')).toEqual({ status: 200, worker: 'cold', body: { name: 'one' } });
    expect(await post('one')).toMatchObject({ worker: 'warm' });
    expect(await post('two')).toMatchObject({ status: 200, worker: 'cold' });
    // A third function with two workers allowed: the one idle longest makes room.
    expect(await post('three')).toMatchObject({ status: 200, worker: 'cold', body: { name: 'three' } });
    expect(await health()).toBeLessThanOrEqual(2);
    await waitFor(async () => (await health()) === 0, { timeoutMs: 10_000, what: 'idle workers to stop' });
    expect(await post('one')).toMatchObject({ status: 200, worker: 'cold' });
  });
});

describe('provisioner: a Deno worker does not outlive its provisioner', () => {
  it('exits when the process that started it is killed (SIGKILL), so nothing is left behind', async () => {
    const dist = join(__dirname, '..', 'dist', 'edge-runtime');
    // A process of its own starts a worker the way the local API does, from the build output.
    const script = `
      const fs = require('node:fs'), path = require('node:path'), os = require('node:os');
      const { DenoWorker, defaultDenoPath } = require(${JSON.stringify(join(dist, 'deno-worker.js'))});
      const { bundleFunction } = require(${JSON.stringify(join(dist, 'function-bundle.js'))});
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vibe-orphan-'));
      const bundle = bundleFunction({ slug: 'x', entrypointPath: 'index.ts', importMapPath: null,
        files: [{ name: 'index.ts', content: 'Deno.serve(() => new Response("x"));' }] });
      for (const file of bundle.files) {
        fs.mkdirSync(path.dirname(path.join(dir, file.path)), { recursive: true });
        fs.writeFileSync(path.join(dir, file.path), file.content);
      }
      DenoWorker.start(
        { dir, main: bundle.main, config: bundle.config, socketPath: path.join(dir, 'w.sock'), env: {} },
        { denoPath: defaultDenoPath(), denoDir: path.join(dir, 'deno'), memoryMb: 64, startTimeoutMs: 30000, log() {} },
      ).then((worker) => { console.log('DENO ' + worker.pid); setInterval(() => {}, 1000); });
    `;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      parent.stdout.on('data', (chunk: Buffer) => {
        const match = /DENO (\d+)/.exec(chunk.toString());
        if (match) resolve(Number(match[1]));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited first (${code})`)));
    });
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(async () => !alive(), { timeoutMs: 10_000, what: `Deno process ${pid} to exit` });
  });
});
