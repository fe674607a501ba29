import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newId } from '@vibe/contracts';
import type { EnvironmentApi } from '../drivers/environment-api.js';
import { invokeEdgeFunction } from './invoke-edge-function.js';

/**
 * invoke_edge_function against a real HTTP server that answers as a function endpoint would: every worker busy
 * for a while, then the function's own answer.
 */
describe('invoke_edge_function', () => {
  let server: Server;
  let answers: Array<{ status: number; body: object }>;
  let requests = 0;
  const api: EnvironmentApi = {
    access: async () => ({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/env/e1`,
      anonKey: 'anon-key',
      secrets: [{ name: 'service_role_key', value: 'the-service-role-key' }],
    }),
  };
  const command = {
    version: 1 as const,
    tool: 'invoke_edge_function' as const,
    commandId: newId(),
    sessionId: newId(),
    environmentRef: 'e1',
    slug: 'drift_check',
    method: 'POST' as const,
    auth: 'anon' as const,
    body: {},
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  beforeEach(() => {
    requests = 0;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const workerLimit = { status: 503, body: { code: 'WORKER_LIMIT', message: 'all 8 function workers are busy' } };

  it('asks again while every worker is busy, and returns the function’s own answer', async () => {
    answers = [workerLimit, { status: 546, body: { code: 'WORKER_LIMIT' } }, { status: 200, body: { ok: true } }];
    const result = await invokeEdgeFunction(command, api);
    expect(result).toMatchObject({ status: 200, body: { ok: true }, secretsFound: [] });
    expect(requests).toBe(3);
  });

  it('returns any other 503 as it came, asked once', async () => {
    answers = [{ status: 503, body: { code: 'BOOT_ERROR', message: 'Function failed to start' } }];
    const result = await invokeEdgeFunction(command, api);
    expect(result).toMatchObject({ status: 503, body: { code: 'BOOT_ERROR' } });
    expect(requests).toBe(1);
  });

  it('gives up on a worker limit that does not pass, returning the last answer', async () => {
    answers = [workerLimit];
    const result = await invokeEdgeFunction(command, api);
    expect(result).toMatchObject({ status: 503, body: { code: 'WORKER_LIMIT' } });
    expect(requests).toBe(8);
  }, 20_000);
});
