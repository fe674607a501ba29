import { Cron } from 'croner';

/** A cron schedule in UTC (croner: five fields, or six with seconds first). Pure: it only computes times. */
export interface Schedule {
  /** The first tick strictly after `after`, or null when there is none. */
  next(after: Date): Date | null;
}

/** The schedule of a cron expression, or null when the expression is not one. */
export function parseSchedule(expression: string): Schedule | null {
  try {
    const cron = new Cron(expression, { paused: true, timezone: 'UTC' });
    return { next: (after) => cron.nextRun(after) };
  } catch {
    return null;
  }
}

/**
 * The round a tick starts: the same on every replica (they share the expression and the clock), so the
 * round's jobs dedupe by it and claims are per round.
 */
export function roundOf(tick: Date): string {
  return tick.toISOString();
}

/** A random delay in [0, max): replicas of one tick do not all hit the database at the same instant. */
export function jitter(max: number, random: () => number = Math.random): number {
  return max <= 0 ? 0 : Math.floor(random() * max);
}
