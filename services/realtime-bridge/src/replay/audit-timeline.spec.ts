import { newId, type BuildEvent } from '@vibe/contracts';
import { encodeJson } from '@vibe/platform';
import { auditLine } from './audit-timeline.js';

const SESSION = '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10';
const at = (seq: number, event: unknown, subject = `evt.build.${SESSION}.x`) => ({
  seq,
  subject,
  data: typeof event === 'string' ? new TextEncoder().encode(event) : encodeJson(event),
});
const envelope = { id: newId(), sessionId: SESSION, version: 1, ts: '2030-01-01T00:00:00.000Z' };

describe('auditLine', () => {
  it('shows a timeline event by its message, and an audit record by what was called, with what result', () => {
    expect(
      auditLine(
        at(1, { ...envelope, type: 'rls_enabled', message: 'Enabled RLS on orders', payload: { table: 'orders' } }),
      ),
    ).toBe('2030-01-01T00:00:00.000Z       #1  rls_enabled            Enabled RLS on orders');
    const call: BuildEvent = {
      ...envelope,
      version: 1,
      type: 'provisioner_call',
      message: 'x',
      payload: {
        tool: 'execute_sql',
        environment: 'env_1',
        commandId: newId(),
        input: { query: 'select 1', password: 'hunter2' },
        output: { rows: [] },
        ok: false,
        startedAt: envelope.ts,
        durationMs: 12,
      },
    };
    const line = auditLine(at(2, call));
    expect(line).toContain(
      'provisioner_call       execute_sql FAILED on env_1 in 12 ms; in {"query":"select 1","password":"[redacted]"}',
    );
    expect(line).not.toContain('hunter2');
  });

  it('says which message is not an event', () => {
    expect(auditLine(at(3, '{nope'))).toMatch(/#3 {2}\(evt\.build\..*: not JSON; the projector terminated it\)$/);
  });
});
