import { Annotation } from '@langchain/langgraph';
import type { BuildOptions, EnvironmentInfo, Plan, Template } from '@vibe/contracts';

export interface BuiltTable {
  name: string;
  rlsEnabled: boolean;
}

export interface BuiltPolicy {
  table: string;
  name: string;
  command: string;
  roles: string[];
}

export interface AnalyticsResult {
  configured: boolean;
  provenance: string | null;
  rowCount: number;
}

export interface BuildFailure {
  step: string;
  message: string;
}

const last = <T>(initial: () => T) => Annotation<T>({ reducer: (_, next) => next, default: initial });

/** The build's state, checkpointed between nodes. */
export const BuildState = Annotation.Root({
  sessionId: Annotation<string>,
  template: Annotation<Template>,
  vibeText: Annotation<string>,
  options: Annotation<BuildOptions>,
  startedAt: Annotation<number>,
  chunkCount: last<number>(() => 0),
  plan: last<Plan | null>(() => null),
  environment: last<EnvironmentInfo | null>(() => null),
  tables: last<BuiltTable[]>(() => []),
  policies: last<BuiltPolicy[]>(() => []),
  functions: last<string[]>(() => []),
  analytics: last<AnalyticsResult>(() => ({ configured: false, provenance: null, rowCount: 0 })),
  /** What a step left for later, said in its event and kept in the outputs. */
  deferred: Annotation<string[]>({ reducer: (all, more) => [...all, ...more], default: () => [] }),
  failure: last<BuildFailure | null>(() => null),
  /** Set when a cancel was seen at the start of this node: the build ends in `cancel_build`. */
  canceledAt: last<string | null>(() => null),
});

export type BuildStateValue = typeof BuildState.State;
export type BuildStateUpdate = typeof BuildState.Update;
