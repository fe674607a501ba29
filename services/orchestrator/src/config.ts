import { BaseConfig, loadConfig, port } from '@vibe/platform';
import { z } from 'zod';
import type { GraphNodeName } from './graph/ports.js';
import { GRAPH_NODES } from './graph/step.js';

const ms = (defaultMs: number, min = 0) => z.coerce.number().int().min(min).default(defaultMs);

export const OrchestratorConfig = BaseConfig.extend({
  PORT: port(3001),
  /** Builds driven at once by this replica (from commands and from adoption together). */
  BUILD_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** How long one provisioner command may take before the attempt counts as a transient failure. */
  PROVISION_TIMEOUT_MS: ms(120_000, 1000),
  /**
   * Adoption (DESIGN.md §4): every ADOPT_INTERVAL_MS, and at start, this replica resumes sessions with work
   * left that nobody drives: `running` ones whose driver died, and `queued` ones older than
   * ADOPT_QUEUED_AFTER_MS (their start command was lost). With the defaults a session whose driver died is
   * adopted within 10 s, a queued session without a command within 20 s.
   */
  ADOPT_INTERVAL_MS: ms(10_000, 100),
  ADOPT_QUEUED_AFTER_MS: ms(10_000),
  /** Retries of transient failures inside one node: a delay doubling from 250 ms to 5 s, within this budget. */
  STEP_RETRY_BUDGET_MS: ms(60_000),
  STEP_RETRY_INITIAL_DELAY_MS: ms(250, 1),
  STEP_RETRY_MAX_DELAY_MS: ms(5_000, 1),
  /**
   * Demo environments (sessions with `options.demo`, and every anonymous build) are torn down this long after
   * their session was created, by a sweeper that runs every DEMO_SWEEP_INTERVAL_MS on every replica (each expired
   * session is claimed by one). Default: one day.
   */
  DEMO_ENVIRONMENT_TTL_SECONDS: z.coerce.number().int().min(1).default(86_400),
  DEMO_SWEEP_INTERVAL_MS: ms(60_000, 100),
  /**
   * A teardown (`DELETE /sessions/:id` or an expiry) not finished this long after it was asked for (its command
   * was lost, or the provisioner refused) is sent again by the sweeper.
   */
  TEARDOWN_RESEND_AFTER_MS: ms(600_000, 1000),
  /**
   * The gateway's public URL (where its viewer page is): a succeeded build's share link is
   * `<PUBLIC_BASE_URL>/?session=<id>#share=<share token>` (issue 12). Scheme, host, port and an optional path.
   */
  PUBLIC_BASE_URL: z
    .url()
    .default('http://127.0.0.1:3000')
    .refine((value) => ['http:', 'https:'].includes(new URL(value).protocol), 'an http(s) URL')
    .refine((value) => {
      const url = new URL(value);
      return !url.username && !url.password && !url.search && !url.hash;
    }, 'no credentials, query or fragment')
    .transform((value) => value.replace(/\/+$/, '')),
  /** Runs of one build (first run, resumes) before it is failed as one that cannot be finished. */
  MAX_BUILD_ATTEMPTS: z.coerce.number().int().min(1).default(10),
  /**
   * On SIGTERM, running builds stop at their next node boundary (a checkpoint); those still inside a node
   * after this long are interrupted there and resumed from the checkpoint before it.
   */
  SHUTDOWN_GRACE_MS: ms(10_000),
  /**
   * TEST HOOK, honoured only when set: comma-separated node names at whose start every build pauses for
   * VIBE_TEST_PAUSE_MS after printing `VIBE_TEST_PAUSED node=<node> session=<id>`, so that a test can kill
   * or cancel a build while a given node runs. Unset in every deployment.
   */
  VIBE_TEST_PAUSE_AT_NODE: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    )
    .refine(
      (names) => names.every((name) => (GRAPH_NODES as readonly string[]).includes(name)),
      `node names only: ${GRAPH_NODES.join(', ')}`,
    )
    .transform((names) => names as GraphNodeName[]),
  VIBE_TEST_PAUSE_MS: ms(600_000),
  /**
   * When set, plans come from OpenAI and embeddings from OpenAI's API (DESIGN.md §3); unset (or empty), the
   * rules planner and the local embedding. A secret: never logged, never in an event.
   */
  OPENAI_API_KEY: z
    .string()
    .optional()
    .transform((key) => key?.trim() || undefined),
  /** An OpenAI-compatible endpoint instead of api.openai.com, e.g. `http://127.0.0.1:8080/v1`. */
  OPENAI_BASE_URL: z
    .string()
    .optional()
    .transform((url) => url?.trim() || undefined)
    .pipe(z.url().optional()),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /**
   * Spec §10.2: the foreign table (`schema.table`) of an S3 / Iceberg wrapper that environments have (for
   * example a Supabase Wrappers `iceberg_fdw` table, made by the parent project's migrations, which branches
   * run). When set, analytics reads it and says so; unset, the environment's own tables (local views).
   */
  ANALYTICS_ICEBERG_WRAPPER: z
    .string()
    .optional()
    .transform((value) => value?.trim() || undefined)
    .pipe(
      z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/, 'a foreign table as schema.table, lower-case')
        .optional(),
    ),
  /** Must return 1536 dimensions (spec_chunks.embedding); text-embedding-3-* do when asked to. */
  OPENAI_EMBEDDING_MODEL: z.string().min(1).default('text-embedding-3-small'),
  /** How long planning with OpenAI may take, retries included, before the rules planner steps in. */
  OPENAI_TIMEOUT_MS: ms(60_000, 1000),
});
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;

export const ORCHESTRATOR_CONFIG = Symbol('ORCHESTRATOR_CONFIG');

export function loadOrchestratorConfig(env: NodeJS.ProcessEnv = process.env): OrchestratorConfig {
  return loadConfig(OrchestratorConfig, env);
}
