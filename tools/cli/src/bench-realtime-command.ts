import { parseArgs } from 'node:util';
import { benchRealtime, type LatencySummary } from './bench-realtime.js';

/** `npm run vibe -- bench-realtime`: argument parsing and the report. */
export async function benchRealtimeCommand(args: string[], out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      clients: { type: 'string', default: '100' },
      builds: { type: 'string', default: '3' },
      synthetic: { type: 'string', default: '500' },
      rate: { type: 'string', default: '200' },
      vsn: { type: 'string', default: '2.0.0' },
    },
  });
  const count = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be a whole number of at least ${min}`);
    return n;
  };
  if (values.vsn !== '1.0.0' && values.vsn !== '2.0.0') throw new RangeError('--vsn must be 1.0.0 or 2.0.0');
  const result = await benchRealtime({
    clients: count('clients', values.clients, 1),
    builds: count('builds', values.builds, 0),
    synthetic: count('synthetic', values.synthetic, 0),
    rate: count('rate', values.rate, 1),
    vsn: values.vsn,
    adminUrl: process.env.ENV_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    out,
  });
  const line = (label: string, s: LatencySummary) =>
    `${label.padEnd(34)} p50 ${s.p50.toFixed(2)} ms  p90 ${s.p90.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  ` +
    `max ${s.max.toFixed(2)} ms  (${s.samples} receipts)`;
  out('');
  out(
    `${result.clients} supabase-js clients (serializer ${values.vsn}) on one build:<id> channel; all subscribed in ${result.subscribeMs.toFixed(0)} ms`,
  );
  if (result.builds.samples) out(line('real builds (event ts -> receipt)', result.builds));
  if (result.synthetic.samples) out(line('synthetic (js.publish -> receipt)', result.synthetic));
  out(`events missed by a client: ${result.missed}`);
  return result.missed === 0 ? 0 : 1;
}
