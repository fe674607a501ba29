import type { ProvisionCommand } from '@vibe/contracts';
import { PermanentFailure, TransientFailure } from '../drivers/driver.js';
import { capResult, clip, decideFailure, failedResult, MAX_TRANSIENT_ATTEMPTS, okResult } from './outcome.js';

const command: ProvisionCommand = {
  version: 1,
  tool: 'execute_sql',
  commandId: '8f14e45f-ceea-467f-a0e6-1c5b2a3d4e5f',
  sessionId: '0f8e6c1a-3b2d-4c5e-9f70-81a2b3c4d5e6',
  environmentRef: 'vibe_env_0f8e6c1a3b2d4c5e9f7081a2b3c4d5e6',
  query: 'select 1',
  readOnly: true,
};

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('decideFailure', () => {
  it('makes a described failure final, with its code', () => {
    const decision = decideFailure(new PermanentFailure('environment "x" does not exist', 'environment_not_found'), 1);
    expect(decision).toEqual({
      kind: 'fail',
      failure: { message: 'environment "x" does not exist', code: 'environment_not_found', transient: false },
      internal: false,
    });
  });

  it('retries an unreachable Postgres with a growing delay', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const first = decideFailure(refused, 1);
    const third = decideFailure(pgError('57P03', 'the database system is starting up'), 3);
    expect(first).toMatchObject({ kind: 'retry', delayMs: 500 });
    expect(third).toMatchObject({ kind: 'retry', delayMs: 2000 });
  });

  it('retries an MCP server that could not be reached, and names it when giving up', () => {
    const lost = new TransientFailure('MCP call failed: Connection closed', 'mcp_unavailable');
    expect(decideFailure(lost, 2)).toMatchObject({ kind: 'retry', delayMs: 1000 });
    expect(decideFailure(lost, MAX_TRANSIENT_ATTEMPTS)).toMatchObject({
      kind: 'fail',
      failure: {
        code: 'mcp_unavailable',
        message: expect.stringMatching(/gave up after 10 attempts.*Connection closed/),
      },
    });
  });

  it(`gives up after ${MAX_TRANSIENT_ATTEMPTS} deliveries and says so`, () => {
    const decision = decideFailure(pgError('08006', 'connection failure'), MAX_TRANSIENT_ATTEMPTS);
    expect(decision).toMatchObject({
      kind: 'fail',
      failure: {
        code: '08006',
        transient: false,
        message: expect.stringMatching(/gave up after 10 attempts.*connection failure/),
      },
    });
  });

  it('takes anything else for an internal fault, final and flagged for the log', () => {
    expect(decideFailure(new TypeError('x is undefined'), 1)).toEqual({
      kind: 'fail',
      failure: { message: 'internal error: x is undefined', code: 'internal', transient: false },
      internal: true,
    });
  });

  it('redacts secrets from every message', () => {
    const decision = decideFailure(
      new PermanentFailure(
        'could not reach postgres://admin:hunter2@db:5432/x with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
      ),
      1,
    );
    const text = JSON.stringify(decision);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('eyJzdWIiOiIxIn0');
    expect(text).toContain('[redacted]');
  });
});

describe('results', () => {
  it('carry the command ids and tool', () => {
    expect(okResult(command, { rows: [] })).toEqual({
      version: 1,
      commandId: command.commandId,
      sessionId: command.sessionId,
      tool: 'execute_sql',
      ok: true,
      output: { rows: [] },
    });
    expect(failedResult(command, { message: 'bad', code: '42601' })).toMatchObject({
      ok: false,
      error: { message: 'bad', code: '42601', transient: false },
    });
  });

  it('replace a result too large to publish by a failure that says so', () => {
    const big = okResult(command, { rows: [{ text: 'x'.repeat(2000) }] });
    expect(capResult(big, 10_000)).toBe(big);
    expect(capResult(big, 1000)).toMatchObject({
      ok: false,
      error: {
        code: 'result_too_large',
        message: expect.stringMatching(/execute_sql ran, but its result of \d+ bytes is more than the 1000/),
      },
    });
  });
});

describe('clip', () => {
  it('cuts and marks long text only', () => {
    expect(clip('abc', 3)).toBe('abc');
    expect(clip('abcd', 3)).toBe('abc…');
  });
});
