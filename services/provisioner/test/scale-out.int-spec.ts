/**
 * Scale-out (DESIGN.md §2): several provisioner processes share the one durable consumer of the
 * PROVISION_COMMANDS work queue. Two real processes (the built service, as the CLI's stack starts it), 20
 * sessions' command streams at once: every command is executed once, and both processes do some of the work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { newId, stableId, type BuildEventOf, type ProvisionCommand } from '@vibe/contracts';
import { callProvisioner, connectJetStream, ensureTopology, publishJson, type JetStreamContext } from '@vibe/platform';
import { freePorts } from '../../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  NATS_URL,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../../../test/support/index.js';
import { commands, readEvents } from './harness.js';
import pg from 'pg';
import { withDatabase } from '@vibe/platform';

const MAIN = path.join(__dirname, '../dist/main.js');
const SESSIONS = 20;
const SEED = `create table public.seed (n int not null);
insert into public.seed values (1);
alter table public.seed enable row level security;`;

interface Worker {
  child: ChildProcess;
  port: number;
  lines: string[];
  exited: Promise<void>;
}

function startWorker(env: Record<string, string>, port: number): Worker {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, port, lines, exited };
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null) return;
  const kill = setTimeout(() => worker.child.kill('SIGKILL'), 8000);
  worker.child.kill('SIGTERM');
  await worker.exited;
  clearTimeout(kill);
}

describe('provisioner scale-out: two processes, one work queue', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let prefix: string;
  let client: JetStreamContext;
  const workers: Worker[] = [];

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b tsconfig.build.json)`);
    db = await createControlPlaneDatabase('vibe_test_scale');
    namespace = createNamespace('scale');
    prefix = `${uniqueName('ps')}_`;
    const env = {
      DATABASE_URL: db.url,
      NATS_URL,
      NATS_NAMESPACE: namespace.namespace,
      ENV_DATABASE_URL: PG_ADMIN_URL,
      ENV_DB_PREFIX: prefix,
    };
    for (const port of await freePorts(2)) workers.push(startWorker(env, port));
    for (const worker of workers) {
      await waitFor(
        async () => {
          if (worker.child.exitCode !== null) throw new Error(`a provisioner exited:\n${worker.lines.join('\n')}`);
          return fetch(`http://127.0.0.1:${worker.port}/health`)
            .then((response) => response.ok)
            .catch(() => false);
        },
        { what: `the provisioner on port ${worker.port} to be ready` },
      );
    }
    client = await connectJetStream(NATS_URL, namespace.namespace, 'scale-out-test');
    await ensureTopology(client);
  });

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await client?.nc.close();
    await dropDatabasesLike(prefix);
    await db?.drop();
    await namespace?.cleanup();
  });

  it('executes each of 20 concurrent sessions’ commands once, spread over both processes', async () => {
    const sent: ProvisionCommand[] = [];
    await Promise.all(
      Array.from({ length: SESSIONS }, async () => {
        const sessionId = newId();
        const create = { ...commands.createEnvironment(sessionId, 'branch'), commandId: stableId(sessionId, 'create') };
        sent.push(create);
        const { environment } = await callProvisioner(client, create);
        const apply = commands.applyMigration(sessionId, environment.ref, 'seed', SEED);
        sent.push(apply);
        // A copy of the command under another Nats-Msg-Id: JetStream delivers it too, maybe to the other
        // process, and only the ledger and its claim stand between it and a second execution.
        await publishJson(
          client,
          client.topology.subjects.provisionCommand(apply.tool),
          apply,
          `${apply.commandId}-copy`,
        );
        const applied = await callProvisioner(client, apply);
        expect(applied).toEqual({ name: 'seed', applied: true });
        // Not idempotent by itself: run twice, it would insert twice.
        const insert = commands.executeSql(
          sessionId,
          environment.ref,
          'insert into public.seed values (2) returning n',
          false,
        );
        sent.push(insert);
        await publishJson(
          client,
          client.topology.subjects.provisionCommand(insert.tool),
          insert,
          `${insert.commandId}-copy`,
        );
        expect(await callProvisioner(client, insert)).toEqual({ rows: [{ n: 2 }] });
      }),
    );

    // Every message handled, copies included.
    await waitFor(
      async () => {
        const info = await client.jsm.consumers.info(
          client.topology.streams.provisionCommands,
          client.topology.consumers.provisioner,
        );
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      { what: 'the work queue to drain', timeoutMs: 60_000 },
    );

    // The ledger holds each command once.
    const control = new pg.Client({ connectionString: db.url });
    await control.connect();
    const ledger = await control
      .query<{ command_id: string; tool: string }>('select command_id, tool from provisioner_commands')
      .finally(() => control.end());
    expect(ledger.rows.map((row) => row.command_id).sort()).toEqual(sent.map((c) => c.commandId).sort());

    // Each environment was seeded once.
    const refs = sent.filter((c) => c.tool === 'apply_migration').map((c) => c.environmentRef);
    expect(new Set(refs).size).toBe(SESSIONS);
    for (const ref of refs) {
      const env = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, ref) });
      await env.connect();
      const { rows } = await env
        .query<{ seeds: number; inserts: number; migrations: number }>(
          `select (select count(*)::int from public.seed where n = 1) as seeds,
                  (select count(*)::int from public.seed where n = 2) as inserts,
                  (select count(*)::int from supabase_migrations.schema_migrations where name = 'seed') as migrations`,
        )
        .finally(() => env.end());
      expect({ ref, ...rows[0] }).toEqual({ ref, seeds: 1, inserts: 1, migrations: 1 });
    }

    // One execution record per command, and the MCP calls of a command all made by the process that ran it.
    const events = await readEvents(client, client.topology.subjects.allEvents);
    const executions = events.filter((e): e is BuildEventOf<'provisioner_call'> => e.type === 'provisioner_call');
    expect(executions.map((e) => e.payload.commandId).sort()).toEqual(sent.map((c) => c.commandId).sort());
    const calls = events.filter((e): e is BuildEventOf<'mcp_call'> => e.type === 'mcp_call');
    const appliedCalls = calls.filter((c) => c.payload.tool === 'apply_migration');
    expect(appliedCalls).toHaveLength(SESSIONS);
    for (const call of calls) {
      const execution = executions.find((e) => e.payload.commandId === call.payload.commandId);
      expect(call.payload.worker).toBe(execution?.payload.worker);
    }

    // Every copy was delivered and answered from the ledger (by whichever process got it), not executed.
    const answered = workers.flatMap((worker) =>
      worker.lines.filter((line) => line.includes('answered from the ledger')),
    );
    expect(answered).toHaveLength(2 * SESSIONS);

    // Both processes did some of the work.
    const pids = workers.map((worker) => worker.child.pid);
    const byPid = new Map<number, number>();
    for (const execution of executions) {
      const pid = Number(execution.payload.worker?.split(':').pop());
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    expect([...byPid.keys()].sort()).toEqual([...pids].sort());
    for (const pid of pids) expect(byPid.get(pid!)).toBeGreaterThanOrEqual(1);
  });
});
