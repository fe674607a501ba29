/**
 * JetStream topology: stream, subject, consumer and KV bucket names.
 *
 * WIRE CONTRACT: these names are persisted in JetStream and used by every service. Add new ones; never
 * rename a published one. A namespace (NATS_NAMESPACE) prefixes everything so that tests and several
 * deployments can share one NATS server without seeing each other; the default namespace is empty.
 */
export interface Topology {
  readonly namespace: string;
  readonly streams: {
    /** Every event of every build, the audit log (limits retention). */
    readonly events: string;
    /** Build commands for the orchestrators (work queue). */
    readonly buildCommands: string;
    /** Commands for the provisioners (work queue, one durable consumer shared by all replicas). */
    readonly provisionCommands: string;
    /** Provisioner results, readable again after a crash (limits retention). */
    readonly provisionResults: string;
    /** Drift checks for the sentinels (work queue): scheduled rounds and on-demand requests. */
    readonly driftChecks: string;
    /** Answers to on-demand drift checks (limits retention, short max age). */
    readonly driftResults: string;
  };
  readonly consumers: {
    readonly orchestrator: string;
    readonly provisioner: string;
    readonly projector: string;
    /** Scheduled drift checks, shared by every sentinel replica. */
    readonly driftScheduled: string;
    /** On-demand drift checks: a consumer of its own, so a request never waits behind a round. */
    readonly driftRequests: string;
  };
  readonly kv: {
    /** Latest architect presence per session (spec §5.1), keyed by session id. */
    readonly presence: string;
  };
  readonly subjects: {
    readonly allEvents: string;
    event(sessionId: string, type: string): string;
    sessionEvents(sessionId: string): string;
    readonly allBuildCommands: string;
    buildCommand(kind: string): string;
    readonly allProvisionCommands: string;
    provisionCommand(kind: string): string;
    readonly allProvisionResults: string;
    provisionResult(commandId: string): string;
    readonly allDriftChecks: string;
    /** `scheduled` or `request`. */
    driftCheck(kind: string): string;
    readonly allDriftResults: string;
    driftResult(requestId: string): string;
  };
}

const NAMESPACE_PATTERN = /^[A-Za-z0-9_-]*$/;

export function topology(namespace = ''): Topology {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`NATS namespace "${namespace}" may hold only letters, digits, "_" and "-"`);
  }
  const stream = (name: string) => (namespace ? `${namespace}_${name}` : name);
  const subject = (name: string) => (namespace ? `${namespace}.${name}` : name);
  return {
    namespace,
    streams: {
      events: stream('BUILD_EVENTS'),
      buildCommands: stream('BUILD_COMMANDS'),
      provisionCommands: stream('PROVISION_COMMANDS'),
      provisionResults: stream('PROVISION_RESULTS'),
      driftChecks: stream('DRIFT_CHECKS'),
      driftResults: stream('DRIFT_RESULTS'),
    },
    consumers: {
      orchestrator: 'orchestrator',
      provisioner: 'provisioner',
      projector: 'realtime-bridge-projector',
      driftScheduled: 'drift-sentinel-scheduled',
      driftRequests: 'drift-sentinel-requests',
    },
    kv: { presence: stream('BUILD_PRESENCE') },
    subjects: {
      allEvents: subject('evt.build.>'),
      event: (sessionId, type) => subject(`evt.build.${sessionId}.${type}`),
      sessionEvents: (sessionId) => subject(`evt.build.${sessionId}.>`),
      allBuildCommands: subject('cmd.build.>'),
      buildCommand: (kind) => subject(`cmd.build.${kind}`),
      allProvisionCommands: subject('cmd.provision.>'),
      provisionCommand: (kind) => subject(`cmd.provision.${kind}`),
      allProvisionResults: subject('res.provision.>'),
      provisionResult: (commandId) => subject(`res.provision.${commandId}`),
      allDriftChecks: subject('cmd.drift.>'),
      driftCheck: (kind) => subject(`cmd.drift.${kind}`),
      allDriftResults: subject('res.drift.>'),
      driftResult: (requestId) => subject(`res.drift.${requestId}`),
    },
  };
}
