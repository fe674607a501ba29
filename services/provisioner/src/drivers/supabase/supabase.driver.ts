import { randomBytes } from 'node:crypto';
import type {
  EnvironmentInfo,
  EnvironmentMode,
  ProvisionCommand,
  ProvisionCommandOf,
  ProvisionOutput,
} from '@vibe/contracts';
import type { ProvisionerConfig } from '../../config.js';
import type { ApiCallAudit } from '../api-call-audit.js';
import { environmentRefOf, PermanentFailure, TransientFailure, type EnvironmentDriver } from '../driver.js';
import type { EnvironmentApi, EnvironmentApiAccess } from '../environment-api.js';
import { ManagementApi, ManagementApiError } from './management-api.js';

/**
 * The cloud driver (DESIGN.md §3): environments are Supabase branches (of SUPABASE_PARENT_PROJECT_REF, fast)
 * or projects (in SUPABASE_ORG_ID, slow), made and removed through the Management API; everything inside
 * them goes through the official MCP server (src/mcp/supabase). Each environment is named after its session
 * (`vibe-<session id>`), so a create run again after a crash finds the one it made, and a delete can only
 * remove the session's own.
 *
 * A new environment is usable when the Management API says so (branch MIGRATIONS_PASSED or
 * FUNCTIONS_DEPLOYED, project ACTIVE_HEALTHY) and a probe agrees: its project answers ACTIVE_HEALTHY and
 * `select 1` runs (a branch reports ready before its database is). Polled with a growing delay until
 * SUPABASE_CREATE_TIMEOUT_MS; one that fails (MIGRATIONS_FAILED, INIT_FAILED, ...) or times out is deleted.
 */
export interface SupabaseDriverSettings {
  api: ManagementApi;
  /** The project whose branches environments are ("branch" mode). */
  parentProjectRef: string | null;
  /** The organization (its id, which is its slug) new projects go to ("project" mode). */
  organization: string | null;
  region: string;
  /** `https://{ref}.supabase.co`. */
  projectUrlTemplate: string;
  createTimeoutMs: number;
  pollInitialMs: number;
  pollMaxMs: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** A branch as the Management API returns it (BranchResponse). */
export interface Branch {
  id: string;
  name: string;
  project_ref: string;
  parent_project_ref: string;
  is_default: boolean;
  persistent: boolean;
  status:
    | 'CREATING_PROJECT'
    | 'RUNNING_MIGRATIONS'
    | 'MIGRATIONS_PASSED'
    | 'MIGRATIONS_FAILED'
    | 'FUNCTIONS_DEPLOYED'
    | 'FUNCTIONS_FAILED';
  created_at: string;
  updated_at: string;
}

/** A project as the Management API returns it (V1ProjectResponse). */
export interface Project {
  id: string;
  ref: string;
  organization_id?: string;
  organization_slug?: string;
  name: string;
  region: string;
  created_at: string;
  status: string;
}

export interface ApiKey {
  name: string;
  api_key: string | null;
  type?: 'legacy' | 'publishable' | 'secret' | null;
  id?: string | null;
}

const BRANCH_READY = new Set(['MIGRATIONS_PASSED', 'FUNCTIONS_DEPLOYED']);
const BRANCH_FAILED = new Set(['MIGRATIONS_FAILED', 'FUNCTIONS_FAILED']);
const PROJECT_FAILED = new Set(['INIT_FAILED', 'REMOVED', 'RESTORE_FAILED', 'PAUSE_FAILED', 'GOING_DOWN', 'INACTIVE']);
/** API keys are kept this long per environment, to spare the rate limit. */
const KEYS_TTL_MS = 5 * 60_000;

export class SupabaseDriver implements EnvironmentDriver, EnvironmentApi {
  readonly kind = 'supabase';
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly keys = new Map<string, { at: number; keys: ApiKey[] }>();

  constructor(private readonly settings: SupabaseDriverSettings) {
    this.sleep = settings.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = settings.now ?? Date.now;
  }

  targetOf(command: ProvisionCommand): string | null {
    return environmentRefOf(command);
  }

  projectUrl(ref: string): string {
    return this.settings.projectUrlTemplate.replaceAll('{ref}', encodeURIComponent(ref));
  }

  async createEnvironment(
    command: ProvisionCommandOf<'create_environment'>,
    audit?: ApiCallAudit,
  ): Promise<ProvisionOutput<'create_environment'>> {
    const name = environmentName(command.sessionId);
    const ref =
      command.mode === 'branch' ? await this.createBranch(name, audit) : await this.createProject(name, audit);
    return { environment: this.environmentInfo(ref, command.mode) };
  }

  async deleteEnvironment(
    command: ProvisionCommandOf<'delete_environment'>,
    audit?: ApiCallAudit,
  ): Promise<ProvisionOutput<'delete_environment'>> {
    const name = environmentName(command.sessionId);
    const check = (ref: string) => {
      if (command.environmentRef !== null && command.environmentRef !== ref) {
        throw new PermanentFailure(
          `environment ref "${command.environmentRef.slice(0, 80)}" is not the environment of session ${command.sessionId}`,
          'invalid_environment_ref',
        );
      }
    };
    if (this.settings.parentProjectRef) {
      const branch = await this.findBranch(name, audit);
      if (branch) {
        check(branch.project_ref);
        await this.deleteBranch(branch, audit);
        return { ref: branch.project_ref, deleted: true };
      }
    }
    if (this.settings.organization) {
      const project = await this.findProject(name, audit);
      if (project) {
        check(project.ref);
        await this.deleteProject(project.ref, audit);
        return { ref: project.ref, deleted: true };
      }
    }
    return { ref: command.environmentRef ?? name, deleted: false };
  }

  /** The project URL, its anon key and the secrets no response may hold (service-role and secret keys). */
  async access(ref: string, audit?: ApiCallAudit): Promise<EnvironmentApiAccess> {
    const keys = await this.apiKeys(ref, audit);
    const anon =
      keys.find((key) => key.name === 'anon' && key.api_key) ?? keys.find((key) => key.type === 'publishable');
    if (!anon?.api_key) {
      throw new PermanentFailure(`project ${ref} has no anon or publishable key`, 'no_publishable_key');
    }
    return {
      url: this.projectUrl(ref),
      anonKey: anon.api_key,
      secrets: keys
        .filter((key) => (key.name === 'service_role' || key.type === 'secret') && key.api_key)
        .map((key) => ({ name: `${key.name}_key`, value: key.api_key! })),
    };
  }

  /** Runs SQL through the Management API (`POST /v1/projects/{ref}/database/query`): the readiness probe. */
  async runQuery(ref: string, query: string, options: { readOnly: boolean; audit?: ApiCallAudit; attempts?: number }) {
    const { data } = await this.settings.api.request<Array<Record<string, unknown>>>({
      method: 'POST',
      path: `/v1/projects/${ref}/database/query`,
      json: { query, read_only: options.readOnly },
      environment: ref,
      audit: options.audit,
      attempts: options.attempts,
    });
    return data ?? [];
  }

  /**
   * Deploys an Edge Function as `supabase functions deploy` does (`POST /v1/projects/{ref}/functions/deploy`,
   * multipart: a JSON `metadata` part and one `file` part per file). The build deploys through the official
   * MCP server, which makes this same request (spec §7.3); this is the driver's direct way.
   */
  async deployFunction(
    ref: string,
    fn: {
      slug: string;
      entrypointPath: string;
      importMapPath?: string;
      verifyJwt: boolean;
      files: ReadonlyArray<{ name: string; content: string }>;
    },
    audit?: ApiCallAudit,
  ): Promise<Record<string, unknown>> {
    const metadata = {
      name: fn.slug,
      entrypoint_path: fn.entrypointPath,
      ...(fn.importMapPath && { import_map_path: fn.importMapPath }),
      verify_jwt: fn.verifyJwt,
    };
    const form = new FormData();
    form.append('metadata', new Blob([JSON.stringify(metadata)], { type: 'application/json' }));
    for (const file of fn.files) {
      form.append('file', new Blob([file.content], { type: 'application/typescript' }), file.name);
    }
    const { data } = await this.settings.api.request<Record<string, unknown>>({
      method: 'POST',
      path: `/v1/projects/${ref}/functions/deploy`,
      query: { slug: fn.slug },
      form,
      auditInput: {
        metadata,
        files: fn.files.map((file) => ({ name: file.name, bytes: Buffer.byteLength(file.content) })),
      },
      environment: ref,
      audit,
    });
    return data ?? {};
  }

  /** Sets Edge Function secrets (`POST /v1/projects/{ref}/secrets`); the values are redacted in the audit. */
  async setSecrets(ref: string, secrets: Record<string, string>, audit?: ApiCallAudit): Promise<void> {
    await this.settings.api.request({
      method: 'POST',
      path: `/v1/projects/${ref}/secrets`,
      json: Object.entries(secrets).map(([name, value]) => ({ name, value })),
      auditInput: { names: Object.keys(secrets) },
      environment: ref,
      audit,
    });
  }

  private environmentInfo(ref: string, mode: EnvironmentMode): EnvironmentInfo {
    return {
      driver: 'supabase',
      mode,
      ref,
      apiUrl: this.projectUrl(ref),
      createdAt: new Date(this.now()).toISOString(),
    };
  }

  private async createBranch(name: string, audit?: ApiCallAudit): Promise<string> {
    const parent = this.settings.parentProjectRef;
    if (!parent) {
      throw new PermanentFailure(
        'a "branch" environment needs SUPABASE_PARENT_PROJECT_REF (the project to branch from)',
        'not_configured',
      );
    }
    let branch = await this.findBranch(name, audit);
    if (!branch) {
      const { data } = await this.settings.api.request<Branch>({
        method: 'POST',
        path: `/v1/projects/${parent}/branches`,
        json: { branch_name: name, persistent: false },
        environment: null,
        audit,
      });
      branch = expectBranch(data);
    }
    const ref = branch.project_ref;
    try {
      await this.waitUntilUsable(`branch ${name} (${ref})`, audit, async () => {
        const current = await this.findBranch(name, audit);
        if (!current)
          throw new PermanentFailure(`branch ${name} disappeared while it was being created`, 'branch_gone');
        if (BRANCH_FAILED.has(current.status)) {
          throw new PermanentFailure(`branch ${name} (${ref}) failed: ${current.status}`, current.status.toLowerCase());
        }
        return BRANCH_READY.has(current.status) ? ref : null;
      });
      return ref;
    } catch (error) {
      // Failed or out of time: removed. A transient error leaves it for the command's retry to find again.
      if (error instanceof PermanentFailure) await this.discard(() => this.deleteBranch(branch, audit));
      throw error;
    }
  }

  private async createProject(name: string, audit?: ApiCallAudit): Promise<string> {
    const organization = this.settings.organization;
    if (!organization) {
      throw new PermanentFailure('a "project" environment needs SUPABASE_ORG_ID (the organization)', 'not_configured');
    }
    let project = await this.findProject(name, audit);
    if (!project) {
      const { data } = await this.settings.api.request<Project>({
        method: 'POST',
        path: '/v1/projects',
        // The database password is needed by nobody here (SQL goes through the API): made, sent, forgotten.
        json: {
          name,
          organization_slug: organization,
          region: this.settings.region,
          db_pass: randomBytes(24).toString('base64url'),
        },
        environment: null,
        audit,
      });
      if (!data?.ref)
        throw new PermanentFailure('the Management API created a project without a ref', 'unexpected_response');
      project = data;
    }
    const ref = project.ref;
    try {
      await this.waitUntilUsable(`project ${name} (${ref})`, audit, async () => {
        const { data } = await this.settings.api.request<Project>({
          method: 'GET',
          path: `/v1/projects/${ref}`,
          environment: ref,
          audit,
        });
        const status = data?.status ?? 'UNKNOWN';
        if (PROJECT_FAILED.has(status))
          throw new PermanentFailure(`project ${name} (${ref}) failed: ${status}`, status.toLowerCase());
        return status === 'ACTIVE_HEALTHY' ? ref : null;
      });
      return ref;
    } catch (error) {
      if (error instanceof PermanentFailure) await this.discard(() => this.deleteProject(ref, audit));
      throw error;
    }
  }

  /**
   * Polls `reported` (the API's own status) with a growing delay; once it says ready, probes the environment
   * (project status and `select 1`), since a branch can report ready before it is.
   */
  private async waitUntilUsable(
    what: string,
    audit: ApiCallAudit | undefined,
    reported: () => Promise<string | null>,
  ): Promise<void> {
    const deadline = this.now() + this.settings.createTimeoutMs;
    let delay = this.settings.pollInitialMs;
    let last = 'not ready';
    for (;;) {
      const ref = await reported();
      if (ref) {
        const probe = await this.probe(ref, audit);
        if (probe === null) return;
        last = probe;
      }
      if (this.now() + delay > deadline) {
        throw new PermanentFailure(
          `${what} was not usable within ${Math.round(this.settings.createTimeoutMs / 1000)} s (${last})`,
          'environment_timeout',
        );
      }
      await this.sleep(delay);
      delay = Math.min(this.settings.pollMaxMs, Math.round(delay * 1.5));
    }
  }

  /** Null when the environment answers; otherwise why not. */
  private async probe(ref: string, audit?: ApiCallAudit): Promise<string | null> {
    try {
      const { data } = await this.settings.api.request<Project>({
        method: 'GET',
        path: `/v1/projects/${ref}`,
        environment: ref,
        audit,
        attempts: 1,
      });
      if (data?.status !== 'ACTIVE_HEALTHY') return `its project is ${data?.status ?? 'unknown'}`;
      const rows = await this.runQuery(ref, 'select 1 as ready', { readOnly: true, audit, attempts: 1 });
      return rows[0]?.ready === 1 ? null : 'select 1 did not answer 1';
    } catch (error) {
      // A refused token is not a branch still starting up.
      if (error instanceof ManagementApiError && (error.status === 401 || error.status === 403)) throw error;
      if (error instanceof ManagementApiError || error instanceof TransientFailure) return error.message;
      throw error;
    }
  }

  private async findBranch(name: string, audit?: ApiCallAudit): Promise<Branch | null> {
    const parent = this.settings.parentProjectRef;
    if (!parent) return null;
    const { data } = await this.settings.api.request<Branch>({
      method: 'GET',
      path: `/v1/projects/${parent}/branches/${encodeURIComponent(name)}`,
      environment: null,
      audit,
      tolerate: [404],
    });
    return data ? expectBranch(data) : null;
  }

  private async findProject(name: string, audit?: ApiCallAudit): Promise<Project | null> {
    const { data } = await this.settings.api.request<Project[]>({
      method: 'GET',
      path: '/v1/projects',
      environment: null,
      audit,
    });
    return (data ?? []).find((project) => project.name === name) ?? null;
  }

  private async deleteBranch(branch: Branch, audit?: ApiCallAudit): Promise<void> {
    await this.settings.api.request({
      method: 'DELETE',
      path: `/v1/branches/${branch.id}`,
      environment: branch.project_ref,
      audit,
      tolerate: [404],
    });
    this.keys.delete(branch.project_ref);
  }

  private async deleteProject(ref: string, audit?: ApiCallAudit): Promise<void> {
    await this.settings.api.request({
      method: 'DELETE',
      path: `/v1/projects/${ref}`,
      environment: ref,
      audit,
      tolerate: [404],
    });
    this.keys.delete(ref);
  }

  /** Removes a half-made environment; its failure does not hide the error that caused it. */
  private async discard(remove: () => Promise<void>): Promise<void> {
    await remove().catch(() => undefined);
  }

  private async apiKeys(ref: string, audit?: ApiCallAudit): Promise<ApiKey[]> {
    const cached = this.keys.get(ref);
    if (cached && this.now() - cached.at < KEYS_TTL_MS) return cached.keys;
    const { data } = await this.settings.api.request<ApiKey[]>({
      method: 'GET',
      path: `/v1/projects/${ref}/api-keys`,
      query: { reveal: 'true' },
      environment: ref,
      audit,
    });
    const keys = Array.isArray(data) ? data : [];
    this.keys.set(ref, { at: this.now(), keys });
    return keys;
  }
}

/** The name of a session's branch or project: how the driver finds it again. */
export function environmentName(sessionId: string): string {
  return `vibe-${sessionId}`;
}

function expectBranch(data: Branch | null): Branch {
  if (!data || typeof data.project_ref !== 'string' || typeof data.id !== 'string') {
    throw new PermanentFailure('the Management API answered a branch without id or project_ref', 'unexpected_response');
  }
  return data;
}

/** The cloud driver as the configuration describes it (SUPABASE_* variables). */
export function supabaseDriver(config: ProvisionerConfig): SupabaseDriver {
  if (!config.SUPABASE_ACCESS_TOKEN) throw new Error('the Supabase driver needs SUPABASE_ACCESS_TOKEN');
  return new SupabaseDriver({
    api: new ManagementApi({
      baseUrl: config.SUPABASE_API_URL,
      accessToken: config.SUPABASE_ACCESS_TOKEN,
      maxAttempts: config.SUPABASE_API_ATTEMPTS,
      maxRateLimitWaitMs: config.SUPABASE_RATE_LIMIT_MAX_WAIT_MS,
      requestTimeoutMs: 60_000,
      retryBaseMs: 500,
    }),
    parentProjectRef: config.SUPABASE_PARENT_PROJECT_REF ?? null,
    organization: config.SUPABASE_ORG_ID ?? null,
    region: config.SUPABASE_REGION,
    projectUrlTemplate: config.SUPABASE_PROJECT_URL,
    createTimeoutMs: config.SUPABASE_CREATE_TIMEOUT_MS,
    pollInitialMs: config.SUPABASE_POLL_INTERVAL_MS,
    pollMaxMs: config.SUPABASE_POLL_MAX_INTERVAL_MS,
  });
}
