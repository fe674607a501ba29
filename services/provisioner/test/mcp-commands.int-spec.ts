/**
 * The provisioner as an MCP client: each command over JetStream becomes calls to the environment's MCP server
 * (read-only sessions for inspection, read-write only for mutations), each call its own audit event.
 */
import { newId, ProvisionOutputs, stableId, type BuildEventOf, type ProvisionCommand } from '@vibe/contracts';
import { callProvisioner } from '@vibe/platform';
import { waitFor } from '../../../test/support/index.js';
import { commands, inEnvironment, outputOf, startProvisioner, type Provisioner } from './harness.js';

type McpCallEvent = BuildEventOf<'mcp_call'>;

describe('provisioner: commands as MCP calls', () => {
  let provisioner: Provisioner;
  let sessionId: string;
  let ref: string;

  /** The mcp_call events of one command, in call order, once `count` of them are in the stream. */
  async function callsOf(command: ProvisionCommand, count: number): Promise<McpCallEvent[]> {
    return waitFor(
      async () => {
        const calls = (await provisioner.sessionEvents(command.sessionId))
          .filter((event): event is McpCallEvent => event.type === 'mcp_call')
          .filter((event) => event.payload.commandId === command.commandId)
          .sort((a, b) => a.payload.call - b.payload.call);
        return calls.length >= count ? calls : null;
      },
      { what: `${count} mcp_call events of ${command.tool}` },
    );
  }

  const summary = (calls: McpCallEvent[]) => calls.map((c) => [c.payload.tool, c.payload.server.mode, c.payload.ok]);

  beforeAll(async () => {
    provisioner = await startProvisioner({ ENV_API_URL: 'http://127.0.0.1:0/env/{ref}' });
    sessionId = newId();
    const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    ref = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  it('applies a migration with one read-write call; our server answers a name applied already itself', async () => {
    const apply = commands.applyMigration(
      sessionId,
      ref,
      'create_items',
      'create table public.items (id int primary key, owner uuid); alter table public.items enable row level security;',
    );
    expect(outputOf(await provisioner.send(apply))).toEqual({ name: 'create_items', applied: true });
    const calls = await callsOf(apply, 1);
    expect(summary(calls)).toEqual([['apply_migration', 'read-write', true]]);
    expect(calls[0]!.payload).toMatchObject({
      environment: ref,
      command: 'apply_migration',
      call: 1,
      attempt: 1,
      server: { driver: 'local', mode: 'read-write', transport: 'in-memory' },
      input: { name: 'create_items', query: expect.stringContaining('create table public.items') },
      output: { success: true, applied: true },
      worker: expect.stringMatching(new RegExp(`:${process.pid}$`)),
    });
    expect(calls.map((c) => c.id)).toEqual([stableId(sessionId, `mcp:${apply.commandId}:1`)]);
    const { startedAt, endedAt, durationMs } = calls[0]!.payload;
    expect(Date.parse(endedAt) - Date.parse(startedAt)).toBeGreaterThanOrEqual(0);
    expect(durationMs).toBeGreaterThanOrEqual(0);

    // Applied already: the server finds the name in its ledger and applies nothing (the query would fail).
    const again = commands.applyMigration(sessionId, ref, 'create_items', 'select * from public.no_such_table');
    expect(outputOf(await provisioner.send(again))).toEqual({ name: 'create_items', applied: false });
    const [repeat] = await callsOf(again, 1);
    expect(summary([repeat!])).toEqual([['apply_migration', 'read-write', true]]);
    expect(repeat!.payload.output).toEqual({ success: true, applied: false });
  });

  it('inspects read-only and writes read-write', async () => {
    const read = commands.executeSql(sessionId, ref, 'select count(*)::int as n from public.items');
    const write = commands.executeSql(sessionId, ref, 'insert into public.items values (1) returning id', false);
    const tables = commands.listTables(sessionId, ref);
    expect(outputOf(await provisioner.send(write))).toEqual({ rows: [{ id: 1 }] });
    expect(outputOf(await provisioner.send(read))).toEqual({ rows: [{ n: 1 }] });
    expect(outputOf(await provisioner.send(tables))).toEqual({
      tables: [
        {
          schema: 'public',
          name: 'items',
          rlsEnabled: true,
          columns: [
            { name: 'id', dataType: 'integer', nullable: false },
            { name: 'owner', dataType: 'uuid', nullable: true },
          ],
        },
      ],
    });
    expect(summary(await callsOf(write, 1))).toEqual([['execute_sql', 'read-write', true]]);
    expect(summary(await callsOf(read, 1))).toEqual([['execute_sql', 'read-only', true]]);
    expect(summary(await callsOf(tables, 1))).toEqual([['list_tables', 'read-only', true]]);
  });

  it('answers the new commands through the MCP tools of the same names', async () => {
    const { client } = provisioner;
    const advisors = await callProvisioner(
      client,
      inEnvironment(sessionId, ref, { tool: 'get_advisors', type: 'security' }),
    );
    expect(advisors.lints.map((lint) => [lint.name, lint.level, lint.metadata.name])).toEqual([
      ['rls_enabled_no_policy', 'INFO', 'items'],
    ]);
    expect(advisors.lints[0]).toMatchObject({
      title: 'RLS Enabled No Policy',
      detail: 'Table `public.items` has RLS enabled, but no policies exist',
      remediation: expect.stringContaining('rls_enabled_no_policy'),
    });

    const migrations = await callProvisioner(client, inEnvironment(sessionId, ref, { tool: 'list_migrations' }));
    expect(migrations.migrations.map((m) => m.name)).toEqual(['create_items']);
    const extensions = await callProvisioner(client, inEnvironment(sessionId, ref, { tool: 'list_extensions' }));
    expect(extensions.extensions.find((e) => e.name === 'pgcrypto')).toMatchObject({ schema: 'extensions' });

    const deploy = inEnvironment(sessionId, ref, {
      tool: 'deploy_edge_function',
      name: 'hello',
      files: [{ name: 'index.ts', content: 'Deno.serve(() => new Response("hi"));' }],
    });
    const deployed = await callProvisioner(client, deploy);
    expect(deployed.function).toMatchObject({ slug: 'hello', version: 1, status: 'ACTIVE', verifyJwt: true });
    expect(summary(await callsOf(deploy, 1))).toEqual([['deploy_edge_function', 'read-write', true]]);
    const listed = await callProvisioner(client, inEnvironment(sessionId, ref, { tool: 'list_edge_functions' }));
    expect(listed.functions.map((f) => [f.slug, f.version])).toEqual([['hello', 1]]);
    const got = await callProvisioner(
      client,
      inEnvironment(sessionId, ref, { tool: 'get_edge_function', slug: 'hello' }),
    );
    expect(got.function.files).toEqual([{ name: 'index.ts', content: 'Deno.serve(() => new Response("hi"));' }]);

    const url = await callProvisioner(client, inEnvironment(sessionId, ref, { tool: 'get_project_url' }));
    // Port 0: the local API listens on a free port, and the URL names it.
    expect(url).toEqual({ url: expect.stringMatching(new RegExp(`^http://127\\.0\\.0\\.1:[1-9][0-9]*/env/${ref}$`)) });
    const keys = await callProvisioner(client, inEnvironment(sessionId, ref, { tool: 'get_publishable_keys' }));
    expect(keys.keys).toEqual([
      { name: 'anon', type: 'legacy', apiKey: expect.stringMatching(/^eyJ/), disabled: false },
    ]);
  });

  it('turns a tool failure into a final result with its code, audited as a failed call', async () => {
    const missing = inEnvironment(sessionId, ref, { tool: 'get_edge_function', slug: 'missing' });
    const result = await provisioner.send(missing);
    expect(result).toMatchObject({ ok: false, error: { code: 'function_not_found', transient: false } });
    const [call] = await callsOf(missing, 1);
    expect(call!.payload).toMatchObject({
      ok: false,
      output: { error: expect.stringContaining('"missing" not found'), code: 'function_not_found' },
    });
    const command = (await provisioner.sessionEvents(sessionId)).find(
      (event) => event.type === 'provisioner_call' && event.payload.commandId === missing.commandId,
    );
    expect(command?.payload).toMatchObject({ ok: false, worker: call!.payload.worker, endedAt: expect.any(String) });
  });

  it('re-publishes a command’s recorded MCP call events with the same ids when a repeat is answered', async () => {
    const read = commands.executeSql(sessionId, ref, 'select 1 as one');
    await provisioner.send(read);
    // Events follow the result: wait for the command's own record, published last.
    const before = await waitFor(
      async () => {
        const events = await provisioner.sessionEvents(sessionId);
        const done = events.some((e) => e.type === 'provisioner_call' && e.payload.commandId === read.commandId);
        return done ? events.length : null;
      },
      { what: 'the provisioner_call event' },
    );
    const [again] = await provisioner.sendCopies(read, [`${read.commandId}-again`]);
    expect(outputOf(again!)).toEqual({ rows: [{ one: 1 }] });
    // The repeat is acked after it re-published its events: once the queue is drained, they are in.
    const { client } = provisioner;
    await waitFor(
      async () => {
        const info = await client.jsm.consumers.info(
          client.topology.streams.provisionCommands,
          client.topology.consumers.provisioner,
        );
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      { what: 'the work queue to drain' },
    );
    expect((await provisioner.sessionEvents(sessionId)).length).toBe(before);
    const ledger = await provisioner.controlPlaneQuery<{ audit: Array<{ type: string }> }>(
      'select audit from provisioner_commands where command_id = $1',
      [read.commandId],
    );
    expect(ledger[0]!.audit.map((event) => event.type)).toEqual(['provisioner_call', 'mcp_call']);
  });
});
