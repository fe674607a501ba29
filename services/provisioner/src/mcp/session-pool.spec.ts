import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { McpConnector, McpSession, ServerMode } from './mcp-session.js';
import { PooledMcpConnector } from './session-pool.js';

/** A connector whose sessions count what happens to them; `fail` makes the next call throw. */
class CountingConnector implements McpConnector {
  readonly driver = 'local';
  readonly transport = 'in-memory';
  readonly opened: Array<{ ref: string; mode: ServerMode; closed: boolean }> = [];
  fail = false;

  open(ref: string, mode: ServerMode): Promise<McpSession> {
    const record = { ref, mode, closed: false };
    this.opened.push(record);
    return Promise.resolve({
      server: { driver: 'local', mode, transport: 'in-memory' },
      listTools: () => Promise.resolve([]),
      callTool: (name: string) => {
        if (this.fail) return Promise.reject(new Error('the connection was lost'));
        return Promise.resolve({ content: [{ type: 'text', text: `${ref}:${mode}:${name}` }] } as CallToolResult);
      },
      close: () => {
        record.closed = true;
        return Promise.resolve();
      },
    });
  }
}

const given = (settings = { maxIdle: 4, idleMs: 60_000 }) => {
  const inner = new CountingConnector();
  return { inner, pool: new PooledMcpConnector(inner, settings) };
};

describe('PooledMcpConnector', () => {
  it('hands a session back and lends it again to the next command on the same environment and mode', async () => {
    const { inner, pool } = given();
    const first = await pool.open('env_a', 'read-only');
    await first.callTool('list_tables', {});
    await first.close();
    const second = await pool.open('env_a', 'read-only');
    expect(await second.callTool('list_tables', {})).toEqual({
      content: [{ type: 'text', text: 'env_a:read-only:list_tables' }],
    });
    expect(inner.opened).toHaveLength(1);
    expect(inner.opened[0]!.closed).toBe(false);
  });

  it('never mixes modes or environments', async () => {
    const { inner, pool } = given();
    for (const [ref, mode] of [
      ['env_a', 'read-only'],
      ['env_a', 'read-write'],
      ['env_b', 'read-only'],
    ] as const) {
      await (await pool.open(ref, mode)).close();
    }
    const writer = await pool.open('env_a', 'read-write');
    expect(writer.server.mode).toBe('read-write');
    expect(inner.opened.map((o) => `${o.ref}:${o.mode}`)).toEqual([
      'env_a:read-only',
      'env_a:read-write',
      'env_b:read-only',
    ]);
  });

  it('lends a session to one command at a time: a second command at once gets its own', async () => {
    const { inner, pool } = given();
    const one = await pool.open('env_a', 'read-only');
    const two = await pool.open('env_a', 'read-only');
    expect(inner.opened).toHaveLength(2);
    await one.close();
    await two.close();
    // One idle session per environment and mode is kept; the surplus is closed.
    expect(inner.opened.filter((o) => o.closed)).toHaveLength(1);
    expect(pool.size).toBe(1);
  });

  it('closes a session whose call threw instead of handing it back', async () => {
    const { inner, pool } = given();
    const session = await pool.open('env_a', 'read-write');
    inner.fail = true;
    await expect(session.callTool('apply_migration', {})).rejects.toThrow('the connection was lost');
    await session.close();
    expect(inner.opened[0]!.closed).toBe(true);
    inner.fail = false;
    await pool.open('env_a', 'read-write');
    expect(inner.opened).toHaveLength(2);
  });

  it('keeps at most maxIdle sessions, closing the least recently used', async () => {
    const { inner, pool } = given({ maxIdle: 2, idleMs: 60_000 });
    for (const ref of ['env_a', 'env_b', 'env_c']) await (await pool.open(ref, 'read-only')).close();
    expect(pool.size).toBe(2);
    expect(inner.opened.map((o) => `${o.ref}:${o.closed}`)).toEqual(['env_a:true', 'env_b:false', 'env_c:false']);
  });

  it('closes an idle session after idleMs', async () => {
    jest.useFakeTimers();
    try {
      const { inner, pool } = given({ maxIdle: 4, idleMs: 1000 });
      await (await pool.open('env_a', 'read-only')).close();
      await jest.advanceTimersByTimeAsync(1001);
      expect(inner.opened[0]!.closed).toBe(true);
      expect(pool.size).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('closes idle sessions on close(), and sessions lent out when they come back', async () => {
    const { inner, pool } = given();
    await (await pool.open('env_a', 'read-only')).close();
    const lent = await pool.open('env_b', 'read-only');
    await pool.close();
    expect(inner.opened[0]!.closed).toBe(true);
    expect(inner.opened[1]!.closed).toBe(false);
    await lent.close();
    expect(inner.opened[1]!.closed).toBe(true);
  });
});
