import { type BuildEvent } from '@vibe/contracts';
import { redact } from '@vibe/platform';
import { decodeEvent } from '../projector/projection.js';
import { type StreamedMessage } from './stream-reader.js';

/** One line of the audit timeline: what the stream holds, message by message (spec §7.4 records included). */
export function auditLine(message: StreamedMessage): string {
  const seq = `#${message.seq}`.padStart(7);
  const decoded = decodeEvent(message.data);
  if (!decoded.ok)
    return `${' '.repeat(24)}  ${seq}  (${message.subject}: ${decoded.reason}; the projector terminated it)`;
  const event = redact(decoded.event);
  return `${event.ts.padEnd(24)}  ${seq}  ${event.type.padEnd(22)} ${describe(event)}`;
}

/** Audit records say what was called and with what result; every other event says its message. */
function describe(event: BuildEvent): string {
  if (event.type === 'provisioner_call') {
    const p = event.payload;
    return `${p.tool} ${outcome(p)} on ${p.environment ?? '-'} in ${p.durationMs} ms; ${io(p)}`;
  }
  if (event.type === 'mcp_call') {
    const p = event.payload;
    const server = `${p.server.driver} ${p.server.mode}, call ${p.call} of ${p.command}`;
    return `  mcp ${p.tool} (${server}) ${outcome(p)} on ${p.environment ?? '-'} in ${p.durationMs} ms; ${io(p)}`;
  }
  if (event.type === 'management_api_call') {
    const p = event.payload;
    const status = p.status ?? 'no response';
    return `  api ${p.method} ${p.path} -> ${status} (call ${p.call} of ${p.command}) ${outcome(p)} in ${p.durationMs} ms; ${io(p)}`;
  }
  return event.message;
}

const outcome = (call: { ok: boolean }) => (call.ok ? 'ok' : 'FAILED');
const io = (call: { input: unknown; output: unknown }) => `in ${summary(call.input)} out ${summary(call.output)}`;

function summary(value: unknown, max = 160): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
