/**
 * An OpenAI-compatible HTTP server on 127.0.0.1 for tests of the OpenAI planner and embedder (issue 3): the
 * real `@langchain/openai` clients talk to it through `OPENAI_BASE_URL`. It speaks the two endpoints we use:
 * - POST /v1/chat/completions: demands `response_format: { type: 'json_schema' }` with a strict-mode schema
 *   (as OpenAI does), records the request and answers with the test's reply: a message content (a canned
 *   plan, or anything malformed), an HTTP status with a body, or no answer at all.
 * - POST /v1/embeddings: deterministic vectors of the requested `dimensions`, as floats or base64.
 * Requests without `Authorization: Bearer <apiKey>` get a 401, like the real API.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The fields of a request body the stub and the tests read; the rest is kept as sent. */
export interface StubRequestBody {
  model?: string;
  messages?: Array<{ role: string; content: string }>;
  response_format?: { type?: string; json_schema?: { name?: string; strict?: boolean; schema?: unknown } };
  input?: string | string[];
  dimensions?: number;
  encoding_format?: string;
  [field: string]: unknown;
}

export interface StubRequest {
  path: string;
  authorization: string | undefined;
  body: StubRequestBody;
}

export type StubReply =
  /** 200 with one choice whose message content is this text. */
  | { content: string }
  /** This status with this JSON body. */
  | { status: number; body: unknown }
  /** No answer until the server closes (for timeouts). */
  | { hang: true };

export interface OpenAIStub {
  /** For `OPENAI_BASE_URL`: `http://127.0.0.1:<port>/v1`. */
  baseURL: string;
  apiKey: string;
  /** Every request, in arrival order. */
  requests: StubRequest[];
  /** The reply to the next chat completion; a function sees the request. */
  chat: StubReply | ((request: StubRequest) => StubReply);
  /** The reply to embedding requests; by default deterministic vectors. */
  embeddings: 'vectors' | StubReply;
  /** When set, embeddings have this many dimensions whatever the request asks (a misconfigured model). */
  forceEmbeddingDimensions: number | null;
  chatRequests(): StubRequest[];
  close(): Promise<void>;
}

export async function startOpenAIStub(
  apiKey = `sk-test-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 32)}`,
): Promise<OpenAIStub> {
  const hanging = new Set<ServerResponse>();
  const stub: OpenAIStub = {
    baseURL: '',
    apiKey,
    requests: [],
    chat: { status: 500, body: { error: { message: 'the test set no chat reply', type: 'server_error' } } },
    embeddings: 'vectors',
    forceEmbeddingDimensions: null,
    chatRequests: () => stub.requests.filter((r) => r.path === '/v1/chat/completions'),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => send(res, 500, { error: { message: String(error) } }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: StubRequestBody;
    try {
      body = text ? (JSON.parse(text) as StubRequestBody) : {};
    } catch {
      return send(res, 400, { error: { message: 'the body is not JSON', type: 'invalid_request_error' } });
    }
    const request: StubRequest = { path: req.url ?? '', authorization: req.headers.authorization, body };
    stub.requests.push(request);

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
    }
    if (req.method === 'POST' && request.path === '/v1/chat/completions') return chat(request, res);
    if (req.method === 'POST' && request.path === '/v1/embeddings') return embeddings(request, res);
    return send(res, 404, { error: { message: `no route ${req.method} ${request.path}` } });
  }

  function reply(res: ServerResponse, answer: StubReply, ok: (content: string) => unknown): void {
    if ('hang' in answer) {
      hanging.add(res);
      return;
    }
    if ('status' in answer) return send(res, answer.status, answer.body);
    send(res, 200, ok(answer.content));
  }

  function chat(request: StubRequest, res: ServerResponse): void {
    const format = request.body.response_format;
    if (
      format?.type !== 'json_schema' ||
      typeof format.json_schema?.schema !== 'object' ||
      !format.json_schema.schema
    ) {
      return send(res, 400, { error: { message: "expected response_format { type: 'json_schema' }" } });
    }
    if (format.json_schema.strict === true) {
      const problems = strictSchemaProblems(format.json_schema.schema, '#');
      if (problems.length > 0) {
        return send(res, 400, {
          error: { message: `Invalid schema for response_format: ${problems.slice(0, 5).join('; ')}` },
        });
      }
    }
    const answer = typeof stub.chat === 'function' ? stub.chat(request) : stub.chat;
    reply(res, answer, (content) => ({
      id: `chatcmpl-${stub.requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: request.body.model,
      choices: [
        { index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    }));
  }

  function embeddings(request: StubRequest, res: ServerResponse): void {
    if (stub.embeddings !== 'vectors') return reply(res, stub.embeddings, () => ({}));
    const input = request.body.input ?? [];
    const inputs = Array.isArray(input) ? input : [input];
    const dimensions: number = stub.forceEmbeddingDimensions ?? request.body.dimensions ?? 1536;
    const base64 = request.body.encoding_format === 'base64';
    send(res, 200, {
      object: 'list',
      model: request.body.model,
      data: inputs.map((input, index) => {
        const vector = stubEmbedding(input, dimensions);
        return {
          object: 'embedding',
          index,
          embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
        };
      }),
      usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return stub;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * Bag-of-words vectors, unit length, with a hashing of its own (not the orchestrator's local embedding, so a
 * test can tell which one produced a vector). Texts that share words are similar.
 */
export function stubEmbedding(text: string, dimensions = 1536): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const digest = createHash('md5').update(`stub:${word}`).digest();
    vector[digest.readUInt32LE(0) % dimensions]! += 1;
  }
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector.map((_, i) => (i === 0 ? 1 : 0)) : vector.map((value) => value / norm);
}

/** What OpenAI's strict structured output rejects: objects with optional or extra properties, defaults, oneOf. */
export function strictSchemaProblems(schema: unknown, at: string): string[] {
  if (Array.isArray(schema)) return schema.flatMap((item, i) => strictSchemaProblems(item, `${at}/${i}`));
  if (schema === null || typeof schema !== 'object') return [];
  const node = schema as {
    properties?: Record<string, unknown>;
    required?: string[];
    additionalProperties?: unknown;
    items?: unknown;
    anyOf?: unknown;
    $defs?: Record<string, unknown>;
  };
  const problems: string[] = [];
  if ('default' in node) problems.push(`${at}: 'default' is not permitted`);
  if ('oneOf' in node) problems.push(`${at}: 'oneOf' is not permitted`);
  if (node.properties) {
    const keys = Object.keys(node.properties);
    const required: string[] = node.required ?? [];
    const missing = keys.filter((key) => !required.includes(key));
    if (missing.length) problems.push(`${at}: 'required' must list every property; missing ${missing.join(', ')}`);
    if (node.additionalProperties !== false) problems.push(`${at}: 'additionalProperties' must be false`);
    for (const key of keys) problems.push(...strictSchemaProblems(node.properties[key], `${at}/properties/${key}`));
  }
  if (node.items) problems.push(...strictSchemaProblems(node.items, `${at}/items`));
  if (node.anyOf) problems.push(...strictSchemaProblems(node.anyOf, `${at}/anyOf`));
  for (const [name, def] of Object.entries(node.$defs ?? {}))
    problems.push(...strictSchemaProblems(def, `${at}/$defs/${name}`));
  return problems;
}
