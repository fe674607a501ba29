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
 *
 * A lease given back unlocks its session and keeps the connection (up to `keepIdle` of them) for the next
 * lease: opening one took about a tenth of the time from `POST /sessions` to the first node (issue 11).
 */
export class SessionLeases {
  private readonly idle: pg.Client[] = [];
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly keepIdle = 2,
  ) {}

  /** The session's lease, or null when another driver holds it. */
  async tryAcquire(sessionId: string): Promise<SessionLease | null> {
    const key = [SESSION_LOCK_CLASS, sessionId.toLowerCase()];
    let client = this.idle.pop();
    let acquired: boolean;
    if (client) {
      detach(client);
      try {
        acquired = await tryLock(client, key);
      } catch {
        // Ended while idle (a server restart): a new connection decides.
        await client.end().catch(() => undefined);
        client = undefined;
      }
    }
    if (!client) {
      client = new pg.Client({
        connectionString: this.databaseUrl,
        application_name: 'vibe-orchestrator-lease',
        keepAlive: true,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        acquired = await tryLock(client, key);
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
    }
    const held = client;
    if (!acquired!) {
      this.keep(held);
      return null;
    }
    let released = false;
    let lost = false;
    const listeners: Array<() => void> = [];
    const markLost = () => {
      if (released || lost) return;
      lost = true;
      for (const listener of listeners) listener();
    };
    held.on('error', markLost);
    held.on('end', markLost);
    return {
      get lost() {
        return lost;
      },
      onLost(listener) {
        listeners.push(listener);
        if (lost) listener();
      },
      release: async () => {
        if (released) return;
        released = true;
        if (lost) return;
        detach(held);
        const unlocked = await held
          .query<{ unlocked: boolean }>('select pg_advisory_unlock($1, hashtext($2)) as unlocked', key)
          .then(({ rows }) => rows[0]?.unlocked === true)
          .catch(() => false);
        // A connection whose unlock failed may still hold the lock: only ending it gives the lock up for sure.
        if (unlocked) this.keep(held);
        else await held.end().catch(() => undefined);
      },
    };
  }

  /** Ends the connections kept for later leases (shutdown; leases still held end with their builds). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.idle.splice(0).map((client) => client.end()));
  }

  private keep(client: pg.Client): void {
    if (this.closed || this.idle.length >= this.keepIdle) {
      void client.end().catch(() => undefined);
      return;
    }
    const drop = () => {
      const index = this.idle.indexOf(client);
      if (index !== -1) this.idle.splice(index, 1);
    };
    client.on('error', drop);
    client.on('end', drop);
    this.idle.push(client);
  }
}

async function tryLock(client: pg.Client, key: unknown[]): Promise<boolean> {
  const { rows } = await client.query<{ acquired: boolean }>(
    'select pg_try_advisory_lock($1, hashtext($2)) as acquired',
    key,
  );
  return rows[0]?.acquired === true;
}

/** Removes the listeners of the lease (or the idle list) the connection served, keeping one that swallows errors. */
function detach(client: pg.Client): void {
  client.removeAllListeners('error');
  client.removeAllListeners('end');
  client.on('error', () => undefined);
}
