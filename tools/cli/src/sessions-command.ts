import { parseArgs } from 'node:util';
import { SESSION_LIST_MAX_LIMIT, SessionStatus, type SessionSummary } from '@vibe/contracts';
import { GatewayClient } from './gateway-client.js';

/** A command line that cannot be run as given; the message says what to change. */
export class SessionsUsageError extends Error {}

export const SESSIONS_USAGE = `  npm run vibe -- list [--status queued|running|succeeded|failed|canceled] [--limit 20] [--cursor <next>]
                  [--all] [--include-deleted] [--json]
                                           your sessions, newest first (GET /sessions); --all follows every page
  npm run vibe -- delete <sessionId> [--no-wait] [--timeout 60] [--json]
                                           tear the session's environment down (DELETE /sessions/:id), keeping
                                           its events; waits for environment_deleted unless --no-wait`;

export interface SessionsCommandContext {
  gatewayUrl: string;
  token: string | undefined;
  out: (line: string) => void;
}

/** `list`: the caller's sessions, a page (or with --all every page), as a table or JSON lines. */
export async function listCommand(args: string[], context: SessionsCommandContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      status: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean', default: false },
      'include-deleted': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const status = values.status === undefined ? undefined : SessionStatus.safeParse(values.status);
  if (status && !status.success) {
    throw new SessionsUsageError(`--status must be one of ${SessionStatus.options.join(', ')}, not "${values.status}"`);
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > SESSION_LIST_MAX_LIMIT)) {
    throw new SessionsUsageError(
      `--limit must be a whole number from 1 to ${SESSION_LIST_MAX_LIMIT}, not "${values.limit}"`,
    );
  }
  const gateway = new GatewayClient(context.gatewayUrl, context.token);
  const sessions: SessionSummary[] = [];
  let cursor = values.cursor;
  let next: string | null;
  do {
    const page = await gateway.listSessions({
      limit,
      cursor,
      status: status?.data,
      includeDeleted: values['include-deleted'],
    });
    sessions.push(...page.sessions);
    next = page.next;
    cursor = next ?? undefined;
  } while (values.all && next);

  if (values.json) {
    context.out(JSON.stringify({ sessions, next }));
    return 0;
  }
  if (sessions.length === 0) context.out('No sessions.');
  for (const session of sessions) context.out(describe(session));
  if (next)
    context.out(`More: npm run vibe -- list --cursor ${next}${values.status ? ` --status ${values.status}` : ''}`);
  return 0;
}

/** `delete <sessionId>`: queues the teardown, then (unless --no-wait) waits for its event. */
export async function deleteCommand(args: string[], context: SessionsCommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    allowNegative: true,
    options: {
      wait: { type: 'boolean', default: true },
      timeout: { type: 'string', default: '60' },
      json: { type: 'boolean', default: false },
    },
  });
  const [sessionId, ...extra] = positionals;
  if (!sessionId || extra.length > 0) throw new SessionsUsageError('delete needs exactly one session id');
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new SessionsUsageError(`--timeout must be seconds > 0, not "${values.timeout}"`);
  }
  const gateway = new GatewayClient(context.gatewayUrl, context.token);
  await gateway.deleteSession(sessionId);
  if (!values.wait) {
    context.out(values.json ? JSON.stringify({ sessionId, deleteRequested: true }) : `Delete of ${sessionId} queued.`);
    return 0;
  }
  const event = await gateway.waitForEvent(
    sessionId,
    ['environment_deleted', 'environment_expired'],
    timeoutSeconds * 1000,
  );
  context.out(values.json ? JSON.stringify(event) : event.message);
  return 0;
}

function describe(session: SessionSummary): string {
  const vibe = session.vibeText.length > 60 ? `${session.vibeText.slice(0, 57)}...` : session.vibeText;
  const deleted = session.deletion
    ? ` [${session.deletion.reason === 'expired' ? 'expired' : 'deleted'}${session.deletion.completedAt ? '' : ', teardown pending'}]`
    : '';
  const demo = session.options.demo === true ? ' demo' : '';
  return [
    session.id,
    session.createdAt,
    session.status.padEnd(9),
    `${session.template}${demo}`.padEnd(16),
    (session.environmentRef ?? '-').padEnd(12),
    `${vibe}${deleted}`,
  ].join('  ');
}
