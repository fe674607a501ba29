import { RunControl } from '@langchain/langgraph';
import type { SessionLease } from './session-lease.js';

/** Why a drive ended before its build did: the process is shutting down, or the session lock was lost. */
export class DriveStoppedError extends Error {
  override readonly name = 'DriveStoppedError';
}

/**
 * One run of a session's build graph by this process, from taking the session's lease to releasing it.
 * Stopping is cooperative first (LangGraph's RunControl drains at the next node boundary, after the
 * checkpoint), then forced (the run is aborted where it is and resumes from the checkpoint before it).
 */
export class Drive {
  readonly runControl = new RunControl();
  readonly abortController = new AbortController();
  private stopReason: string | null = null;
  private readonly wakers = new Set<() => void>();

  constructor(
    readonly sessionId: string,
    readonly lease: SessionLease,
  ) {}

  /** Why the drive is stopping, or null while it goes on. */
  get stopping(): string | null {
    return this.stopReason;
  }

  /** Stop at the next node boundary. */
  stop(reason: string): void {
    if (this.stopReason !== null) return;
    this.stopReason = reason;
    this.runControl.requestDrain(reason);
    for (const wake of this.wakers) wake();
  }

  /** Stop now: the node that runs is abandoned (it runs again on resume; nodes are idempotent). */
  abort(reason: string): void {
    this.stop(reason);
    if (!this.abortController.signal.aborted) this.abortController.abort(new DriveStoppedError(reason));
  }

  /** Waits `ms`; rejects with DriveStoppedError as soon as the drive is told to stop. */
  sleep(ms: number): Promise<void> {
    if (this.stopReason !== null) return Promise.reject(new DriveStoppedError(this.stopReason));
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        reject(new DriveStoppedError(this.stopReason ?? 'stopped'));
      };
      const timer = setTimeout(() => {
        this.wakers.delete(wake);
        resolve();
      }, ms);
      this.wakers.add(wake);
    });
  }
}
