import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import pg from 'pg';
import {
  createControlPlaneDatabase,
  createNamespace,
  NATS_URL,
  type TestDatabase,
} from '../../../test/support/index.js';
import { CapturedLog } from '../../../test/support/app.js';
import { aUser, LENIENT_LIMITS, signedIn } from '../../../test/support/auth.js';
import { BODY_LIMIT_BYTES, GatewayConfig } from '../src/config.js';
import { GatewayModule } from '../src/gateway.module.js';
import { openApiDocument, type OpenApiDocument, type OpenApiOperation } from '../src/openapi/openapi.document.js';

/**
 * The document against the running gateway: the routes Fastify registers are the routes documented (both
 * ways: a route added to a controller and not to `openapi/openapi.routes.ts` fails here), and what the
 * gateway answers (status, media type, JSON body) is what the document says it answers.
 */
describe('the OpenAPI document of the running gateway', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let app: NestFastifyApplication;
  let url: string;
  let control: pg.Client;
  const registered: string[] = [];
  const doc: OpenApiDocument = openApiDocument();

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_test_openapi');
    namespace = createNamespace('oa');
    const config = GatewayConfig.parse({
      DATABASE_URL: db.url,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      PORT: '0',
      // No orchestrator runs here: every session stays queued, so the build cap would stop the test.
      ...LENIENT_LIMITS,
    });
    const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES });
    // Before Nest registers its routes (at init): every route, as Fastify has it.
    adapter.getInstance().addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) registered.push(`${method} ${route.url}`);
    });
    app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config), adapter, {
      logger: new CapturedLog(),
    });
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    control = new pg.Client({ connectionString: db.url });
    await control.connect();
  });

  afterAll(async () => {
    await app?.close();
    await control?.end();
    await namespace?.cleanup();
    await db?.drop();
  });

  /** `GET /sessions/{id}/cancel` from Fastify's `GET /sessions/:id/cancel`; HEAD routes mirror GET ones. */
  const registeredRoutes = () =>
    [
      ...new Set(
        registered
          .filter((route) => !route.startsWith('HEAD ') || !registered.includes(route.replace(/^HEAD /, 'GET ')))
          .map((route) => route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')),
      ),
    ].sort();

  const documentedRoutes = () =>
    Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();

  it('lists every route the gateway registers, and no other', () => {
    expect(registeredRoutes().length).toBeGreaterThan(10);
    const missing = registeredRoutes().filter((route) => !documentedRoutes().includes(route));
    const extra = documentedRoutes().filter((route) => !registeredRoutes().includes(route));
    expect({ undocumented: missing, notRegistered: extra }).toEqual({ undocumented: [], notRegistered: [] });
  });

  it('serves the document and the docs page', async () => {
    const served = await fetch(`${url}/openapi.json`);
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual(JSON.parse(JSON.stringify(doc)));
    const page = await fetch(`${url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    expect(await page.text()).toContain('POST /sessions/{id}/cancel');
  });

  describe('answers as documented', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);

    /** The documented operation of a request path (`/sessions/abc/cancel` matches `/sessions/{id}/cancel`). */
    function operationOf(method: string, path: string): OpenApiOperation {
      const found = Object.entries(doc.paths).find(([template, item]) => {
        const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
        return pattern.test(path) && item[method.toLowerCase()];
      });
      if (!found) throw new Error(`${method} ${path} is not documented`);
      return found[1][method.toLowerCase()]!;
    }

    /** Sends the request and checks the answer against the document; returns the JSON body, if any. */
    // Requests are signed in as one user, unless `anonymous`.
    const owner = aUser();
    async function conforms(
      method: string,
      path: string,
      init: { body?: string; headers?: Record<string, string>; anonymous?: boolean } = {},
    ): Promise<{ status: number; body: unknown }> {
      const controller = new AbortController();
      const headers = { ...(init.anonymous ? {} : signedIn(owner)), ...init.headers };
      const response = await fetch(`${url}${path}`, { method, body: init.body, headers, signal: controller.signal });
      const pathOnly = path.split('?')[0]!;
      const op = operationOf(method, pathOnly);
      const documented = op.responses[String(response.status)];
      expect([method, path, response.status, documented ? 'documented' : 'undocumented']).toEqual([
        method,
        path,
        response.status,
        'documented',
      ]);
      const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
      const media = Object.keys(documented!.content ?? {});
      expect([method, path, type]).toEqual([method, path, expect.stringMatching(new RegExp(`^(${media.join('|')})$`))]);
      if (type === 'text/event-stream') {
        controller.abort();
        return { status: response.status, body: undefined };
      }
      const text = await response.text();
      if (type !== 'application/json') return { status: response.status, body: text };
      const body: unknown = JSON.parse(text);
      const schema = documented!.content!['application/json']!.schema;
      if (schema) {
        const validate = ajv.compile({ ...schema, components: doc.components });
        const valid = validate(body);
        expect([method, path, response.status, validate.errors ?? []]).toEqual([method, path, response.status, []]);
        expect(valid).toBe(true);
      }
      return { status: response.status, body };
    }

    const json = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
    const aVibe = { vibeText: 'A marketplace for vintage cameras', template: 'marketplace' };
    const unknownId = '00000000-0000-4000-8000-000000000000';

    it('for sessions: create, read, cancel, and their errors', async () => {
      const created = await conforms('POST', '/sessions', json(aVibe));
      expect(created.status).toBe(201);
      const { sessionId } = created.body as { sessionId: string };
      expect((await conforms('POST', '/sessions', json({ template: 'crm' }))).status).toBe(400);
      expect(
        (await conforms('POST', '/sessions', { body: '{"vibeText":', headers: { 'content-type': 'application/json' } }))
          .status,
      ).toBe(400);
      expect(
        (await conforms('POST', '/sessions', { body: 'a shop', headers: { 'content-type': 'text/plain' } })).status,
      ).toBe(415);
      expect(
        (await conforms('POST', '/sessions', json({ ...aVibe, vibeText: 'x'.repeat(BODY_LIMIT_BYTES) }))).status,
      ).toBe(413);

      expect((await conforms('POST', '/sessions', { ...json(aVibe), anonymous: true })).status).toBe(401);
      expect((await conforms('GET', `/sessions?id=${sessionId}`)).status).toBe(200);
      expect((await conforms('GET', '/sessions?id=nope')).status).toBe(400);
      expect((await conforms('GET', `/sessions?id=${unknownId}`)).status).toBe(404);

      expect((await conforms('POST', `/sessions/${sessionId}/cancel`)).status).toBe(202);
      expect((await conforms('POST', `/sessions/${unknownId}/cancel`)).status).toBe(404);
      expect((await conforms('POST', '/sessions/nope/cancel')).status).toBe(400);
      await control.query("update build_sessions set status = 'succeeded' where id = $1", [sessionId]);
      expect((await conforms('POST', `/sessions/${sessionId}/cancel`)).status).toBe(409);
    });

    it('for listing and deleting sessions (issue 12)', async () => {
      const { sessionId } = (await conforms('POST', '/sessions', json(aVibe))).body as { sessionId: string };
      const listed = await conforms('GET', '/sessions?limit=1');
      expect(listed.status).toBe(200);
      expect((listed.body as { sessions: unknown[] }).sessions).toHaveLength(1);
      expect((await conforms('GET', '/sessions?status=queued&include_deleted=true')).status).toBe(200);
      expect((await conforms('GET', '/sessions?limit=0')).status).toBe(400);
      expect((await conforms('GET', '/sessions?cursor=nope')).status).toBe(400);
      expect((await conforms('GET', '/sessions', { anonymous: true })).status).toBe(401);

      expect((await conforms('DELETE', `/sessions/${sessionId}`)).status).toBe(202);
      expect((await conforms('DELETE', `/sessions/${unknownId}`)).status).toBe(404);
      expect((await conforms('DELETE', '/sessions/nope')).status).toBe(400);
      expect((await conforms('DELETE', `/sessions/${sessionId}`, { anonymous: true })).status).toBe(401);
    });

    it('for events and the live stream', async () => {
      const { sessionId, shareToken } = (await conforms('POST', '/sessions', json(aVibe))).body as {
        sessionId: string;
        shareToken: string;
      };
      const events = await conforms('GET', `/events?session_id=${sessionId}`);
      expect(events).toEqual({ status: 200, body: [] });
      expect((await conforms('GET', '/events?session_id=nope')).status).toBe(400);
      expect((await conforms('GET', `/events?session_id=${sessionId}&limit=0`)).status).toBe(400);
      expect((await conforms('GET', `/events?session_id=${unknownId}`)).status).toBe(404);

      expect((await conforms('GET', `/sessions/${sessionId}/stream?share_token=${shareToken}`)).status).toBe(200);
      expect((await conforms('GET', `/sessions/${sessionId}/stream`, { anonymous: true })).status).toBe(401);
      expect((await conforms('GET', `/events?session_id=${sessionId}`, { anonymous: true })).status).toBe(401);
      expect((await conforms('GET', `/sessions/${unknownId}/stream?share_token=${shareToken}`)).status).toBe(404);
      expect((await conforms('GET', `/sessions/nope/stream?share_token=${shareToken}`)).status).toBe(400);
    });

    it('for drift alerts and checks', async () => {
      const { sessionId } = (await conforms('POST', '/sessions', json(aVibe))).body as { sessionId: string };
      expect(await conforms('GET', `/sessions/${sessionId}/drift`)).toEqual({ status: 200, body: [] });
      expect((await conforms('GET', `/sessions/${sessionId}/drift?status=open`)).status).toBe(200);
      expect((await conforms('GET', `/sessions/${sessionId}/drift?status=gone`)).status).toBe(400);
      expect((await conforms('GET', `/sessions/${unknownId}/drift`)).status).toBe(404);
      expect((await conforms('POST', `/sessions/${unknownId}/drift-check`)).status).toBe(404);
      expect((await conforms('POST', '/sessions/nope/drift-check')).status).toBe(400);
    });

    it('for the viewer page, its assets and the operations endpoints', async () => {
      for (const path of ['/', '/viewer.js', '/viewer.css', '/vendor/supabase.js', '/config.json']) {
        expect((await conforms('GET', path)).status).toBe(200);
      }
      for (const path of ['/health', '/health/live', '/metrics', '/openapi.json', '/docs']) {
        expect((await conforms('GET', path)).status).toBe(200);
      }
      // Local development only, and off here.
      expect((await conforms('POST', '/auth/dev-token', { anonymous: true })).status).toBe(404);
    });
  });
});
