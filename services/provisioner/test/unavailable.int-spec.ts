import { newId } from '@vibe/contracts';
import { publishJson } from '@vibe/platform';
import { waitFor } from '../../../test/support/index.js';
import { commands, startProvisioner, type Provisioner } from './harness.js';

describe('provisioner: an environment server that cannot be reached', () => {
  let provisioner: Provisioner;

  beforeAll(async () => {
    // Nothing listens on port 1: every connection is refused, as when the server is down.
    provisioner = await startProvisioner({ ENV_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' });
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  it('is a transient failure: the command is redelivered later, and nothing is recorded or answered', async () => {
    const { client } = provisioner;
    const command = commands.createEnvironment(newId(), 'project');
    await publishJson(client, client.topology.subjects.provisionCommand(command.tool), command, command.commandId);

    const consumer = await waitFor(
      async () => {
        const info = await client.jsm.consumers.info(
          client.topology.streams.provisionCommands,
          client.topology.consumers.provisioner,
        );
        return info.num_redelivered >= 1 && info.delivered.consumer_seq >= 3 ? info : null;
      },
      { what: 'the command to come back twice', timeoutMs: 20_000 },
    );
    expect(consumer.num_pending + consumer.num_ack_pending).toBe(1);

    const ledger = await provisioner.controlPlaneQuery('select 1 from provisioner_commands where command_id = $1', [
      command.commandId,
    ]);
    expect(ledger).toEqual([]);
    const answered = await client.jsm.streams
      .getMessage(client.topology.streams.provisionResults, {
        last_by_subj: client.topology.subjects.provisionResult(command.commandId),
      })
      .catch(() => null);
    expect(answered).toBeNull();
  });

  it('is transient through MCP too: the local server reports the refused connection, and the command comes back', async () => {
    const { client } = provisioner;
    const sessionId = newId();
    const command = commands.executeSql(sessionId, `${provisioner.prefix}${sessionId.replace(/-/g, '')}`, 'select 1');
    await publishJson(client, client.topology.subjects.provisionCommand(command.tool), command, command.commandId);

    // Each attempt's MCP call is audited as failed, a retry's under its own id; nothing is recorded or answered.
    const calls = await waitFor(
      async () => {
        const events = await provisioner.sessionEvents(sessionId);
        const failed = events.filter((e) => e.type === 'mcp_call' && !e.payload.ok);
        return failed.length >= 2 ? failed : null;
      },
      { what: 'two failed attempts of the MCP call', timeoutMs: 20_000 },
    );
    expect(calls[0]!.payload).toMatchObject({
      tool: 'execute_sql',
      attempt: 1,
      output: { code: 'ECONNREFUSED', error: expect.stringContaining('ECONNREFUSED') },
    });
    expect(calls[1]!.payload).toMatchObject({ attempt: 2 });
    expect(new Set(calls.map((call) => call.id)).size).toBe(calls.length);
    const ledger = await provisioner.controlPlaneQuery('select 1 from provisioner_commands where command_id = $1', [
      command.commandId,
    ]);
    expect(ledger).toEqual([]);
  });
});
