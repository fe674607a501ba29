import { newId, ProvisionOutputs, type ProvisionCommandOf } from '@vibe/contracts';
import { commands, outputOf, startProvisioner, type Provisioner } from './harness.js';

const deleteEnvironment = (
  sessionId: string,
  environmentRef: string | null = null,
): ProvisionCommandOf<'delete_environment'> => ({
  version: 1,
  tool: 'delete_environment',
  commandId: newId(),
  sessionId,
  environmentRef,
});

/** delete_environment (issue 4): how a canceled or failed build's environment goes away. */
describe('provisioner: delete_environment on the local driver', () => {
  let provisioner: Provisioner;

  beforeAll(async () => {
    provisioner = await startProvisioner();
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  const databases = async () =>
    (
      await provisioner.controlPlaneQuery<{ datname: string }>(
        "select datname from pg_database where datname like $1 || '%' order by 1",
        [provisioner.prefix],
      )
    ).map((row) => row.datname);

  const create = async (sessionId: string) => {
    const result = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    return ProvisionOutputs.create_environment.parse(outputOf(result)).environment.ref;
  };

  it('drops the session’s database, and answers a repeat and a later delete without error', async () => {
    const sessionId = newId();
    const ref = await create(sessionId);
    expect(await databases()).toContain(ref);

    const command = deleteEnvironment(sessionId, ref);
    const first = await provisioner.send(command);
    expect(outputOf(first)).toEqual({ ref, deleted: true });
    expect(await databases()).not.toContain(ref);

    // The same command again (a redelivery, an orchestrator that re-ran its node): the recorded answer.
    expect(outputOf(await provisioner.send(command, `${command.commandId}.2`))).toEqual({ ref, deleted: true });
    // A new delete of an environment that is gone (no ref given: the session's own).
    expect(outputOf(await provisioner.send(deleteEnvironment(sessionId)))).toEqual({ ref, deleted: false });
  });

  it('refuses to delete another session’s environment', async () => {
    const mine = newId();
    const other = newId();
    const otherRef = await create(other);
    const result = await provisioner.send(deleteEnvironment(mine, otherRef));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatchObject({ code: 'invalid_environment_ref', transient: false });
    expect(await databases()).toContain(otherRef);
  });
});
