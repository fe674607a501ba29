#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { BaseConfig, connectJetStream, createPool, loadConfig, redactText } from '@vibe/platform';
import { printAuditTimeline, total, verifyProjection } from './replay.js';

/**
 * `npm run vibe -- replay ...` (the CLI starts this with the same arguments and environment):
 *   replay <sessionId>                              the session's audit timeline, from the stream
 *   replay --verify [--session <id>] [--rebuild]    rebuild the projection into a scratch table and compare
 * Exit codes: 0 as expected, 1 differences (or a failure), 2 bad usage.
 */
const USAGE = `Usage:
  npm run vibe -- replay <sessionId>                         print the session's audit timeline from JetStream
  npm run vibe -- replay --verify [--session <id>]           compare build_events with a projection rebuilt from
                                                             the stream; exits 1 on any difference
  npm run vibe -- replay --verify --rebuild [--session <id>] also repair build_events from the stream`;

const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      verify: { type: 'boolean', default: false },
      rebuild: { type: 'boolean', default: false },
      session: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const uuid = z.uuid();
  const config = loadConfig(BaseConfig, process.env);
  const jetstream = await connectJetStream(config.NATS_URL, config.NATS_NAMESPACE, 'replay');
  try {
    if (values.verify || values.rebuild) {
      if (positionals.length > 0) throw new UsageError('--verify takes the session as --session <id>');
      if (values.session !== undefined && !uuid.safeParse(values.session).success) {
        throw new UsageError('--session must be a session id (a uuid)');
      }
      const pool = createPool(config.DATABASE_URL, 'replay', 2);
      try {
        const result = await verifyProjection(
          jetstream,
          pool,
          { sessionId: values.session, rebuild: values.rebuild },
          { out },
        );
        // Differences found (verify) or left after repairing (rebuild) fail the command.
        return total(result.after ?? result.diff) === 0 ? 0 : 1;
      } finally {
        await pool.end();
      }
    }
    const [sessionId, ...rest] = positionals;
    if (!sessionId || rest.length > 0 || !uuid.safeParse(sessionId).success) {
      throw new UsageError('replay needs one session id (a uuid), or --verify');
    }
    await printAuditTimeline(jetstream, sessionId, { out });
    return 0;
  } finally {
    await jetstream.nc.close();
  }
}

class UsageError extends Error {}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    const parseError = error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS');
    if (error instanceof UsageError || parseError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`${redactText(error instanceof Error ? error.message : String(error))}\n`);
    process.exit(1);
  });
