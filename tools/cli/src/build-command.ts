import { isAuditEvent, type BuildEventView, type SessionView, type Template } from '@vibe/contracts';
import { GatewayClient } from './gateway-client.js';

export interface BuildCommandOptions {
  gatewayUrl: string;
  /** The bearer token sent to the gateway (auth.ts `gatewayToken`). */
  token?: string;
  vibeText: string;
  template: Template;
  enableAnalytics: boolean;
  environmentMode: 'branch' | 'project';
  json: boolean;
  /** Also print the audit record of every call into the environment. */
  audit: boolean;
  timeoutMs: number;
  out: (line: string) => void;
}

/** How far along a build is when an event of this type arrives (for the progress bar). */
const PROGRESS: Record<string, number> = {
  plan_created: 0.2,
  environment_created: 0.35,
  migration_started: 0.4,
  table_created: 0.55,
  rls_enabled: 0.65,
  policy_created: 0.75,
  edge_function_deployed: 0.85,
  analytics_configured: 0.92,
  build_succeeded: 1,
  build_failed: 1,
};

export function progressBar(fraction: number, width = 20): string {
  const clamped = Math.max(0, Math.min(1, fraction));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(clamped * 100)).padStart(3)}%`;
}

/** Creates a session, follows its events until it ends, prints a summary; resolves to the exit code. */
export async function runBuild(options: BuildCommandOptions): Promise<number> {
  const gateway = new GatewayClient(options.gatewayUrl, options.token);
  const startedAt = Date.now();
  const sessionId = await gateway.createSession({
    vibeText: options.vibeText,
    template: options.template,
    options: { enableAnalytics: options.enableAnalytics, environmentMode: options.environmentMode },
  });
  if (!options.json) options.out(`Session ${sessionId} created; following its build…`);

  const seen = new Set<string>();
  const events: BuildEventView[] = [];
  let progress = 0;
  let final: BuildEventView | undefined;
  while (!final) {
    if (Date.now() - startedAt > options.timeoutMs) {
      options.out(`Timed out after ${options.timeoutMs} ms waiting for session ${sessionId} to finish`);
      return 1;
    }
    for (const event of await gateway.getEvents(sessionId)) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      events.push(event);
      progress = Math.max(progress, PROGRESS[event.type] ?? progress);
      const shown = options.audit || !isAuditEvent(event.type);
      if (!options.json && shown) options.out(`${progressBar(progress)}  ${event.type.padEnd(22)} ${event.message}`);
      if (event.type === 'build_succeeded' || event.type === 'build_failed' || event.type === 'build_canceled')
        final = event;
    }
    if (!final) await new Promise((resolve) => setTimeout(resolve, 150));
  }
  const session = await gateway.getSession(sessionId);
  const wallMs = Date.now() - startedAt;
  if (options.json) {
    options.out(JSON.stringify({ session, events, wallMs }, null, 2));
  } else {
    for (const line of summary(session, wallMs)) options.out(line);
  }
  return session.status === 'succeeded' ? 0 : 1;
}

export function summary(session: SessionView, wallMs: number): string[] {
  const lines = ['', `Build ${session.status} in ${wallMs} ms (session ${session.id})`];
  if (session.error) lines.push(`Error: ${session.error}`);
  const env = session.environment;
  if (env) {
    const where = typeof env.host === 'string' ? ` on ${env.host}:${String(env.port)}` : '';
    lines.push(`Environment: ${String(env.driver)} ${String(env.mode)} ${String(env.ref)}${where}`);
  }
  const outputs = session.outputs as {
    tables?: Array<{ name: string; rlsEnabled: boolean }>;
    policies?: Array<{ table: string; name: string; command: string; roles: string[] }>;
    functions?: string[];
    analytics?: { configured: boolean; provenance: string | null; rowCount: number };
    deferred?: string[];
  } | null;
  if (outputs?.tables) {
    lines.push(`Tables: ${outputs.tables.map((t) => `${t.name} (RLS ${t.rlsEnabled ? 'on' : 'OFF'})`).join(', ')}`);
  }
  if (outputs?.policies) {
    lines.push(`Policies (${outputs.policies.length}):`);
    for (const p of outputs.policies) {
      lines.push(`  ${p.table.padEnd(10)} ${p.name.padEnd(24)} ${p.command.padEnd(7)} ${p.roles.join(', ')}`);
    }
  }
  if (outputs?.functions?.length) lines.push(`SQL functions: ${outputs.functions.join(', ')}`);
  if (outputs?.analytics?.configured) {
    lines.push(`Analytics: ${outputs.analytics.rowCount} row(s) from ${outputs.analytics.provenance ?? 'unknown'}`);
  }
  for (const note of outputs?.deferred ?? []) lines.push(`Not yet: ${note}`);
  return lines;
}
