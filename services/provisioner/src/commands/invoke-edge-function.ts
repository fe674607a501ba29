import type { ProvisionCommandOf, ProvisionOutput } from '@vibe/contracts';
import { redact, REDACTED } from '@vibe/platform';
import type { ApiCallAudit } from '../drivers/api-call-audit.js';
import { TransientFailure } from '../drivers/driver.js';
import type { EnvironmentApi } from '../drivers/environment-api.js';
import { findSecrets, type KnownSecret } from '../edge-runtime/secret-scan.js';

/** The most of a response body kept (and published with the result). */
export const MAX_BODY_CHARS = 64 * 1024;
const INVOKE_TIMEOUT_MS = 90_000;

/**
 * `invoke_edge_function`: a client's request to `<project url>/functions/v1/<slug>` (spec §11.4), with the
 * anon key or no key. The answer is returned as it came, except that any secret in it is named in
 * `secretsFound` and replaced by `[redacted]` before it goes anywhere (result, ledger, events).
 */
export async function invokeEdgeFunction(
  command: ProvisionCommandOf<'invoke_edge_function'>,
  api: EnvironmentApi,
  audit?: ApiCallAudit,
): Promise<ProvisionOutput<'invoke_edge_function'>> {
  const access = await api.access(command.environmentRef, audit);
  const url = `${access.url.replace(/\/+$/, '')}/functions/v1/${encodeURIComponent(command.slug)}`;
  const headers: Record<string, string> = {};
  if (command.auth === 'anon') {
    headers.authorization = `Bearer ${access.anonKey}`;
    headers.apikey = access.anonKey;
  }
  let body: string | undefined;
  if (command.body !== undefined && command.method !== 'GET') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(command.body);
  }
  let started = performance.now();
  let response: Response;
  let text: string;
  for (let attempt = 1; ; attempt++) {
    started = performance.now();
    try {
      response = await fetch(url, {
        method: command.method,
        headers,
        body,
        signal: AbortSignal.timeout(INVOKE_TIMEOUT_MS),
      });
    } catch (error) {
      const reason =
        error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw new TransientFailure(
        `Edge Function ${command.slug} could not be reached: ${reason}`,
        'function_unreachable',
      );
    }
    text = await response.text();
    if (!isWorkerLimit(response.status, text) || attempt === WORKER_LIMIT_RETRIES.length + 1) break;
    await new Promise((resolve) => setTimeout(resolve, WORKER_LIMIT_RETRIES[attempt - 1]));
  }
  const durationMs = Math.round(performance.now() - started);
  const headerText = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
  const secretsFound = findSecrets(`${headerText}\n${text}`, access.secrets);
  const contentType = response.headers.get('content-type');
  return {
    url,
    status: response.status,
    body: withoutSecrets(parseBody(text.slice(0, MAX_BODY_CHARS), contentType), access.secrets),
    contentType,
    durationMs,
    secretsFound,
  };
}

/**
 * Every function worker busy (the local runtime's 503 `WORKER_LIMIT`, Supabase's 546): the platform's capacity
 * for now, not the function's answer. Asked again after these delays (ms, about 10 s in all); the last answer
 * is returned as it came.
 */
const WORKER_LIMIT_RETRIES = [100, 200, 400, 800, 1600, 3200, 3200];

function isWorkerLimit(status: number, text: string): boolean {
  return status === 546 || (status === 503 && text.includes('WORKER_LIMIT'));
}

function parseBody(text: string, contentType: string | null): unknown {
  if (contentType?.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** The body with the known secrets replaced, then through the one redaction function. */
function withoutSecrets(value: unknown, secrets: readonly KnownSecret[]): unknown {
  const scrub = (item: unknown): unknown => {
    if (typeof item === 'string') {
      return secrets.reduce((text, secret) => (secret.value ? text.split(secret.value).join(REDACTED) : text), item);
    }
    if (Array.isArray(item)) return item.map(scrub);
    if (item !== null && typeof item === 'object') {
      return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, scrub(inner)]));
    }
    return item;
  };
  return redact(scrub(value));
}
