import { z } from 'zod';
import { BaseConfig, port } from '@vibe/platform';
import { parseSchedule } from './checks/schedule.js';

/** The sentinel's environment, validated once at boot: a bad value stops it with the variable's name. */
export const SentinelConfig = BaseConfig.extend({
  PORT: port(3003),
  /**
   * When scheduled checks run: a cron expression in UTC (five fields, or six with seconds first), or `off`.
   * Every replica runs the schedule; each environment is checked by one of them per tick.
   */
  DRIFT_SCHEDULE: z
    .string()
    .trim()
    .default('*/5 * * * *')
    .refine((value) => value === 'off' || parseSchedule(value) !== null, {
      message: 'a cron expression such as "*/5 * * * *" (or "off")',
    }),
  /** Each replica publishes a round up to this long after its tick, so replicas and deployments spread out. */
  DRIFT_JITTER_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  /** Checks one replica runs at once. */
  DRIFT_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  /** Days a check's record (`drift_checks`) is kept; alerts are kept. */
  DRIFT_CHECK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
  /** How long a check waits for each provisioner answer. */
  DRIFT_PROVISIONER_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(60_000),
});
export type SentinelConfig = z.infer<typeof SentinelConfig>;

/** Injection token of the parsed configuration. */
export const SENTINEL_CONFIG = Symbol('SENTINEL_CONFIG');
