/**
 * Connections to many databases under one cap. Each environment used to get a pool of its own (2
 * connections, 10 s idle), so a drift round over 100 environments wanted 200 connections of a server that has
 * 100 (issue 11: 33 s rounds, full of "too many clients"). Here all environments share `max` connections:
 * an idle connection is kept for its database (reused by the next call there) until `idleMs` passes or
 * another database needs the slot, the least recently used going first; when every connection is in use,
 * callers wait in line.
 */
export interface BudgetOptions<C> {
  max: number;
  idleMs: number;
  open(key: string): Promise<C>;
  close(client: C): Promise<void>;
}

interface Idle<C> {
  key: string;
  client: C;
  since: number;
}

export class ConnectionBudget<C> {
  /** Idle connections, least recently released first. */
  private idle: Array<Idle<C>> = [];
  private opened = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: BudgetOptions<C>) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, options.idleMs / 2));
    this.sweeper.unref();
  }

  /** Connections open now (in use or idle): never more than `max`. */
  get size(): number {
    return this.opened;
  }

  async acquire(key: string): Promise<C> {
    for (;;) {
      if (this.closed) throw new Error('the connection budget is closed');
      const index = this.idle.findLastIndex((item) => item.key === key);
      if (index !== -1) return this.idle.splice(index, 1)[0]!.client;
      if (this.opened < this.options.max) {
        this.opened++;
        try {
          return await this.options.open(key);
        } catch (error) {
          this.opened--;
          this.wake();
          throw error;
        }
      }
      const victim = this.idle.shift();
      if (victim) {
        this.discard(victim.client);
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Gives a connection back: kept for its database when `reusable`, else closed. */
  release(key: string, client: C, reusable: boolean): void {
    if (reusable && !this.closed) this.idle.push({ key, client, since: Date.now() });
    else this.discard(client);
    this.wake();
  }

  /** Closes the idle connections to one database (dropped, or found missing). */
  forget(key: string): void {
    const [gone, kept] = partition(this.idle, (item) => item.key === key);
    this.idle = kept;
    for (const item of gone) this.discard(item.client);
    if (gone.length) this.wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const idle = this.idle;
    this.idle = [];
    await Promise.allSettled(idle.map((item) => this.options.close(item.client)));
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private sweep(): void {
    const cutoff = Date.now() - this.options.idleMs;
    const [old, fresh] = partition(this.idle, (item) => item.since <= cutoff);
    this.idle = fresh;
    for (const item of old) {
      this.discard(item.client);
      this.wake();
    }
  }

  private discard(client: C): void {
    this.opened--;
    void this.options.close(client).catch(() => undefined);
  }

  private wake(): void {
    this.waiters.shift()?.();
  }
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
