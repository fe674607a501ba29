import { Injectable } from '@nestjs/common';

/**
 * Whether this provisioner is running commands, for background work that should not compete with them: the
 * replacement of a spare database or Deno process taken by a build. On two cores, a spare clone (80-100 ms of
 * Postgres' CPU) and a Deno start (about 60 ms) made during a build's later steps lengthened the build; made
 * once the provisioner has been quiet for a moment, they are ready for the next one all the same.
 */
@Injectable()
export class CommandActivity {
  private running = 0;
  private lastEnded = 0;

  /** Runs `work` as a command: the provisioner is busy until it settles. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.lastEnded = Date.now();
    }
  }

  /** Milliseconds until no command will have run for `quietMs`; 0 when that is so now. */
  quietIn(quietMs: number): number {
    if (this.running > 0) return quietMs;
    return Math.max(0, this.lastEnded + quietMs - Date.now());
  }

  /**
   * Calls `then` once no command has run for `quietMs`, or `maxWaitMs` from now, whichever comes first (under
   * steady load the work is not put off forever); never before the current task ends. Returns a cancel function.
   */
  whenQuiet(quietMs: number, maxWaitMs: number, then: () => void): () => void {
    const deadline = Date.now() + maxWaitMs;
    const check = () => {
      const wait = Math.min(this.quietIn(quietMs), deadline - Date.now());
      if (wait <= 0) then();
      else timer = setTimeout(check, wait).unref();
    };
    let timer = setTimeout(check, 0).unref();
    return () => clearTimeout(timer);
  }
}

/** How long the provisioner must have run no command before a spare is replaced. */
export const SPARE_REFILL_QUIET_MS = 150;
/** The longest a spare's replacement waits for that quiet. */
export const SPARE_REFILL_MAX_WAIT_MS = 2_000;
