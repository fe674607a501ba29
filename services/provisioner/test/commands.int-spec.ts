import { encodeJson } from '@vibe/platform';
import { newId, ProvisionerCall, ProvisionOutputs, stableId, type ProvisionResult } from '@vibe/contracts';
import { waitFor } from '../../../test/support/index.js';
import { commands, outputOf, startProvisioner, type Provisioner } from './harness.js';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

describe('provisioner: commands, ledger and audit', () => {
  let provisioner: Provisioner;
  let sessionId: string;
  let ref: string;

  const count = async (n: number): Promise<number> =>
    provisioner.inEnvironment(ref, async (db) => {
      const { rows } = await db.query<{ c: number }>('select count(*)::int as c from public.counter where n = $1', [n]);
      return rows[0]!.c;
    });

  beforeAll(async () => {
    provisioner = await startProvisioner();
    sessionId = newId();
    const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    ref = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
    const counter = commands.applyMigration(
      sessionId,
      ref,
      'create_counter',
      'create table public.counter (n int not null); alter table public.counter enable row level security;',
    );
    outputOf(await provisioner.send(counter));
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  it('applies a migration name once: the second command answers applied: false', async () => {
    const query = 'insert into public.counter values (1)';
    const first = await provisioner.send(commands.applyMigration(sessionId, ref, 'seed_counter', query));
    const second = await provisioner.send(commands.applyMigration(sessionId, ref, 'seed_counter', query));
    expect(outputOf(first)).toEqual({ name: 'seed_counter', applied: true });
    expect(outputOf(second)).toEqual({ name: 'seed_counter', applied: false });
    expect(await count(1)).toBe(1);
    const ledger = await provisioner.inEnvironment(ref, async (db) => {
      const { rows } = await db.query<Record<string, unknown>>(
        `select name, statements, version ~ '^[0-9]{14}$' as timestamped
         from supabase_migrations.schema_migrations where name = 'seed_counter'`,
      );
      return rows;
    });
    expect(ledger).toEqual([{ name: 'seed_counter', statements: [query], timestamped: true }]);
  });

  it('applies a migration name once when two commands for it run at the same time', async () => {
    const query = 'insert into public.counter values (2)';
    const results = await Promise.all(
      [1, 2, 3].map(() => provisioner.send(commands.applyMigration(sessionId, ref, 'seed_two', query))),
    );
    const applied = results.map((result) => (outputOf(result) as { applied: boolean }).applied);
    expect(applied.filter(Boolean)).toHaveLength(1);
    expect(await count(2)).toBe(1);
  });

  it('answers a repeated command id from the ledger without executing it again', async () => {
    const insert = commands.executeSql(sessionId, ref, 'insert into public.counter values (3) returning n', false);
    // Another Nats-Msg-Id, so JetStream does not drop the copy: only the ledger stands between it and a
    // second insert. The copies arrive together, so they also race each other.
    const results = await provisioner.sendCopies(insert, [insert.commandId, `${insert.commandId}-copy`]);
    expect(results).toHaveLength(2);
    expect(results[1]).toEqual(results[0]);
    expect(outputOf(results[0]!)).toEqual({ rows: [{ n: 3 }] });
    // And once more, later.
    const [later] = await provisioner.sendCopies(insert, [`${insert.commandId}-later`]);
    expect(later).toEqual(results[0]);

    expect(await count(3)).toBe(1);
    const ledger = await provisioner.controlPlaneQuery<{ tool: string; result: ProvisionResult }>(
      'select tool, result from provisioner_commands where command_id = $1',
      [insert.commandId],
    );
    expect(ledger).toEqual([{ tool: 'execute_sql', result: results[0] }]);
  });

  it('runs a read-only execute_sql, role switches included, and gives the session back clean', async () => {
    const asAnon = await provisioner.send(
      commands.executeSql(sessionId, ref, 'set local role anon; select current_user as who, auth.uid() as uid'),
    );
    expect(outputOf(asAnon)).toEqual({ rows: [{ who: 'anon', uid: null }] });
    // A committed (not read-only) session-level SET ROLE would outlive the call on a pooled connection.
    const sticky = await provisioner.send(
      commands.executeSql(sessionId, ref, 'set role anon; select current_user as who', false),
    );
    expect(outputOf(sticky)).toEqual({ rows: [{ who: 'anon' }] });
    for (let i = 0; i < 3; i++) {
      const who = await provisioner.send(commands.executeSql(sessionId, ref, 'select current_user as who'));
      expect(outputOf(who)).toEqual({ rows: [{ who: 'postgres' }] });
    }
    const rows = await provisioner.send(commands.executeSql(sessionId, ref, 'select n from public.counter order by n'));
    expect(outputOf(rows)).toEqual({ rows: [{ n: 1 }, { n: 2 }, { n: 3 }] });
  });

  it('refuses writes in a read-only execute_sql, however they are dressed up', async () => {
    const plain = await provisioner.send(commands.executeSql(sessionId, ref, 'insert into public.counter values (4)'));
    expect(plain).toMatchObject({
      ok: false,
      error: {
        code: '25006',
        transient: false,
        message: expect.stringContaining(
          `execute_sql on ${ref} failed: cannot execute INSERT in a read-only transaction`,
        ),
      },
    });

    const escape = await provisioner.send(
      commands.executeSql(sessionId, ref, 'select 1; commit; insert into public.counter values (4)'),
    );
    expect(escape).toMatchObject({
      ok: false,
      error: { code: 'read_only_violation', message: expect.stringContaining('"commit"') },
    });

    const switched = await provisioner.send(
      commands.executeSql(sessionId, ref, 'set transaction read write; insert into public.counter values (4)'),
    );
    expect(switched).toMatchObject({
      ok: false,
      error: { code: '25001', message: expect.stringContaining('read-write') },
    });

    // Postgres 15 lets RESET switch a read-only transaction to read-write; the rollback still undoes it.
    await provisioner.send(
      commands.executeSql(sessionId, ref, 'reset transaction_read_only; insert into public.counter values (4)'),
    );
    expect(await count(4)).toBe(0);
  });

  it('answers bad SQL with the Postgres message, records the failure and applies nothing', async () => {
    const broken = commands.applyMigration(
      sessionId,
      ref,
      'broken_migration',
      'create table ok_part (id int);\ncreate tabel oops (id int);',
    );
    const result = await provisioner.send(broken);
    expect(result).toEqual({
      version: 1,
      commandId: broken.commandId,
      sessionId,
      tool: 'apply_migration',
      ok: false,
      error: {
        code: '42601',
        transient: false,
        message: `apply_migration "broken_migration" on ${ref} failed: syntax error at or near "tabel" (SQLSTATE 42601, line 2, column 8)`,
      },
    });
    const [again] = await provisioner.sendCopies(broken, [`${broken.commandId}-again`]);
    expect(again).toEqual(result);
    const left = await provisioner.inEnvironment(ref, async (db) => {
      const { rows } = await db.query<Record<string, unknown>>(
        `select to_regclass('public.ok_part') as t,
                (select count(*)::int from supabase_migrations.schema_migrations where name = 'broken_migration') as n`,
      );
      return rows[0];
    });
    expect(left).toEqual({ t: null, n: 0 });
  });

  it('publishes a provisioner_call audit event per executed command, with no secret in it', async () => {
    const auditSession = newId();
    const query = `select 'postgres://app:hunter2-pw@db.example.com:5432/app' as dsn, '${JWT}' as claim, 'sbp_0123456789abcdef0123456789' as key`;
    const command = commands.executeSql(auditSession, ref, query);
    const result = await provisioner.send(command);
    // The caller gets what it asked for; only the audit record is redacted.
    expect(outputOf(result)).toEqual({
      rows: [
        { dsn: 'postgres://app:hunter2-pw@db.example.com:5432/app', claim: JWT, key: 'sbp_0123456789abcdef0123456789' },
      ],
    });

    const events = await waitFor(
      async () => {
        const found = await provisioner.events(auditSession, 'provisioner_call');
        return found.count ? found : null;
      },
      { what: 'the provisioner_call event' },
    );
    expect(events.count).toBe(1);
    const event = ProvisionerCall.parse(events.last);
    expect(event.id).toBe(stableId(auditSession, `call:${command.commandId}`));
    expect(event.payload).toMatchObject({
      tool: 'execute_sql',
      environment: ref,
      commandId: command.commandId,
      ok: true,
      input: { readOnly: true, query: expect.stringContaining('[redacted]') },
      output: { rowCount: 1 },
    });
    expect(event.payload.durationMs).toBeGreaterThanOrEqual(0);
    const text = JSON.stringify(event);
    for (const secret of [
      'hunter2-pw',
      JWT,
      'eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9',
      'sbp_0123456789abcdef',
    ]) {
      expect(text).not.toContain(secret);
    }

    // A repeat answered from the ledger re-publishes the same event id, so the stream still holds one.
    await provisioner.sendCopies(command, [`${command.commandId}-again`]);
    expect((await provisioner.events(auditSession, 'provisioner_call')).count).toBe(1);
  });

  it('terminates a message that is not a command, answering its sender when it names a command id', async () => {
    const { client } = provisioner;
    const commandId = newId();
    const subscription = client.nc.subscribe(client.topology.subjects.provisionResult(commandId), {
      max: 1,
      timeout: 30_000,
    });
    await client.js.publish(
      client.topology.subjects.provisionCommand('drop_everything'),
      encodeJson({ version: 1, tool: 'drop_everything', commandId, sessionId: newId() }),
      { msgID: commandId },
    );
    await client.js.publish(
      client.topology.subjects.provisionCommand('execute_sql'),
      new TextEncoder().encode('not json'),
      {
        msgID: newId(),
      },
    );
    let answer: unknown;
    for await (const msg of subscription) answer = msg.json();
    expect(answer).toMatchObject({
      ok: false,
      commandId,
      tool: 'drop_everything',
      error: {
        code: 'invalid_command',
        transient: false,
        message: expect.stringContaining('invalid provision command'),
      },
    });

    const consumer = await waitFor(
      async () => {
        const info = await client.jsm.consumers.info(
          client.topology.streams.provisionCommands,
          client.topology.consumers.provisioner,
        );
        return info.num_pending === 0 && info.num_ack_pending === 0 ? info : null;
      },
      { what: 'the work queue to drain' },
    );
    expect(consumer.num_redelivered).toBe(0);
  });
});
