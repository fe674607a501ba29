import pg from 'pg';

/**
 * Advisory-lock class of session leases in the control plane ("orch" in ASCII); the second key is
 * hashtext(session id). Two sessions whose ids hash alike only share a lock: they are driven one after the
 * other, never both at once.
 */
export const SESSION_LOCK_CLASS = 0x6f726368;

/** The right to drive one session, held until released or until its connection ends. */
export interface SessionLease {
  /** True once the connection holding the lock failed: the lock is gone and another replica may drive. */
  readonly lost: boolean;
  /** Called once when the lease is lost (not when it is released). */
  onLost(listener: () => void): void;
  release(): Promise<void>;
}

/**
 * Exactly one driver per session across replicas (DESIGN.md §4): a session-level advisory lock, held on a
 * connection of its own for as long as the build is driven. A driver that dies gives the lock up with its
 * connection, which is how the others tell a live driver from a dead one.
 */
export class SessionLeases {
  constructor(private readonly databaseUrl: string) {}

  /** The session's lease, or null when another driver holds it. */
  async tryAcquire(sessionId: string): Promise<SessionLease | null> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: 'vibe-orchestrator-lease',
      keepAlive: true,
    });
    let released = false;
    let lost = false;
    const listeners: Array<() => void> = [];
    const markLost = () => {
      if (released || lost) return;
      lost = true;
      for (const listener of listeners) listener();
    };
    client.on('error', markLost);
    client.on('end', markLost);
    try {
      await client.connect();
      const { rows } = await client.query<{ acquired: boolean }>(
        'select pg_try_advisory_lock($1, hashtext($2)) as acquired',
        [SESSION_LOCK_CLASS, sessionId.toLowerCase()],
      );
      if (!rows[0]?.acquired) {
        released = true;
        await client.end().catch(() => undefined);
        return null;
      }
    } catch (error) {
      released = true;
      await client.end().catch(() => undefined);
      throw error;
    }
    return {
      get lost() {
        return lost;
      },
      onLost(listener) {
        listeners.push(listener);
        if (lost) listener();
      },
      async release() {
        if (released) return;
        released = true;
        // Ending the session releases every lock it holds.
        await client.end().catch(() => undefined);
      },
    };
  }
}
