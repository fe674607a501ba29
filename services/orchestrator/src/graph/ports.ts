import type {
  BuildEventPayload,
  BuildEventType,
  BuildOutputs,
  EnvironmentInfo,
  Plan,
  PresenceFocus,
  ProvisionCommand,
  ProvisionOutput,
} from '@vibe/contracts';
import type { Planner } from '@vibe/planning';
import type { Embedder } from '../ingest/embedder.js';

/** What the graph's nodes need from the world; the build service wires the real adapters in. */
export interface BuildEventsPort {
  /** Publishes a build event with an id derived from (session, type, key), so a re-run adds nothing. */
  emit<T extends BuildEventType>(
    sessionId: string,
    type: T,
    key: string,
    message: string,
    payload: BuildEventPayload<T>,
  ): Promise<void>;
  presence(sessionId: string, step: string, progress: number, focus: PresenceFocus | null): Promise<void>;
}

export interface SessionStorePort {
  savePlan(sessionId: string, plan: Plan): Promise<void>;
  saveEnvironment(sessionId: string, environment: EnvironmentInfo): Promise<void>;
  /**
   * Records the build's final status. The first final status wins: finishing a session that is already
   * succeeded, failed or canceled changes nothing (a node run again after a crash finishes it again).
   */
  finish(
    sessionId: string,
    result:
      { status: 'succeeded'; outputs: BuildOutputs } | { status: 'failed'; error: string } | { status: 'canceled' },
  ): Promise<void>;
  /** Records that the environment of a canceled or failed build is gone (so it is no longer marked for removal). */
  markEnvironmentRemoved(sessionId: string): Promise<void>;
  /** The session's share token, for the share link a succeeded build hands over. */
  shareToken(sessionId: string): Promise<string>;
}

export interface StoredChunk {
  index: number;
  content: string;
  embedding: number[];
}

export interface SpecChunkStorePort {
  /** Replaces the session's chunks (a re-run of ingest stores the same rows, not twice as many). */
  replace(sessionId: string, chunks: StoredChunk[]): Promise<void>;
}

/** A provisioner command without the fields the port fills in (version, ids). */
export type ProvisionRequest = ProvisionCommand extends infer C
  ? C extends ProvisionCommand
    ? Omit<C, 'version' | 'commandId' | 'sessionId'>
    : never
  : never;

export interface ProvisionerPort {
  /** Sends one command; `key` makes its id stable per session, so a re-run is answered from the ledger. */
  call<R extends ProvisionRequest>(sessionId: string, key: string, request: R): Promise<ProvisionOutput<R['tool']>>;
}

/** A node of the build graph: the eight of spec §6.1, and the two that end a failed or canceled build. */
export type GraphNodeName =
  | 'ingest_vibe'
  | 'generate_plan'
  | 'provision_environment'
  | 'apply_migrations'
  | 'configure_rls'
  | 'deploy_edge_functions'
  | 'configure_analytics'
  | 'finalize'
  | 'discard_environment'
  | 'cancel_build';

/**
 * The driver's hold on a running build, consulted at every node boundary (DESIGN.md §4): whether to go on,
 * stop (the process is shutting down, or it lost its claim on the session) or cancel (the user asked).
 */
export interface DriveControlPort {
  /**
   * Called when a node starts. Resolves `cancel` when a cancel of the session was requested, `run`
   * otherwise; rejects when the drive must stop, so the node does not start and the checkpoint stays
   * before it.
   */
  enterStep(sessionId: string, step: GraphNodeName): Promise<'run' | 'cancel'>;
  /** Waits before a retry; rejects when the drive must stop meanwhile. */
  sleep(sessionId: string, ms: number): Promise<void>;
  /** Failures worth retrying: Postgres, NATS or the provisioner unavailable for a while. */
  isTransient(error: unknown): boolean;
  /** Told about each retry, for the log. */
  retrying(sessionId: string, step: GraphNodeName, attempt: number, delayMs: number, error: unknown): void;
}

/** Retries of transient failures inside a node: a delay that doubles, within a time budget per node. */
export interface RetryPolicy {
  budgetMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/** What finalize hands a frontend (issue 12): share links point at the gateway's public URL. */
export interface HandoverSettings {
  /** Without a trailing slash, e.g. `https://vibe.example.com`. */
  publicBaseUrl: string;
}

/** Analytics settings (spec §10.2): an S3 / Iceberg wrapper's foreign table (`schema.table`), when configured. */
export interface AnalyticsSettings {
  icebergWrapper: string | null;
}

export interface BuildDeps {
  planner: Planner;
  embedder: Embedder;
  events: BuildEventsPort;
  sessions: SessionStorePort;
  chunks: SpecChunkStorePort;
  provisioner: ProvisionerPort;
  control: DriveControlPort;
  retry: RetryPolicy;
  now(): number;
  /** Unset: analytics reads the environment's own tables (local views). */
  analytics?: AnalyticsSettings;
  handover: HandoverSettings;
}
