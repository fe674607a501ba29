/**
 * Secrets planted in the inputs, outputs and errors of MCP calls never reach the events stream (the source of
 * `build_events`) or the provisioner's logs, while every call is still audited.
 */
import { createHash } from 'node:crypto';
import { newId, ProvisionOutputs, type BuildEventOf, type ProvisionCommand } from '@vibe/contracts';
import { CapturedLog } from '../../../test/support/app.js';
import { waitFor } from '../../../test/support/index.js';
import { commands, inEnvironment, outputOf, startProvisioner, type Provisioner } from './harness.js';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwicGxhbnRlZCI6dHJ1ZX0.cGxhbnRlZC1zaWduYXR1cmUtdmFsdWU';
const SECRETS = {
  /** In a migration's query (a comment) and in the table's rows. */
  migrationDsn: 'postgres://admin:M1gr4t10n-pw@db.example.com:5432/app',
  /** In execute_sql input, as a Supabase personal access token. */
  accessToken: 'sbp_a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2',
  /**
   * In rows only: a value under a column that names a secret, made by the server (from a seed) so that no
   * query text holds it. No pattern finds a bare password in free text; the column name gives it away.
   */
  plainPassword: createHash('sha256').update('planted-seed').digest('hex'),
  bearer: 'Bearer planted-bearer-token-value',
  /** In a Postgres error message. */
  errorDsn: 'postgres://admin:Err0r-pw@db.example.com:5432/app',
  /** In an Edge Function's file. */
  functionPassword: 'S3cret-in-function-file',
  /** In a failing migration's query and error. */
  failedDsn: 'postgresql://owner:F41led-pw@db.example.com/app',
};
/** The parts of the secrets that must not appear anywhere (a JWT's payload and signature, passwords, tokens). */
const FORBIDDEN = [
  'M1gr4t10n-pw',
  SECRETS.accessToken,
  SECRETS.plainPassword,
  'planted-bearer-token-value',
  'Err0r-pw',
  SECRETS.functionPassword,
  'F41led-pw',
  'eyJyb2xlIjoic2VydmljZV9yb2xlIiwicGxhbnRlZCI6dHJ1ZX0',
  'cGxhbnRlZC1zaWduYXR1cmUtdmFsdWU',
];

describe('provisioner: no secret of an MCP call reaches the events stream or the logs', () => {
  let provisioner: Provisioner;
  const log = new CapturedLog();

  beforeAll(async () => {
    provisioner = await startProvisioner({}, { logger: log });
  });

  afterAll(async () => {
    await provisioner?.close();
  });

  it('redacts them from every audit event while the caller still gets its data', async () => {
    const sessionId = newId();
    const created = await provisioner.send(commands.createEnvironment(sessionId, 'branch'));
    const ref = ProvisionOutputs.create_environment.parse(outputOf(created)).environment.ref;
    const sent: ProvisionCommand[] = [];

    const migration = commands.applyMigration(
      sessionId,
      ref,
      'create_vault',
      `create table public.vault (id int primary key, password text, note text, claim text);
       comment on table public.vault is '${SECRETS.migrationDsn}';
       alter table public.vault enable row level security;`,
    );
    sent.push(migration);
    expect(outputOf(await provisioner.send(migration))).toEqual({ name: 'create_vault', applied: true });

    const insert = commands.executeSql(
      sessionId,
      ref,
      `insert into public.vault values (1, encode(sha256('planted-seed'::bytea), 'hex'), '${SECRETS.bearer}', '${JWT}')`,
      false,
    );
    sent.push(insert);
    outputOf(await provisioner.send(insert));

    const read = commands.executeSql(
      sessionId,
      ref,
      `select password, note, claim, '${SECRETS.accessToken}' as pat, obj_description('public.vault'::regclass) as dsn
       from public.vault`,
    );
    sent.push(read);
    // The caller gets what it asked for: only the audit is redacted.
    expect(outputOf(await provisioner.send(read))).toEqual({
      rows: [
        {
          password: SECRETS.plainPassword,
          note: SECRETS.bearer,
          claim: JWT,
          pat: SECRETS.accessToken,
          dsn: SECRETS.migrationDsn,
        },
      ],
    });

    const failing = commands.executeSql(sessionId, ref, `select '${SECRETS.errorDsn}'::int`);
    sent.push(failing);
    const failure = await provisioner.send(failing);
    expect(failure).toMatchObject({ ok: false, error: { code: '22P02' } });

    const deploy = inEnvironment(sessionId, ref, {
      tool: 'deploy_edge_function',
      name: 'leaky',
      files: [
        {
          name: 'index.ts',
          content: `const key = "${JWT}";\nconst dsn = "password=${SECRETS.functionPassword}";\nDeno.serve(() => new Response(key));`,
        },
      ],
    });
    const get = inEnvironment(sessionId, ref, { tool: 'get_edge_function', slug: 'leaky' });
    const keys = inEnvironment(sessionId, ref, { tool: 'get_publishable_keys' });
    sent.push(deploy, get, keys);
    outputOf(await provisioner.send(deploy));
    expect(JSON.stringify(outputOf(await provisioner.send(get)))).toContain(SECRETS.functionPassword);
    const anonKey = ProvisionOutputs.get_publishable_keys.parse(outputOf(await provisioner.send(keys))).keys[0]!.apiKey;

    const broken = commands.applyMigration(
      sessionId,
      ref,
      'broken_with_secret',
      `create server leaky foreign data wrapper nope options (dsn '${SECRETS.failedDsn}');`,
    );
    sent.push(broken);
    expect(await provisioner.send(broken)).toMatchObject({ ok: false });

    // Every command and every one of its MCP calls is in the stream.
    const events = await waitFor(
      async () => {
        const all = await provisioner.sessionEvents(sessionId);
        const done = sent.every((c) =>
          all.some((e) => e.type === 'provisioner_call' && e.payload.commandId === c.commandId),
        );
        return done ? all : null;
      },
      { what: 'the audit events of every command' },
    );
    const calls = events.filter((e): e is BuildEventOf<'mcp_call'> => e.type === 'mcp_call');
    expect(calls.map((c) => `${c.payload.tool}:${c.payload.ok}`).sort()).toEqual(
      [
        'apply_migration:true',
        'execute_sql:true',
        'execute_sql:true',
        'execute_sql:false',
        'deploy_edge_function:true',
        'get_edge_function:true',
        'get_publishable_keys:true',
        'apply_migration:false',
      ].sort(),
    );

    const stream = JSON.stringify(events);
    for (const secret of [...FORBIDDEN, anonKey])
      expect({ secret, found: stream.includes(secret) }).toEqual({ secret, found: false });
    expect(stream).toContain('[redacted]');
    // What was redacted is still recognisable as what happened.
    const failed = calls.find((c) => c.payload.tool === 'execute_sql' && !c.payload.ok)!;
    expect(failed.payload.output).toMatchObject({
      code: '22P02',
      error: expect.stringContaining('invalid input syntax for type integer'),
    });

    const logged = log.lines.join('\n');
    expect(logged).toContain('failed'); // the failed commands were logged
    for (const secret of [...FORBIDDEN, anonKey])
      expect({ secret, logged: logged.includes(secret) }).toEqual({ secret, logged: false });
  });
});
