import { redactText } from '@vibe/platform';
import type { ApiCallAudit } from '../api-call-audit.js';
import { PermanentFailure, TransientFailure } from '../driver.js';
import { backoffMs, retryAfterMs } from './retry-after.js';

/**
 * A client of Supabase's Management API (https://api.supabase.com/v1), the cloud driver's half of what the
 * local driver does with Postgres: branches, projects, keys, SQL, functions, secrets. Request and response
 * shapes are the API's own (as the official MCP server and the API reference use them).
 *
 * Every request is audited (ApiCallAudit, one `management_api_call` event each, retries included). A 429 is
 * retried after what `X-RateLimit-Reset` (or `Retry-After`) says, a 5xx or a lost connection after a
 * doubling delay, both a bounded number of times; other 4xx are final. The token goes in the Authorization
 * header and nowhere else: not in an error message, a log line or an audit event.
 */
export interface ManagementApiSettings {
  /** `https://api.supabase.com` (SUPABASE_API_URL). */
  baseUrl: string;
  accessToken: string;
  /** Tries of one request when the API is rate limited or failing (5xx, network). */
  maxAttempts: number;
  /** The longest wait a 429 may ask for before the request is given up as transient. */
  maxRateLimitWaitMs: number;
  requestTimeoutMs: number;
  /** First delay after a 5xx; doubles per retry, capped at 8 s. */
  retryBaseMs: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path without the query, e.g. `/v1/projects/abc/branches`. */
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  form?: FormData;
  /**
   * What the audit records of the body, when not the body itself: a multipart body's metadata and file
   * sizes, the names of secrets without their values.
   */
  auditInput?: unknown;
  environment: string | null;
  audit?: ApiCallAudit;
  /** Statuses answered as `{ status, data: null }` instead of failing (404 for lookups). */
  tolerate?: number[];
  /** Override of maxAttempts (probes try once). */
  attempts?: number;
}

export interface ApiResponse<T> {
  status: number;
  data: T | null;
}

/** A request refused with a status the caller asked to see (`tolerate`), or a final 4xx. */
export class ManagementApiError extends PermanentFailure {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message, `management_api_${status}`);
  }
}

export class ManagementApi {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly settings: ManagementApiSettings) {
    this.sleep = settings.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = settings.now ?? Date.now;
  }

  async request<T>(request: ApiRequest): Promise<ApiResponse<T>> {
    const attempts = request.attempts ?? this.settings.maxAttempts;
    const url = new URL(request.path, this.settings.baseUrl);
    for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
    const what = `${request.method} ${request.path}`;
    for (let attempt = 1; ; attempt++) {
      const startedAt = new Date(this.now());
      const started = performance.now();
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.settings.accessToken}`,
        accept: 'application/json',
        'user-agent': 'vibe-architect-provisioner/0.1.0',
      };
      let body: string | FormData | undefined;
      if (request.form) body = request.form;
      else if (request.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(request.json);
      }
      const input = request.auditInput !== undefined ? request.auditInput : request.json;
      const record = async (status: number | null, output: unknown, retryAfter: number | null) =>
        request.audit?.record({
          method: request.method,
          path: request.path,
          environment: request.environment,
          status,
          ok: status !== null && status >= 200 && status < 300,
          input: input ?? null,
          output,
          retryAfterMs: retryAfter,
          startedAt,
          endedAt: new Date(this.now()),
          durationMs: Math.round(performance.now() - started),
        });

      let response: Response;
      try {
        response = await fetch(url, {
          method: request.method,
          headers,
          body,
          signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
        });
      } catch (error) {
        const reason = redactText(describe(error));
        const wait = backoffMs(attempt, this.settings.retryBaseMs, 8_000);
        await record(null, { error: reason }, attempt < attempts ? wait : null);
        if (attempt >= attempts) {
          throw new TransientFailure(
            `${what}: the Management API could not be reached (${reason})`,
            'management_api_unreachable',
          );
        }
        await this.sleep(wait);
        continue;
      }
      const text = await response.text();
      const data = parse(text);
      const status = response.status;

      if (status === 429) {
        const asked = retryAfterMs(response.headers, this.now());
        const wait = asked ?? backoffMs(attempt, this.settings.retryBaseMs, 8_000);
        const retrying = attempt < attempts && wait <= this.settings.maxRateLimitWaitMs;
        await record(status, summary(data), retrying ? wait : asked);
        if (!retrying) {
          throw new TransientFailure(
            `${what}: rate limited by the Management API${asked !== null ? ` for ${Math.ceil(asked / 1000)} s more` : ''}`,
            'rate_limited',
          );
        }
        await this.sleep(wait);
        continue;
      }
      if (status >= 500) {
        const wait = backoffMs(attempt, this.settings.retryBaseMs, 8_000);
        await record(status, summary(data), attempt < attempts ? wait : null);
        if (attempt >= attempts) {
          throw new TransientFailure(
            `${what}: the Management API answered ${status} ${message(data)}`.trim(),
            'management_api_unavailable',
          );
        }
        await this.sleep(wait);
        continue;
      }
      await record(status, summary(data), null);
      if (status >= 200 && status < 300) return { status, data: data as T };
      if (request.tolerate?.includes(status)) return { status, data: null };
      if (status === 401) {
        throw new ManagementApiError(
          `${what}: the access token was refused (401); check SUPABASE_ACCESS_TOKEN`,
          status,
        );
      }
      throw new ManagementApiError(`${what}: ${status} ${message(data)}`.trim(), status);
    }
  }
}

function parse(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text.slice(0, 2000);
  }
}

/** The API's error message (`{ message }`), redacted. */
function message(data: unknown): string {
  const text =
    typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string'
      ? (data as { message: string }).message
      : typeof data === 'string'
        ? data
        : '';
  return redactText(text).slice(0, 500);
}

/** What the audit keeps of a response: the body, or a count for long lists (the event builder cuts and redacts). */
function summary(data: unknown): unknown {
  if (Array.isArray(data)) return data.length > 5 ? { items: data.length, first: data.slice(0, 5) } : { items: data };
  return data ?? {};
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.name === 'TimeoutError' ? 'timed out' : error.message}${cause}`;
  }
  return String(error);
}
