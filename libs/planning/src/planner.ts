import type { BuildOptions, Plan, Template } from '@vibe/contracts';
import type { VibeChunk } from './chunk.js';

/** What a planner is given: the vibe, its chunks (indexes as stored in `spec_chunks`), template and options. */
export interface PlanInput {
  vibeText: string;
  chunks: VibeChunk[];
  template: Template;
  options: Pick<BuildOptions, 'enableAnalytics' | 'enableDriftSentinel'>;
}

export interface PlanOutcome {
  plan: Plan;
  /** Set when a model planner was tried and the rules planner stepped in; says why. */
  fallback: { from: 'openai'; reason: string } | null;
}

export interface Planner {
  plan(input: PlanInput): Promise<PlanOutcome>;
}
