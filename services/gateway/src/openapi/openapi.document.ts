import { z } from 'zod';
import {
  REQUEST_SCHEMAS,
  RESPONSE_SCHEMAS,
  ROUTES,
  type ParameterDoc,
  type ResponseDoc,
  type RouteDoc,
  type SchemaName,
} from './openapi.routes.js';

/** The parts of OpenAPI 3.1 this document uses. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, Record<string, string>>;
  };
}

export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required: boolean; description: string; schema: JsonSchema }>;
  requestBody?: { required: true; description: string; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, { schema?: JsonSchema }>;
}

export type JsonSchema = Record<string, unknown>;

const TAGS: OpenApiDocument['tags'] = [
  { name: 'sessions', description: 'Build sessions: start, read, cancel, follow live' },
  { name: 'drift', description: "Drift of a session's environment from its plan (spec §10.1)" },
  { name: 'events', description: 'The timeline and audit events of a session' },
  { name: 'viewer', description: 'The build viewer page and its assets' },
  { name: 'operations', description: 'Health, metrics and this document' },
];

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without its own `$schema`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  });
  return rest;
}

const ref = (name: SchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

function parameter(doc: ParameterDoc) {
  return {
    name: doc.name,
    in: doc.in,
    required: doc.required,
    description: doc.description,
    schema: jsonSchema(doc.schema, 'input'),
  };
}

function response(doc: ResponseDoc): OpenApiResponse {
  const out: OpenApiResponse = { description: doc.description };
  if (doc.headers) {
    out.headers = Object.fromEntries(
      Object.entries(doc.headers).map(([name, header]) => [
        name,
        { description: header.description, schema: jsonSchema(header.schema, 'output') },
      ]),
    );
  }
  if (doc.body && 'oneOf' in doc.body) {
    out.content = { 'application/json': { schema: { oneOf: doc.body.oneOf.map(ref) } } };
  } else if (doc.body && 'schema' in doc.body && typeof doc.body.schema === 'string') {
    const named: { schema: SchemaName; array?: boolean } = doc.body;
    const schema = named.array ? { type: 'array', items: ref(named.schema) } : ref(named.schema);
    out.content = { 'application/json': { schema } };
  } else if (doc.body && 'contentType' in doc.body) {
    out.content = {
      [doc.body.contentType]: doc.body.schema ? { schema: jsonSchema(doc.body.schema, 'output') } : {},
    };
  }
  return out;
}

function operation(route: RouteDoc): OpenApiOperation {
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    security: (route.security ?? []).map((scheme) => ({ [scheme]: [] })),
    ...(route.parameters ? { parameters: route.parameters.map(parameter) } : {}),
    ...(route.requestBody
      ? {
          requestBody: {
            required: true as const,
            description: route.requestBody.description,
            content: { 'application/json': { schema: ref(route.requestBody.schema) } },
          },
        }
      : {}),
    responses: Object.fromEntries(Object.entries(route.responses).map(([status, doc]) => [status, response(doc)])),
  };
}

/** The gateway's OpenAPI 3.1 document, built from the route table and the contracts' zod schemas. */
export function openApiDocument(routes: readonly RouteDoc[] = ROUTES, version = '0.1.0'): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is documented twice`);
    item[route.method] = operation(route);
  }
  const schemas: Record<string, JsonSchema> = {};
  for (const [name, schema] of Object.entries(REQUEST_SCHEMAS)) schemas[name] = jsonSchema(schema, 'input');
  for (const [name, schema] of Object.entries(RESPONSE_SCHEMAS)) schemas[name] = jsonSchema(schema, 'output');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Vibe Architect gateway',
      version,
      description:
        'A vibe becomes a secured Supabase backend. Every error is `ErrorBody`: `message` names the field at fault; ' +
        'a 500 says only its `errorId`, under which the cause was logged.',
    },
    tags: TAGS,
    paths,
    components: {
      schemas,
      securitySchemes: {
        ownerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: "The session owner's Supabase JWT",
        },
        shareTokenHeader: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Share-Token',
          description: "The session's share token",
        },
        shareTokenQuery: { type: 'apiKey', in: 'query', name: 'share_token', description: "The session's share token" },
      },
    },
  };
}
