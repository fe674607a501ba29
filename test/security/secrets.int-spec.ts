/**
 * Secrets never leave through logs, events or responses (issue 9, DESIGN.md §6): the five services run as
 * processes from their build output with secrets planted in their configuration (the JWT secret, a database
 * password, an OpenAI key, a Supabase access token, the environments' JWT secret), an OpenAI endpoint that
 * refuses the planner while quoting the key back, and a Management API that refuses the provisioner while quoting
 * back the token it was sent and other credentials. A build runs into both; then every log line of every
 * service, every event (on the stream and in build_events), the session and ledger rows, and every API answer
 * are searched for the secrets.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { topology } from '@vibe/contracts';
import { mintDevJwt } from '@vibe/platform';
import { freePorts, SERVICES, startStack, type RunningStack } from '../../tools/cli/src/stack.js';
import { aUser, LENIENT_LIMITS } from '../support/auth.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  NATS_URL,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../support/index.js';
import { startOpenAIStub, type OpenAIStub } from '../support/openai-stub.js';
import { request } from './support.js';

const tag = () => randomBytes(12).toString('hex');

/** The planted secrets, each unique to this run, so that finding one anywhere is a leak. */
const SECRETS = {
  jwtSecret: `jwt-secret-${tag()}-${tag()}`,
  databasePassword: `dbpw${tag()}`,
  openAiKey: `sk-proj-${tag()}${tag()}`,
  accessToken: `sbp_${tag()}${tag()}`,
  environmentJwtSecret: `env-jwt-secret-${tag()}-${tag()}`,
  // What the hostile Management API quotes besides the token it received.
  quotedDsnPassword: `dsnpw${tag()}`,
  quotedPassword: `pw${tag()}`,
  quotedServiceKey: mintDevJwt(aUser(), `service-role-signing-${tag()}`, 3600, { role: 'service_role' }),
};

/**
 * A Management API that refuses every call, quoting back what it was sent (the bearer token) and credentials of
 * its own, as a misbehaving upstream might.
 */
async function startHostileManagementApi(): Promise<{ url: string; calls: () => number; close(): Promise<void> }> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    calls += 1;
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        message:
          `cannot ${req.method} ${req.url}: token "${req.headers.authorization ?? ''}" is not allowed here; ` +
          `try postgres://admin:${SECRETS.quotedDsnPassword}@db.internal:5432/postgres with password=${SECRETS.quotedPassword} ` +
          `or the service key ${SECRETS.quotedServiceKey}`,
        service_role_key: SECRETS.quotedServiceKey,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('secrets planted in configuration and in provisioner errors', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let envPrefix: string;
  let stack: RunningStack;
  let openai: OpenAIStub;
  let managementApi: Awaited<ReturnType<typeof startHostileManagementApi>>;
  let control: pg.Client;
  const owner = aUser();
  const answers: string[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_secrets');
    namespace = createNamespace('sec');
    envPrefix = `${uniqueName('vsec')}_`;
    openai = await startOpenAIStub(SECRETS.openAiKey);
    // The planner is refused, and the refusal quotes the key (OpenAI quotes part of it; this one all of it).
    openai.chat = {
      status: 400,
      body: { error: { message: `Incorrect API key provided: ${SECRETS.openAiKey}`, type: 'invalid_request_error' } },
    };
    managementApi = await startHostileManagementApi();
    const url = new URL(db.url);
    url.username = 'postgres';
    url.password = SECRETS.databasePassword; // trust authentication: accepted, and a secret all the same
    const ports = await freePorts(SERVICES.length);
    stack = await startStack({
      env: {
        DATABASE_URL: url.toString(),
        NATS_URL,
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
        ENV_JWT_SECRET: SECRETS.environmentJwtSecret,
        SUPABASE_JWT_SECRET: SECRETS.jwtSecret,
        OPENAI_API_KEY: SECRETS.openAiKey,
        OPENAI_BASE_URL: openai.baseURL,
        SUPABASE_ACCESS_TOKEN: SECRETS.accessToken,
        SUPABASE_API_URL: managementApi.url,
        SUPABASE_PARENT_PROJECT_REF: 'abcdefghijklmnopqrst',
        SUPABASE_API_ATTEMPTS: '1',
        // Everything a service has to say, debug included.
        LOG_LEVEL: 'verbose',
        ...LENIENT_LIMITS,
      },
      ports: Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]])),
      readyTimeoutMs: 60_000,
    });
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
  });

  afterAll(async () => {
    await stack?.stop();
    await control?.end();
    await openai?.close();
    await managementApi?.close();
    await dropDatabasesLike(envPrefix);
    await namespace?.cleanup();
    await db?.drop();
  });

  const bearer = () => ({ authorization: `Bearer ${mintDevJwt(owner, SECRETS.jwtSecret)}` });

  /** An API call whose answer (status line, headers, body) is kept for the search. */
  async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const answer = await request(`${stack.gatewayUrl}${path}`, init);
    answers.push(`${answer.status} ${JSON.stringify([...answer.headers.entries()])} ${answer.text}`);
    return answer;
  }

  function leaks(haystack: string): string[] {
    return Object.entries(SECRETS)
      .filter(([, secret]) => haystack.includes(secret))
      .map(([name]) => name);
  }

  it('a build refused by OpenAI and by the Management API ends failed, and says why without a secret', async () => {
    const created = await call('/sessions', {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ vibeText: 'A marketplace for vintage cameras with reviews.', template: 'marketplace' }),
    });
    expect(created.status).toBe(201);
    const { sessionId } = JSON.parse(created.text) as { sessionId: string };
    const session = await waitFor(
      async () => {
        const got = await call(`/sessions?id=${sessionId}`, { headers: bearer() });
        const view = JSON.parse(got.text) as { status: string; error: string | null };
        return ['failed', 'succeeded', 'canceled'].includes(view.status) ? view : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'the build to end' },
    );
    expect(session.status).toBe('failed');
    expect(session.error).toMatch(/Management API|400/);
    // Both refusals happened, so the secrets went through the error paths.
    expect(openai.chatRequests().length).toBeGreaterThan(0);
    expect(managementApi.calls()).toBeGreaterThan(0);
    const events = await call(`/events?session_id=${sessionId}`, { headers: bearer() });
    const types = (JSON.parse(events.text) as Array<{ type: string }>).map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['planner_fallback', 'provisioner_call', 'build_failed']));
    // The share token's stream (SSE) is an answer too.
    const shareToken = (
      JSON.parse((await call(`/sessions?id=${sessionId}`, { headers: bearer() })).text) as { shareToken: string }
    ).shareToken;
    await streamInto(`${stack.gatewayUrl}/sessions/${sessionId}/stream?share_token=${shareToken}`, answers);
  });

  it('answers requests that carry secrets without echoing them', async () => {
    const asText = async (answer: Promise<{ status: number; text: string }>) => (await answer).status;
    expect(
      await asText(
        call('/sessions', {
          method: 'POST',
          headers: { ...bearer(), 'content-type': 'application/json' },
          body: JSON.stringify({ vibeText: 'x', template: 'saas', [SECRETS.openAiKey]: 1, [SECRETS.accessToken]: 2 }),
        }),
      ),
    ).toBe(400);
    expect(
      await asText(call('/sessions?id=x', { headers: { authorization: `Bearer ${SECRETS.quotedServiceKey}` } })),
    ).toBe(400);
    expect(
      await asText(
        call(`/sessions?id=${aUser()}`, { headers: { authorization: `Bearer ${SECRETS.quotedServiceKey}` } }),
      ),
    ).toBe(401);
    expect(await asText(call(`/events?session_id=${aUser()}&${SECRETS.accessToken}=1`, { headers: bearer() }))).toBe(
      404,
    );
  });

  it('is in no log line of any service, no event, no row and no answer', async () => {
    const logs = SERVICES.flatMap((service) =>
      stack
        .process(service)
        .lines()
        .map((line) => `${service} ${line}`),
    );
    expect(logs.length).toBeGreaterThan(20);
    // The failure was logged, quoting the hostile answer, redacted (so the search below looked at the error paths).
    expect(logs.some((line) => /400 cannot GET .*\[redacted\]/.test(line))).toBe(true);
    const leakedLogs = logs.filter((line) => leaks(line).length > 0).map((line) => `${leaks(line).join(',')}: ${line}`);
    expect(leakedLogs).toEqual([]);

    // Every event as published (the audit log) and as projected.
    const nc = await connect({ servers: NATS_URL });
    const streamed: string[] = [];
    try {
      const jsm = await jetstreamManager(nc);
      const name = topology(namespace.namespace).streams.events;
      const info = await jsm.streams.info(name);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const message = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (message) streamed.push(new TextDecoder().decode(message.data));
      }
    } finally {
      await nc.close();
    }
    expect(streamed.length).toBeGreaterThan(3);
    expect(streamed.flatMap(leaks)).toEqual([]);

    const rows = await control.query<{ text: string }>(
      `select row_to_json(t)::text as text from (
         select message, payload::text as payload from build_events
         union all select error, coalesce(last_error, '') || coalesce(outputs::text, '') || coalesce(environment::text, '') from build_sessions
         union all select result::text, coalesce(audit::text, '') from provisioner_commands
       ) t`,
    );
    expect(rows.rows.length).toBeGreaterThan(3);
    expect(rows.rows.flatMap((row) => leaks(row.text))).toEqual([]);

    expect(answers.length).toBeGreaterThan(5);
    expect(answers.flatMap(leaks)).toEqual([]);
  });

  it('the running gateway (dist/main.js) sends the security headers', async () => {
    const answer = await request(`${stack.gatewayUrl}/config.json`);
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('x-frame-options')).toBe('DENY');
    expect(answer.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
  });
});

/** Reads a server-sent event stream into `into` for a while (the build is over: it replays and then idles). */
async function streamInto(url: string, into: string[]): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 1500);
  let text = '';
  try {
    const response = await fetch(url, { signal: controller.signal });
    const decoder = new TextDecoder();
    for await (const chunk of response.body as AsyncIterable<Uint8Array>)
      text += decoder.decode(chunk, { stream: true });
  } catch {
    // Aborted after the replay: what arrived is what is searched.
  } finally {
    clearTimeout(timer);
  }
  expect(text).toContain('event: build_failed');
  into.push(text);
}
