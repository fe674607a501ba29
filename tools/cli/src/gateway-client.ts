import {
  BuildEventView,
  CreateSessionResponse,
  DeleteSessionResponse,
  SessionList,
  SessionView,
  type BuildOptions,
  type SessionStatus,
  type Template,
} from '@vibe/contracts';
import { z } from 'zod';

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The longest Retry-After the client waits out by itself before it gives up on a rate-limited read. */
const MAX_RETRY_AFTER_SECONDS = 30;

/** The gateway's REST API (spec §4), as a client sees it, signed in with `token` when one is given. */
export class GatewayClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async createSession(body: { vibeText: string; template: Template; options: Partial<BuildOptions> }): Promise<string> {
    const response = await this.request('/sessions', { method: 'POST', body: JSON.stringify(body) });
    return CreateSessionResponse.parse(response).sessionId;
  }

  async getSession(id: string): Promise<SessionView> {
    return SessionView.parse(await this.request(`/sessions?id=${encodeURIComponent(id)}`));
  }

  /** One page of the caller's sessions, newest first (`GET /sessions` without `id`). */
  async listSessions(
    options: { limit?: number; cursor?: string; status?: SessionStatus; includeDeleted?: boolean } = {},
  ): Promise<SessionList> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor) query.set('cursor', options.cursor);
    if (options.status) query.set('status', options.status);
    if (options.includeDeleted) query.set('include_deleted', 'true');
    const search = query.toString();
    return SessionList.parse(await this.request(`/sessions${search ? `?${search}` : ''}`));
  }

  /** Deletes the session: its environment is torn down, its row and events stay (202, the teardown is queued). */
  async deleteSession(id: string): Promise<DeleteSessionResponse> {
    return DeleteSessionResponse.parse(await this.request(`/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }));
  }

  async getEvents(sessionId: string): Promise<BuildEventView[]> {
    return z.array(BuildEventView).parse(await this.request(`/events?session_id=${encodeURIComponent(sessionId)}`));
  }

  /**
   * Follows the session's event stream (`GET /sessions/:id/stream`, server-sent events) until an event of one of
   * `types` arrives, and returns it: pushed as it is published, without polling.
   */
  async waitForEvent(sessionId: string, types: readonly string[], timeoutMs: number): Promise<BuildEventView> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(`${this.baseUrl}/sessions/${encodeURIComponent(sessionId)}/stream`, {
        headers: this.headers(),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) {
        throw new GatewayError(`${response.status}: ${await response.text()}`, response.status);
      }
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data && types.includes(event)) return BuildEventView.parse(JSON.parse(data));
        }
      }
      throw new GatewayError(`the event stream of ${sessionId} ended before ${types.join(' or ')}`, 0);
    } catch (error) {
      if (controller.signal.aborted) throw new GatewayError(`no ${types.join(' or ')} within ${timeoutMs} ms`, 0);
      throw error;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async request(path: string, init: RequestInit = {}): Promise<unknown> {
    for (;;) {
      let response: Response;
      try {
        response = await fetch(`${this.baseUrl}${path}`, {
          ...init,
          // A body-less request (GET, DELETE) says nothing about a body it does not have.
          headers: this.headers(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        });
      } catch (error) {
        throw new GatewayError(`cannot reach the gateway at ${this.baseUrl} (${String(error)})`, 0);
      }
      const text = await response.text();
      const body: unknown = text ? JSON.parse(text) : null;
      // A rate-limited read waits as long as the gateway says, then asks again; a refused build is reported.
      const retryAfter = Number(response.headers.get('retry-after'));
      if (response.status === 429 && (init.method ?? 'GET') === 'GET' && retryAfter > 0) {
        if (retryAfter <= MAX_RETRY_AFTER_SECONDS) {
          await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
          continue;
        }
      }
      if (!response.ok) {
        const message =
          typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : response.statusText;
        const hint =
          response.status === 401 && !this.token
            ? ' (set VIBE_TOKEN to your Supabase access token, or `npm run vibe -- token <user>` for a local gateway)'
            : '';
        throw new GatewayError(`${response.status}: ${message}${hint}`, response.status);
      }
      return body;
    }
  }
}
