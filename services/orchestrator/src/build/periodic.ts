import type { Logger } from '@nestjs/common';
import { redactText } from '@vibe/platform';
import { errorMessage } from '../graph/step.js';

/**
 * Work a replica does at start and every `intervalMs` (adoption scans, the demo sweep): never two runs at once
 * (a tick while one runs is skipped), a failed run logged and tried again at the next tick, and the run in
 * progress awaited when the service stops.
 */
export class Periodic {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly run: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private tick(): void {
    this.running ??= this.run()
      .catch((error: unknown) => this.logger.warn(`${this.what} failed: ${redactText(errorMessage(error))}`))
      .finally(() => {
        this.running = null;
      });
  }
}
