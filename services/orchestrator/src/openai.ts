import { redactText } from '@vibe/platform';
import type { OrchestratorConfig } from './config.js';

/** The settings the OpenAI planner and embedder read (DESIGN.md §3, "planner LLM, embeddings"). */
export type OpenAIConfig = Pick<
  OrchestratorConfig,
  'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'OPENAI_MODEL' | 'OPENAI_EMBEDDING_MODEL' | 'OPENAI_TIMEOUT_MS'
>;

export interface OpenAIConnection {
  apiKey: string;
  /** An OpenAI-compatible endpoint; api.openai.com when unset. */
  baseURL?: string;
  timeoutMs: number;
  /** Retries after a failed call (LangChain's caller backs off between them); 0 in tests. */
  maxRetries?: number;
}

export function openAIConnection(config: OpenAIConfig & { OPENAI_API_KEY: string }): OpenAIConnection {
  return { apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, timeoutMs: config.OPENAI_TIMEOUT_MS };
}

/** The client options both LangChain classes take. */
export function clientFields(connection: OpenAIConnection) {
  return {
    apiKey: connection.apiKey,
    configuration: connection.baseURL ? { baseURL: connection.baseURL } : {},
    timeout: connection.timeoutMs,
    maxRetries: connection.maxRetries ?? 2,
  };
}

/**
 * An error of an OpenAI call as one short line fit for an event or a log: the configured key is cut out
 * wherever it appears (an API error body may echo it; `redactText` does not know OpenAI's key format),
 * then the shared redaction runs.
 */
export function describeOpenAIError(error: unknown, apiKey: string, max = 240): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return safeLine(message, apiKey, max);
}

export function safeLine(text: string, apiKey: string, max = 240): string {
  const withoutKey = apiKey ? text.split(apiKey).join('[redacted]') : text;
  const line = redactText(withoutKey).replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
