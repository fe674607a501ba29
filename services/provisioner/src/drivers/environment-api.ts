import type { KnownSecret } from '../edge-runtime/secret-scan.js';
import type { ApiCallAudit } from './api-call-audit.js';

/**
 * How a client reaches an environment's HTTP API (`<url>/functions/v1/<slug>`, `<url>/rest/v1/...`) and the
 * environment's secrets, which no response may contain: the local API of this provisioner, or a Supabase
 * project's. What `invoke_edge_function` uses; the secrets never leave the provisioner.
 */
export interface EnvironmentApiAccess {
  url: string;
  /** The publishable anon key (a JWT with role anon). */
  anonKey: string;
  secrets: KnownSecret[];
}

export interface EnvironmentApi {
  access(environmentRef: string, audit?: ApiCallAudit): Promise<EnvironmentApiAccess>;
}

/** Injection token of the configured environment API. */
export const ENVIRONMENT_API = Symbol('ENVIRONMENT_API');
