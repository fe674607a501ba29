import { McpCall, ProvisionerCall, stableId, type ProvisionCommand } from '@vibe/contracts';
import { failedResult, okResult } from './outcome.js';
import {
  mcpCallEvent,
  provisionerCallEvent,
  summarizeInput,
  summarizeMcpInput,
  summarizeMcpOutput,
  summarizeOutput,
} from './audit.js';

const SESSION = '0f8e6c1a-3b2d-4c5e-9f70-81a2b3c4d5e6';
const REF = 'vibe_env_0f8e6c1a3b2d4c5e9f7081a2b3c4d5e6';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

const commands = {
  create: (): ProvisionCommand => ({
    version: 1,
    tool: 'create_environment',
    commandId: '11111111-1111-4111-8111-111111111111',
    sessionId: SESSION,
    mode: 'branch',
  }),
  migrate: (query: string): ProvisionCommand => ({
    version: 1,
    tool: 'apply_migration',
    commandId: '22222222-2222-4222-8222-222222222222',
    sessionId: SESSION,
    environmentRef: REF,
    name: 'create_listings',
    query,
  }),
  sql: (query: string): ProvisionCommand => ({
    version: 1,
    tool: 'execute_sql',
    commandId: '33333333-3333-4333-8333-333333333333',
    sessionId: SESSION,
    environmentRef: REF,
    query,
    readOnly: true,
  }),
  tables: (): ProvisionCommand => ({
    version: 1,
    tool: 'list_tables',
    commandId: '44444444-4444-4444-8444-444444444444',
    sessionId: SESSION,
    environmentRef: REF,
    schemas: ['public'],
  }),
};

describe('summarizeInput', () => {
  it('gives a migration its name and the first 200 characters of its query', () => {
    const query = `create table listings (id uuid primary key); -- ${'x'.repeat(500)}`;
    const summary = summarizeInput(commands.migrate(query));
    expect(summary).toMatchObject({ name: 'create_listings', queryLength: query.length });
    expect(summary.query).toHaveLength(201);
    expect(String(summary.query).startsWith('create table listings')).toBe(true);
  });

  it('redacts a secret before cutting, so half a secret cannot slip through', () => {
    const query = `${'-'.repeat(150)} select '${JWT}'`;
    const summary = JSON.stringify(summarizeInput(commands.migrate(query)));
    expect(summary).not.toContain('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9');
  });

  it('gives the mode of create_environment and the schemas of list_tables', () => {
    expect(summarizeInput(commands.create())).toEqual({ mode: 'branch' });
    expect(summarizeInput(commands.tables())).toEqual({ schemas: ['public'] });
  });
});

describe('summarizeOutput', () => {
  it('gives execute_sql the row count and the first three rows, values redacted and cut', () => {
    const rows = [
      { id: 1, password: 'hunter2', note: 'y'.repeat(1000) },
      { id: 2, password: null, note: `postgres://app:s3cret@db/x` },
      { id: 3 },
      { id: 4 },
    ];
    const command = commands.sql('select * from t');
    const summary = summarizeOutput(command, okResult(command, { rows }));
    expect(summary.rowCount).toBe(4);
    expect(summary.rows).toHaveLength(3);
    const text = JSON.stringify(summary);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('y'.repeat(300));
  });

  it('gives list_tables the count and names with their RLS state', () => {
    const command = commands.tables();
    const output = {
      tables: [
        {
          schema: 'public',
          name: 'listings',
          rlsEnabled: true,
          columns: [{ name: 'id', dataType: 'uuid', nullable: false }],
        },
      ],
    };
    expect(summarizeOutput(command, okResult(command, output))).toEqual({
      tableCount: 1,
      tables: [{ name: 'public.listings', rlsEnabled: true, columns: 1 }],
    });
  });

  it('gives a failure its message and code', () => {
    const command = commands.migrate('create tabel x ()');
    const result = failedResult(command, { message: 'syntax error at or near "tabel"', code: '42601' });
    expect(summarizeOutput(command, result)).toEqual({ error: 'syntax error at or near "tabel"', code: '42601' });
  });
});

describe('provisionerCallEvent', () => {
  const command = commands.sql(`select '${JWT}' as token, 'postgres://u:p4ss@h/db' as dsn`);
  const result = okResult(command, { rows: [{ token: JWT, dsn: 'postgres://u:p4ss@h/db' }] });
  const event = provisionerCallEvent({
    command,
    environment: REF,
    result,
    startedAt: new Date('2025-01-02T03:04:05.000Z'),
    durationMs: 12,
  });

  it('is a valid provisioner_call event with a stable id', () => {
    expect(ProvisionerCall.parse(event)).toEqual(event);
    expect(event.id).toBe(stableId(SESSION, `call:${command.commandId}`));
    expect(event.payload).toMatchObject({
      tool: 'execute_sql',
      environment: REF,
      commandId: command.commandId,
      ok: true,
      startedAt: '2025-01-02T03:04:05.000Z',
      durationMs: 12,
      output: { rowCount: 1 },
    });
    expect(event.message).toBe(`execute_sql succeeded on ${REF} in 12 ms`);
  });

  it('carries no secret', () => {
    const text = JSON.stringify(event);
    expect(text).not.toContain(JWT);
    expect(text).not.toContain('p4ss');
  });
});

describe('mcpCallEvent', () => {
  const command = commands.sql(`select '${JWT}' as token`);
  const call = (outcome: Parameters<typeof mcpCallEvent>[0]['outcome'], attempt = 1) =>
    mcpCallEvent({
      command,
      environment: REF,
      tool: 'execute_sql',
      args: { query: `select '${JWT}' as token, 'postgres://u:p4ss@h/db' as dsn` },
      outcome,
      server: { driver: 'local', mode: 'read-only', transport: 'in-memory' },
      call: 2,
      attempt,
      startedAt: new Date('2025-01-02T03:04:05.000Z'),
      endedAt: new Date('2025-01-02T03:04:05.012Z'),
      durationMs: 12,
      worker: 'host:42',
    });

  it('is a valid mcp_call event whose id is stable per command and call, and per attempt after the first', () => {
    const event = call({ ok: true, value: { result: [{ token: JWT }] } });
    expect(McpCall.parse(event)).toEqual(event);
    expect(event.id).toBe(stableId(SESSION, `mcp:${command.commandId}:2`));
    expect(call({ ok: true, value: {} }, 3).id).toBe(stableId(SESSION, `mcp:${command.commandId}:3:2`));
    expect(event.payload).toMatchObject({
      tool: 'execute_sql',
      command: 'execute_sql',
      environment: REF,
      call: 2,
      attempt: 1,
      server: { driver: 'local', mode: 'read-only', transport: 'in-memory' },
      ok: true,
      startedAt: '2025-01-02T03:04:05.000Z',
      endedAt: '2025-01-02T03:04:05.012Z',
      durationMs: 12,
      worker: 'host:42',
      output: { rowCount: 1 },
    });
  });

  it('carries no secret from the input, the output or an error', () => {
    const ok = JSON.stringify(call({ ok: true, value: { result: [{ token: JWT, password: 'hunter2' }] } }));
    const failed = JSON.stringify(
      call({
        ok: false,
        error: { message: `bad input "postgres://u:p4ss@h/db" near ${JWT}`, code: '22P02', transient: false },
      }),
    );
    for (const text of [ok, failed]) {
      expect(text).not.toContain('eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9');
      expect(text).not.toContain('p4ss');
      expect(text).not.toContain('hunter2');
    }
    expect(JSON.parse(failed).payload.output).toEqual({ error: expect.stringContaining('[redacted]'), code: '22P02' });
  });
});

describe('summarizeMcpInput', () => {
  it('cuts queries and gives files as names and sizes', () => {
    expect(
      summarizeMcpInput('deploy_edge_function', {
        name: 'f',
        files: [{ name: 'index.ts', content: `const k = "${JWT}";` }],
      }),
    ).toEqual({ name: 'f', files: [{ name: 'index.ts', bytes: JWT.length + 13 }] });
    const summary = summarizeMcpInput('apply_migration', { name: 'm', query: 'x'.repeat(1000) });
    expect(summary).toMatchObject({ name: 'm', queryLength: 1000 });
    expect(String(summary.query)).toHaveLength(201);
  });
});

describe('summarizeMcpOutput', () => {
  it('counts tables and lints, and keeps no publishable key', () => {
    expect(
      summarizeMcpOutput('list_tables', {
        ok: true,
        value: { tables: [{ name: 'public.a', rls_enabled: false, rows: 0 }], advisory: { id: 'rls_disabled' } },
      }),
    ).toEqual({ tableCount: 1, tables: [{ name: 'public.a', rls_enabled: false }], advisory: true });
    expect(
      summarizeMcpOutput('get_advisors', {
        ok: true,
        value: { result: { lints: [{ name: 'rls_disabled_in_public', level: 'ERROR', count: 2, findings: [] }] } },
      }),
    ).toEqual({ lints: [{ name: 'rls_disabled_in_public', level: 'ERROR', count: 2 }] });
    expect(
      JSON.stringify(
        summarizeMcpOutput('get_publishable_keys', {
          ok: true,
          value: { keys: [{ api_key: JWT, name: 'anon', type: 'legacy' }] },
        }),
      ),
    ).not.toContain('eyJ');
  });
});
