import { Inject, Injectable } from '@nestjs/common';
import { stableId } from '@vibe/contracts';
import { callProvisioner, JETSTREAM, type JetStreamContext } from '@vibe/platform';
import { SENTINEL_CONFIG, type SentinelConfig } from '../config.js';
import { EnvironmentSnapshot, SNAPSHOT_SQL, type Observed } from '../drift/observed.js';

/**
 * Looks into an environment through the provisioner, read-only (DESIGN.md §1: the sentinel never connects
 * to an environment itself): the catalog snapshot (`execute_sql` in a read-only transaction), the security
 * advisor (`get_advisors`) and the deployed Edge Functions (`list_edge_functions`), at once. Each call is a
 * provisioner command, audited like any other (`provisioner_call`, `mcp_call` events).
 */
@Injectable()
export class EnvironmentInspector {
  constructor(
    @Inject(JETSTREAM) private readonly jetstream: JetStreamContext,
    @Inject(SENTINEL_CONFIG) private readonly config: SentinelConfig,
  ) {}

  /** `attemptKey` names this look (check id and attempt), so the command ids are new for every look. */
  async observe(sessionId: string, environmentRef: string, attemptKey: string): Promise<Observed> {
    const base = (what: string) => ({
      version: 1 as const,
      commandId: stableId(sessionId, `drift:${attemptKey}:${what}`),
      sessionId,
      environmentRef,
    });
    const timeout = this.config.DRIFT_PROVISIONER_TIMEOUT_MS;
    const [snapshot, advisors, functions] = await Promise.all([
      callProvisioner(
        this.jetstream,
        { ...base('snapshot'), tool: 'execute_sql', query: SNAPSHOT_SQL, readOnly: true },
        timeout,
      ),
      callProvisioner(this.jetstream, { ...base('advisors'), tool: 'get_advisors', type: 'security' }, timeout),
      callProvisioner(this.jetstream, { ...base('functions'), tool: 'list_edge_functions' }, timeout),
    ]);
    return {
      snapshot: EnvironmentSnapshot.parse(snapshot.rows[0]?.snapshot),
      lints: advisors.lints,
      edgeFunctions: functions.functions.map((fn) => fn.slug),
    };
  }
}
