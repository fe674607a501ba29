import { callError, readToolResult } from './tool-result.js';
import { wrapUntrustedData } from './untrusted-data.js';

const text = (value: unknown, isError = false) => ({
  content: [{ type: 'text' as const, text: JSON.stringify(value) }],
  ...(isError && { isError }),
});

describe('readToolResult', () => {
  it('reads a JSON result', () => {
    expect(readToolResult(text({ url: 'https://x.supabase.co' }))).toEqual({
      ok: true,
      value: { url: 'https://x.supabase.co' },
    });
  });

  it('takes execute_sql rows out of their untrusted-data boundaries', () => {
    expect(readToolResult(text({ result: wrapUntrustedData([{ n: 1 }]) }))).toEqual({
      ok: true,
      value: { result: [{ n: 1 }] },
    });
  });

  it('reads a failure with its code, transient when the database was unreachable', () => {
    expect(
      readToolResult(text({ error: { name: 'PermanentFailure', message: 'syntax error', code: '42601' } }, true)),
    ).toEqual({ ok: false, error: { message: 'syntax error', code: '42601', transient: false } });
    expect(
      readToolResult(text({ error: { name: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } }, true)),
    ).toMatchObject({ ok: false, error: { transient: true } });
    expect(
      readToolResult(text({ error: { name: 'error', message: 'terminating', code: '57P01' } }, true)),
    ).toMatchObject({
      error: { transient: true },
    });
  });

  it('takes the official server’s `fetch failed` (the Management API unreachable) for transient', () => {
    expect(readToolResult(text({ error: { name: 'TypeError', message: 'fetch failed' } }, true))).toEqual({
      ok: false,
      error: { message: 'fetch failed', code: null, transient: true },
    });
  });

  it('keeps a text that is not JSON as it is', () => {
    expect(readToolResult({ content: [{ type: 'text', text: 'hello' }] })).toEqual({ ok: true, value: 'hello' });
    expect(readToolResult({ content: [{ type: 'text', text: 'boom' }], isError: true })).toEqual({
      ok: false,
      error: { message: 'boom', code: null, transient: false },
    });
  });
});

describe('callError', () => {
  it('makes a lost connection or a timeout transient', () => {
    expect(callError(new Error('Connection closed'))).toEqual({
      message: 'MCP call failed: Connection closed',
      code: 'mcp_unavailable',
      transient: true,
    });
  });
});
