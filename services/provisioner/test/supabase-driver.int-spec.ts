/**
 * The cloud driver against a local server that answers like Supabase's Management API
 * (test/fake-management-api.ts): what it asks for, in which order and shape; how it waits for slow branches
 * and distrusts one that says ready too early; how it handles a failed migration status, 429 with
 * X-RateLimit-Reset and 5xx; that it deletes what it could not finish; and that its token is never audited.
 */
import { newId, type ProvisionCommand, type ProvisionCommandOf } from '@vibe/contracts';
import { CommandApiCalls } from '../src/commands/api-calls.js';
import { PermanentFailure, TransientFailure } from '../src/drivers/driver.js';
import { ManagementApi } from '../src/drivers/supabase/management-api.js';
import { environmentName, SupabaseDriver } from '../src/drivers/supabase/supabase.driver.js';
import { startFakeManagementApi, type FakeManagementApi } from './fake-management-api.js';

/** The audit the provisioner keeps of a command's requests: `management_api_call` events, redacted. */
class Audit extends CommandApiCalls {
  get calls() {
    return this.events.map((event) => event.payload);
  }
}
function auditOf(command: ProvisionCommand = create('branch')): Audit {
  return new Audit({ command, attempt: 1 }, async () => undefined);
}

const create = (mode: 'branch' | 'project', sessionId = newId()): ProvisionCommandOf<'create_environment'> => ({
  version: 1,
  tool: 'create_environment',
  commandId: newId(),
  sessionId,
  mode,
});
const remove = (sessionId: string, environmentRef: string | null = null): ProvisionCommandOf<'delete_environment'> => ({
  version: 1,
  tool: 'delete_environment',
  commandId: newId(),
  sessionId,
  environmentRef,
});

describe('the Supabase driver over the Management API', () => {
  let fake: FakeManagementApi;

  beforeAll(async () => {
    fake = await startFakeManagementApi();
  });

  afterAll(async () => {
    await fake?.close();
  });

  beforeEach(() => fake.reset());

  function driver(overrides: { createTimeoutMs?: number; maxAttempts?: number; token?: string } = {}) {
    return new SupabaseDriver({
      api: new ManagementApi({
        baseUrl: fake.url,
        accessToken: overrides.token ?? fake.token,
        maxAttempts: overrides.maxAttempts ?? 4,
        maxRateLimitWaitMs: 5_000,
        requestTimeoutMs: 10_000,
        retryBaseMs: 20,
      }),
      parentProjectRef: fake.parentRef,
      organization: fake.organization,
      region: 'eu-central-1',
      projectUrlTemplate: fake.projectUrlTemplate,
      createTimeoutMs: overrides.createTimeoutMs ?? 20_000,
      pollInitialMs: 20,
      pollMaxMs: 100,
    });
  }

  const requested = () => fake.requests.map((r) => `${r.method} ${r.path.replace(fake.parentRef, 'PARENT')}`);

  it('creates a branch, waits through its slow statuses, and probes it before calling it usable', async () => {
    fake.behaviour = { notReallyReady: 2 };
    const command = create('branch');
    const audit = auditOf(command);
    const { environment } = await driver().createEnvironment(command, audit);
    const name = environmentName(command.sessionId);
    const ref = environment.ref;
    expect(environment).toEqual({
      driver: 'supabase',
      mode: 'branch',
      ref: expect.stringMatching(/^[a-z]{20}$/),
      apiUrl: `${fake.url}/p/${ref}`,
      createdAt: expect.any(String),
    });
    expect(requested()).toEqual([
      `GET /v1/projects/PARENT/branches/${name}`,
      'POST /v1/projects/PARENT/branches', // CREATING_PROJECT
      `GET /v1/projects/PARENT/branches/${name}`, // CREATING_PROJECT
      `GET /v1/projects/PARENT/branches/${name}`, // RUNNING_MIGRATIONS
      `GET /v1/projects/PARENT/branches/${name}`, // MIGRATIONS_PASSED: probe
      `GET /v1/projects/${ref}`, // COMING_UP: it said ready too early
      `GET /v1/projects/PARENT/branches/${name}`,
      `GET /v1/projects/${ref}`, // COMING_UP
      `GET /v1/projects/PARENT/branches/${name}`,
      `GET /v1/projects/${ref}`, // ACTIVE_HEALTHY
      `POST /v1/projects/${ref}/database/query`,
    ]);
    expect(fake.requests[1]!.body).toEqual({ branch_name: name, persistent: false });
    expect(fake.requests.at(-1)!.body).toEqual({ query: 'select 1 as ready', read_only: true });
    expect(fake.requests.every((r) => r.authorization === `Bearer ${fake.token}`)).toBe(true);

    // Every request audited, none with the token.
    expect(audit.calls.map((c) => `${c.method} ${c.path.replace(fake.parentRef, 'PARENT')}`)).toEqual(requested());
    expect(audit.calls.map((c) => c.status)).toEqual([404, 201, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(JSON.stringify(audit.events)).not.toContain(fake.token);
    expect(audit.calls.every((c) => c.command === 'create_environment' && c.commandId === command.commandId)).toBe(
      true,
    );

    // Found again by its name: a create run again after a crash makes nothing new.
    fake.requests.length = 0;
    const again = await driver().createEnvironment({ ...command, commandId: newId() });
    expect(again.environment.ref).toBe(ref);
    expect(requested()).not.toContain('POST /v1/projects/PARENT/branches');
  });

  it('fails a branch whose migrations failed, saying so, and deletes it', async () => {
    fake.behaviour = { branchStatuses: ['CREATING_PROJECT', 'RUNNING_MIGRATIONS', 'MIGRATIONS_FAILED'] };
    const command = create('branch');
    const failure = await driver()
      .createEnvironment(command)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PermanentFailure);
    expect((failure as PermanentFailure).message).toMatch(/failed: MIGRATIONS_FAILED/);
    expect((failure as PermanentFailure).code).toBe('migrations_failed');
    const branch = fake.environments().find((e) => e.name === environmentName(command.sessionId))!;
    expect(branch.deleted).toBe(true);
    expect(requested().at(-1)).toMatch(/^DELETE \/v1\/branches\/[0-9a-f-]{36}$/);
  });

  it('gives up on a branch that never becomes usable within the timeout, and deletes it', async () => {
    fake.behaviour = { branchStatuses: ['CREATING_PROJECT'] };
    const command = create('branch');
    const started = Date.now();
    await expect(driver({ createTimeoutMs: 600 }).createEnvironment(command)).rejects.toMatchObject({
      code: 'environment_timeout',
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fake.environments().find((e) => e.name === environmentName(command.sessionId))!.deleted).toBe(true);
  });

  it('waits as long as X-RateLimit-Reset says after a 429, then goes on', async () => {
    fake.inject({ method: 'POST', path: /\/branches$/, status: 429, headers: { 'x-ratelimit-reset': '1' }, times: 1 });
    const audit = auditOf();
    const started = Date.now();
    const { environment } = await driver().createEnvironment(create('branch'), audit);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(environment.ref).toMatch(/^[a-z]{20}$/);
    const posts = audit.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/branches'));
    expect(posts.map((c) => [c.status, c.retryAfterMs])).toEqual([
      [429, 1000],
      [201, null],
    ]);
  });

  it('retries 5xx with a growing delay, and reports a Management API that stays down as transient', async () => {
    fake.inject({ method: 'GET', path: /\/branches\/vibe-/, status: 503, times: 2 });
    const audit = auditOf();
    await driver().createEnvironment(create('branch'), audit);
    expect(audit.calls.slice(0, 3).map((c) => [c.status, c.retryAfterMs])).toEqual([
      [503, 20],
      [503, 40],
      [404, null],
    ]);

    fake.inject({ method: 'GET', path: /\/branches\/vibe-/, status: 500, times: 10 });
    await expect(driver({ maxAttempts: 3 }).createEnvironment(create('branch'))).rejects.toBeInstanceOf(
      TransientFailure,
    );
  });

  it('refuses a bad token without retrying and without repeating it', async () => {
    const failure = await driver({ token: 'sbp_wrong0123456789' })
      .createEnvironment(create('branch'))
      .catch((error: unknown) => error as Error);
    expect(failure).toBeInstanceOf(PermanentFailure);
    expect((failure as Error).message).toMatch(/access token was refused/);
    expect((failure as Error).message).not.toContain('sbp_wrong');
    expect(fake.requests).toHaveLength(1);
  });

  it('creates a project in the organization, polls it to ACTIVE_HEALTHY, and never audits its password', async () => {
    const command = create('project');
    const audit = auditOf(command);
    const { environment } = await driver().createEnvironment(command, audit);
    const post = fake.requests.find((r) => r.method === 'POST' && r.path === '/v1/projects')!;
    expect(post.body).toEqual({
      name: environmentName(command.sessionId),
      organization_slug: fake.organization,
      region: 'eu-central-1',
      db_pass: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
    });
    const password = (post.body as { db_pass: string }).db_pass;
    expect(requested().filter((r) => r === `GET /v1/projects/${environment.ref}`).length).toBeGreaterThanOrEqual(3);
    expect(environment).toMatchObject({ driver: 'supabase', mode: 'project' });
    expect(JSON.stringify(audit.events)).not.toContain(password);
    expect(audit.calls.find((c) => c.method === 'POST')!.input).toMatchObject({ db_pass: '[redacted]' });
  });

  it('deletes only the session’s own environment, once', async () => {
    const sessionId = newId();
    const { environment } = await driver().createEnvironment(create('branch', sessionId));
    await expect(driver().deleteEnvironment(remove(sessionId, 'abcdefghijklmnopqrst'))).rejects.toMatchObject({
      code: 'invalid_environment_ref',
    });
    expect(await driver().deleteEnvironment(remove(sessionId, environment.ref))).toEqual({
      ref: environment.ref,
      deleted: true,
    });
    expect(await driver().deleteEnvironment(remove(sessionId))).toEqual({
      ref: environmentName(sessionId),
      deleted: false,
    });
  });

  it('fetches keys, deploys a function as multipart and sets secrets', async () => {
    const { environment } = await driver().createEnvironment(create('branch'));
    const ref = environment.ref;
    const audit = auditOf();
    const access = await driver().access(ref, audit);
    expect(access.url).toBe(`${fake.url}/p/${ref}`);
    expect(access.anonKey).toMatch(/^eyJ/);
    expect(access.secrets.map((s) => s.name)).toEqual(['service_role_key']);
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: `/v1/projects/${ref}/api-keys`,
      query: { reveal: 'true' },
    });

    fake.requests.length = 0;
    const files = [{ name: 'index.ts', content: 'Deno.serve(() => Response.json({ hello: "cloud" }));' }];
    const deployed = await driver().deployFunction(
      ref,
      { slug: 'hello', entrypointPath: 'index.ts', verifyJwt: true, files },
      audit,
    );
    expect(deployed).toMatchObject({ slug: 'hello', version: 1, status: 'ACTIVE', verify_jwt: true });
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: `/v1/projects/${ref}/functions/deploy`,
      query: { slug: 'hello' },
      contentType: expect.stringMatching(/^multipart\/form-data; boundary=/),
      body: { metadata: { name: 'hello', entrypoint_path: 'index.ts', verify_jwt: true }, files },
    });
    // Served at the project's URL, behind verify_jwt, as on Supabase.
    const called = await fetch(`${access.url}/functions/v1/hello`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access.anonKey}` },
    });
    expect([called.status, await called.json()]).toEqual([200, { hello: 'cloud' }]);
    expect((await fetch(`${access.url}/functions/v1/hello`, { method: 'POST' })).status).toBe(401);

    await driver().setSecrets(ref, { ANALYTICS_BUCKET: 's3://demo' }, audit);
    expect(fake.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: `/v1/projects/${ref}/secrets`,
      body: [{ name: 'ANALYTICS_BUCKET', value: 's3://demo' }],
    });
    // The revealed service-role key is in the response, not in the audit.
    expect(JSON.stringify(audit.events)).not.toContain(access.secrets[0]!.value);
    expect(JSON.stringify(audit.events)).not.toContain('s3://demo');
  });
});
