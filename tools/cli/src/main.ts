#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CreateSessionRequest, Template } from '@vibe/contracts';
import { LOCAL_DEV_JWT_SECRET, migrate, redactText } from '@vibe/platform';
import { benchBuild } from './bench-build.js';
import { benchDriftCommand } from './bench-drift.js';
import { benchCommand, BenchUsageError, BENCH_USAGE } from './bench/bench-command.js';
import { benchRealtimeCommand } from './bench-realtime-command.js';
import { runReplay } from './replay-command.js';
import { gatewayToken, localJwtSecret, tokenCommand, TokenUsageError } from './auth.js';
import { runBuild } from './build-command.js';
import { runPlan } from './plan-command.js';
import { deleteCommand, listCommand, SESSIONS_USAGE, SessionsUsageError } from './sessions-command.js';
import { CONTROL_PLANE_USAGE, controlPlaneCommand, ControlPlaneUsageError } from './control-plane-auth-command.js';
import { MCP_CONFIG_USAGE, mcpConfigCommand, McpConfigUsageError } from './mcp-config-command.js';
import { SAMPLE_VIBE } from './sample.js';
import { SERVICES, startStack, type ServiceName } from './stack.js';

const USAGE = `Usage:
  npm run vibe -- build "<vibe>" [--template marketplace|saas] [--analytics] [--mode branch|project] [--json] [--audit]
  npm run vibe -- plan "<vibe>" [--template marketplace|saas] [--analytics] [--json]
                  print the plan and its SQL without provisioning anything
  npm run vibe -- token <user> [--ttl 3600]
                  print a development JWT for <user> (a uuid, or a name: the same uuid every time), signed
                  with the local secret (SUPABASE_JWT_SECRET when set); e.g. export VIBE_TOKEN=$(npm run -s vibe -- token alice)
  npm run dev     start the five services (Ctrl-C stops them); the viewer page offers a local dev sign-in
  npm run demo    migrate, start the services, build a sample marketplace vibe, stop
  npm run vibe -- bench-build [--runs 5]   time sample builds against the running services, beside the
                                           time to create a database and apply the same SQL directly
  npm run vibe -- replay <sessionId>       the session's audit timeline, replayed from JetStream
  npm run vibe -- replay --verify [--session <id>] [--rebuild]
                                           compare build_events with the stream (exit 1 on a difference);
                                           --rebuild repairs build_events from the stream
  npm run vibe -- bench-realtime [--clients 100] [--builds 3] [--synthetic 500] [--rate 200] [--vsn 2.0.0]
                                           publish-to-receipt latency in supabase-js, on a scratch stack
  npm run vibe -- bench-drift [--environments 100] [--checks 20] [--tamper-every 10] [--sentinels 1] [--provisioners 1]
                                           time to check one environment, and a round over many, on a scratch stack
  npm run bench [-- <name>...]             every benchmark (or the named ones) on scratch stacks, written to
                                           bench/results/latest.md and .json; npm run bench -- --help for sizes
${SESSIONS_USAGE}
${CONTROL_PLANE_USAGE}
${MCP_CONFIG_USAGE}

Environment: GATEWAY_URL (default http://127.0.0.1:3000), DATABASE_URL, NATS_URL, NATS_NAMESPACE.
Signing in: VIBE_TOKEN (a Supabase access token) is sent when set; otherwise a gateway on this machine gets a
token minted for the local user VIBE_USER (default local-dev) with the local secret; a remote one gets none.`;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'build':
      return build(rest);
    case 'plan':
      return plan(rest);
    case 'token':
      return token(rest);
    case 'dev':
      return dev();
    case 'demo':
      return demo();
    case 'bench-build':
      return benchBuildCommand(rest);
    case 'replay':
      return runReplay(rest);
    case 'bench-realtime':
      return benchRealtimeCommand(rest, out);
    case 'bench-drift':
      return benchDriftCommand(rest, out);
    case 'bench':
      if (rest.includes('--help')) {
        out(BENCH_USAGE);
        return 0;
      }
      return benchCommand(rest, out).catch((error: unknown) => {
        if (error instanceof BenchUsageError) throw new UsageError(`${error.message}\n\n${BENCH_USAGE}`);
        throw error;
      });
    case 'list':
    case 'delete': {
      const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';
      const context = { gatewayUrl, token: gatewayToken(gatewayUrl).token, out };
      return (command === 'list' ? listCommand(rest, context) : deleteCommand(rest, context)).catch(
        (error: unknown) => {
          if (error instanceof SessionsUsageError) throw new UsageError(error.message);
          throw error;
        },
      );
    }
    case 'mcp-config': {
      const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';
      const context = { gatewayUrl, token: gatewayToken(gatewayUrl).token, out, err };
      return mcpConfigCommand(rest, context).catch((error: unknown) => {
        if (error instanceof McpConfigUsageError) throw new UsageError(error.message);
        throw error;
      });
    }
    case 'control-plane':
      return controlPlaneCommand(rest, process.env, out).catch((error: unknown) => {
        if (error instanceof ControlPlaneUsageError) throw new UsageError(error.message);
        throw error;
      });
    case undefined:
    case 'help':
    case '--help':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function build(args: string[], gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000'): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      template: { type: 'string', default: 'marketplace' },
      analytics: { type: 'boolean', default: false },
      mode: { type: 'string', default: 'branch' },
      json: { type: 'boolean', default: false },
      audit: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '120' },
    },
  });
  const vibeText = positionals.join(' ').trim();
  if (!vibeText) throw new UsageError('build needs a vibe: npm run vibe -- build "<what your app should do>"');
  const template = Template.safeParse(values.template);
  if (!template.success) throw new UsageError(`--template must be marketplace or saas, not "${values.template}"`);
  if (values.mode !== 'branch' && values.mode !== 'project') {
    throw new UsageError(`--mode must be branch or project, not "${values.mode}"`);
  }
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new UsageError('--timeout must be seconds > 0');
  return runBuild({
    gatewayUrl,
    token: gatewayToken(gatewayUrl).token,
    vibeText,
    template: template.data,
    enableAnalytics: values.analytics,
    environmentMode: values.mode,
    json: values.json,
    audit: values.audit,
    timeoutMs: timeoutSeconds * 1000,
    out,
  });
}

async function plan(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      template: { type: 'string', default: 'marketplace' },
      analytics: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const request = CreateSessionRequest.safeParse({
    vibeText: positionals.join(' '),
    template: values.template,
    options: { enableAnalytics: values.analytics },
  });
  if (!request.success) {
    const issue = request.error.issues[0]!;
    throw new UsageError(`${issue.path.join('.')}: ${issue.message}`);
  }
  return runPlan({
    vibeText: request.data.vibeText,
    template: request.data.template,
    enableAnalytics: request.data.options.enableAnalytics,
    json: values.json,
    out,
  });
}

function token(args: string[]): number {
  let minted: ReturnType<typeof tokenCommand>;
  try {
    minted = tokenCommand(args);
  } catch (error) {
    if (error instanceof TokenUsageError) throw new UsageError(error.message);
    throw error;
  }
  err(minted.note);
  out(minted.token);
  return 0;
}

/**
 * The local stacks of `dev` and `demo` serve the viewer's local dev sign-in (DEV_TOKENS, which the gateway accepts
 * only with the local JWT secret); an explicit DEV_TOKENS in the environment wins.
 */
const LOCAL_STACK_ENV = {
  DEV_TOKENS: process.env.DEV_TOKENS ?? (localJwtSecret() === LOCAL_DEV_JWT_SECRET ? 'true' : 'false'),
};

async function dev(): Promise<number> {
  const stack = await startStack({
    env: LOCAL_STACK_ENV,
    onLine: (service, line) => out(`${service.padEnd(16)}| ${line}`),
  });
  out(`All five services are ready; the gateway listens on ${stack.gatewayUrl}. Ctrl-C stops them.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.stop();
  return 0;
}

async function demo(): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/vibe';
  const report = await migrate(databaseUrl);
  out(
    `Control plane ${report.database}: ${report.applied.length} migration(s) applied, ${report.alreadyApplied.length} already there`,
  );
  out(`Starting ${SERVICES.join(', ')}…`);
  const stack = await startStack({
    env: LOCAL_STACK_ENV,
    onLine: (service: ServiceName, line: string) => {
      if (/\b(ERROR|WARN)\b/.test(line)) err(`${service}| ${line}`);
    },
  });
  try {
    out(`Building a sample vibe:\n  "${SAMPLE_VIBE}"\n`);
    return await build([SAMPLE_VIBE, '--analytics'], stack.gatewayUrl);
  } finally {
    await stack.stop();
  }
}

async function benchBuildCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a whole number above 0');
  const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';
  const result = await benchBuild(
    gatewayUrl,
    process.env.ENV_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    runs,
    gatewayToken(gatewayUrl).token,
  );
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  out(`POST /sessions -> build_succeeded: median ${fmt(result.medianWallMs)} (${result.wallMs.map(fmt).join(', ')})`);
  out(`direct create database + same SQL: median ${fmt(result.medianFloorMs)} (${result.floorMs.map(fmt).join(', ')})`);
  out(`overhead ratio: ${result.ratio.toFixed(2)}x over ${result.runs} runs`);
  return 0;
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    if (error instanceof UsageError) {
      err(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    err(redactText(error instanceof Error ? error.message : String(error)));
    process.exit(1);
  });
