import type { McpConnector, McpSession, ServerMode } from './mcp-session.js';

export interface SessionPoolSettings {
  /** Idle sessions kept at most (all environments and modes together); the least recently used go first. */
  maxIdle: number;
  /** How long an idle session is kept before it is closed. */
  idleMs: number;
}

interface Idle {
  session: McpSession;
  timer: NodeJS.Timeout;
}

/**
 * Keeps MCP sessions open between commands. A build sends some twenty commands to one environment, and
 * opening a session is the costly part of a short call: an in-memory server with its tool schemas and an SDK
 * client with its validators (a tenth of the provisioner's CPU per build, issue 11), or a process for the
 * official server. A session is lent to one command at a time, per environment and mode (read-only and
 * read-write sessions never mix); `close()` hands it back. A session whose call threw (the connection lost,
 * a timeout) is closed rather than handed back, so the next command opens a fresh one.
 */
export class PooledMcpConnector implements McpConnector {
  readonly driver: McpConnector['driver'];
  readonly transport: McpConnector['transport'];
  /** Insertion order is recency: the first entry is the least recently handed back. */
  private readonly idle = new Map<string, Idle>();
  private closed = false;

  constructor(
    private readonly inner: McpConnector,
    private readonly settings: SessionPoolSettings,
  ) {
    this.driver = inner.driver;
    this.transport = inner.transport;
  }

  /** Idle sessions held now. */
  get size(): number {
    return this.idle.size;
  }

  async open(environmentRef: string, mode: ServerMode): Promise<McpSession> {
    const key = `${mode}\0${environmentRef}`;
    const kept = this.idle.get(key);
    let session: McpSession;
    if (kept) {
      this.idle.delete(key);
      clearTimeout(kept.timer);
      session = kept.session;
    } else {
      session = await this.inner.open(environmentRef, mode);
    }
    let returned = false;
    let broken = false;
    return {
      server: session.server,
      ...(session.pid !== undefined && { pid: session.pid }),
      listTools: () => session.listTools(),
      callTool: async (name, args) => {
        try {
          return await session.callTool(name, args);
        } catch (error) {
          broken = true;
          throw error;
        }
      },
      close: async () => {
        if (returned) return;
        returned = true;
        if (broken || this.closed || this.settings.maxIdle === 0) await session.close();
        else await this.giveBack(key, session);
      },
    };
  }

  /** Closes the idle sessions; sessions lent out are closed when they come back. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()];
    this.idle.clear();
    await Promise.allSettled(
      all.map((entry) => {
        clearTimeout(entry.timer);
        return entry.session.close();
      }),
    );
  }

  /** Shutdown (Nest lifecycle). */
  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  private async giveBack(key: string, session: McpSession): Promise<void> {
    const surplus: McpSession[] = [];
    const already = this.idle.get(key);
    if (already) {
      // Two commands on one environment at once: one idle session per key is enough.
      surplus.push(session);
    } else {
      const timer = setTimeout(() => void this.expire(key, session), this.settings.idleMs);
      timer.unref();
      this.idle.set(key, { session, timer });
      while (this.idle.size > this.settings.maxIdle) {
        const [oldestKey, oldest] = this.idle.entries().next().value!;
        this.idle.delete(oldestKey);
        clearTimeout(oldest.timer);
        surplus.push(oldest.session);
      }
    }
    await Promise.allSettled(surplus.map((extra) => extra.close()));
  }

  private async expire(key: string, session: McpSession): Promise<void> {
    if (this.idle.get(key)?.session !== session) return;
    this.idle.delete(key);
    await session.close().catch(() => undefined);
  }
}
