import { addAppointments } from '../../../test/support/model-plans.js';
import { startOpenAIStub, type OpenAIStub } from '../../../test/support/openai-stub.js';
import { loadOrchestratorConfig } from '../src/config.js';
import { chunkVibe } from '@vibe/planning';
import {
  MODEL_PLAN_JSON_SCHEMA,
  OpenAIPlanner,
  createPlanner,
  toModelPlan,
  type ModelPlan,
} from '../src/planning/openai-planner.js';
import type { PlanInput } from '@vibe/planning';
import { RulesPlanner, planWithRules } from '@vibe/planning';

/**
 * The OpenAI path end to end: the real `@langchain/openai` client, configured as in production, against an
 * OpenAI-compatible server on loopback that answers chat completions with canned plans or errors.
 */

const VIBE = [
  'A marketplace for vintage film cameras, lenses and darkroom gear, where collectors from all over the country',
  'list what they no longer use, describe its condition in detail, set a price and ship it to the buyer once the',
  'order is paid; everything is insured and every seller has a public profile with a short biography.',
  'Buyers and sellers can message each other about an item.',
  'Buyers can book a repair appointment with a seller.',
].join(' ');

const input: PlanInput = {
  vibeText: VIBE,
  chunks: chunkVibe(VIBE),
  template: 'marketplace',
  options: { enableAnalytics: false, enableDriftSentinel: true },
};
const appointmentChunk = input.chunks.find((chunk) => chunk.content.includes('repair appointment'))!.index;

let stub: OpenAIStub;

beforeAll(async () => {
  stub = await startOpenAIStub();
});

afterAll(async () => {
  await stub.close();
});

beforeEach(() => {
  stub.requests.length = 0;
});

const configured = (env: Record<string, string> = {}) =>
  createPlanner(
    loadOrchestratorConfig({
      OPENAI_API_KEY: stub.apiKey,
      OPENAI_BASE_URL: stub.baseURL,
      OPENAI_MODEL: 'gpt-4o-mini-2024-07-18',
      ...env,
    }),
  );

/** An OpenAI planner that does not retry, for the cases where a retry would only repeat the failure. */
const noRetries = () =>
  new OpenAIPlanner(
    { apiKey: stub.apiKey, baseURL: stub.baseURL, model: 'gpt-4o-mini', timeoutMs: 10_000, maxRetries: 0 },
    new RulesPlanner(),
  );

const goodPlan = (): ModelPlan => addAppointments(toModelPlan(planWithRules(input)), appointmentChunk);

describe('OpenAIPlanner against an OpenAI-compatible server', () => {
  it('uses a good plan: planner openai, the baseline kept, the addition traced to its chunk', async () => {
    expect(appointmentChunk).toBeGreaterThan(0);
    stub.chat = { content: JSON.stringify(goodPlan()) };

    const outcome = await configured().plan(input);

    expect(outcome.fallback).toBeNull();
    expect(outcome.plan.planner).toBe('openai');
    const rules = planWithRules(input);
    expect(outcome.plan.tables.map((t) => t.name)).toEqual([...rules.tables.map((t) => t.name), 'appointments']);
    expect(outcome.plan.tables.find((t) => t.name === 'appointments')!.source.chunk).toBe(appointmentChunk);
    expect(outcome.plan.options).toEqual(rules.options);

    const requests = stub.chatRequests();
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.authorization).toBe(`Bearer ${stub.apiKey}`);
    expect(request!.body.model).toBe('gpt-4o-mini-2024-07-18');
    expect(request!.body.response_format).toEqual({
      type: 'json_schema',
      json_schema: expect.objectContaining({ name: 'plan', strict: true, schema: MODEL_PLAN_JSON_SCHEMA }),
    });
    expect(request!.body.messages?.map((m) => m.role)).toEqual(['system', 'user']);
    const [system, user] = request!.body.messages!;
    expect(system!.content).toMatch(/never write SQL/);
    for (const chunk of input.chunks) {
      expect(user!.content).toContain(JSON.stringify({ index: chunk.index, text: chunk.content }));
    }
  });

  it.each([
    ['an answer that is not JSON', '{"tables": [', /the OpenAI call failed: .*JSON/],
    [
      'a plan outside the vocabulary',
      JSON.stringify({ ...goodPlan(), tables: [{ name: "x'); drop table profiles; --", columns: [] }] }),
      /the model's plan does not fit the schema: tables\.0\.name/,
    ],
    [
      'a plan that references a table it does not plan',
      JSON.stringify(
        (() => {
          const plan = goodPlan();
          plan.tables.at(-1)!.columns[2]!.references!.table = 'sellers';
          return plan;
        })(),
      ),
      /the model's plan is invalid: appointments\.seller_id references sellers/,
    ],
    [
      'a plan that makes messages public',
      JSON.stringify(
        (() => {
          const plan = goodPlan();
          plan.policies.push({
            kind: 'public_read',
            table: 'messages',
            where: null,
            ownerColumn: null,
            source: { chunk: 1, reason: 'x' },
          });
          return plan;
        })(),
      ),
      /the model's plan changes the baseline: policy public_read was added to baseline table messages/,
    ],
  ])('falls back to the rules plan on %s, and says why', async (_name, content, reason) => {
    stub.chat = { content };

    const outcome = await noRetries().plan(input);

    expect(outcome.plan).toEqual(planWithRules(input));
    expect(outcome.fallback).toEqual({ from: 'openai', reason: expect.stringMatching(reason) });
    expect(outcome.fallback!.reason.length).toBeLessThanOrEqual(300);
    expect(stub.chatRequests()).toHaveLength(1);
  });

  it('falls back on HTTP 500 after its retries, with a reason that never contains the key', async () => {
    // The error body echoes the key, so an unredacted reason would carry it.
    stub.chat = (request) => ({
      status: 500,
      body: {
        error: { message: `upstream failed for key ${stub.apiKey} (${request.authorization})`, type: 'server_error' },
      },
    });

    const outcome = await configured().plan(input);

    expect(outcome.plan).toEqual(planWithRules(input));
    expect(outcome.fallback).toEqual({
      from: 'openai',
      reason: expect.stringMatching(/^the OpenAI call failed: .*500/),
    });
    expect(outcome.fallback!.reason).toContain('upstream failed for key [redacted]');
    expect(outcome.fallback!.reason).not.toContain(stub.apiKey);
    expect(outcome.fallback!.reason).not.toContain(stub.apiKey.slice(8));
    expect(stub.chatRequests()).toHaveLength(3);
    for (const request of stub.chatRequests()) expect(request.body.model).toBe('gpt-4o-mini-2024-07-18');
  });

  it('falls back when the server does not answer within OPENAI_TIMEOUT_MS', async () => {
    stub.chat = { hang: true };
    const started = Date.now();

    const outcome = await configured({ OPENAI_TIMEOUT_MS: '1000' }).plan(input);

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(outcome.plan).toEqual(planWithRules(input));
    expect(outcome.fallback).toEqual({
      from: 'openai',
      reason: 'the OpenAI call timed out after 1000 ms',
    });
  });

  it('falls back on a rejected key without echoing the configured one', async () => {
    stub.chat = { content: JSON.stringify(goodPlan()) };
    const planner = new OpenAIPlanner(
      {
        apiKey: 'sk-wrong-key-0123456789abcdef',
        baseURL: stub.baseURL,
        model: 'gpt-4o-mini',
        timeoutMs: 10_000,
        maxRetries: 0,
      },
      new RulesPlanner(),
    );

    const outcome = await planner.plan(input);

    expect(outcome.fallback?.reason).toMatch(/401/);
    expect(outcome.fallback?.reason).not.toContain('sk-wrong-key-0123456789abcdef');
    expect(outcome.plan.planner).toBe('rules');
  });
});
