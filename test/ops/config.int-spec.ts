import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Configuration is validated at boot: a service started with a missing or malformed variable exits non-zero
 * before it connects to anything, naming the variable (and not echoing its value). Runs the built services
 * (`npm test` builds first).
 */
const ROOT = path.resolve(__dirname, '../..');
const SERVICES = ['gateway', 'orchestrator', 'provisioner', 'drift-sentinel', 'realtime-bridge'] as const;

function run(
  service: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'services', service, 'dist', 'main.js')], {
      cwd: ROOT,
      // Nothing that would let it reach a real server if it got that far.
      env: {
        PATH: process.env.PATH ?? '',
        NATS_URL: 'nats://127.0.0.1:1',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${service} did not exit within 20 s:\n${output}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

const COMMON: Array<[string, string, Record<string, string>]> = [
  ['PORT', 'not a number', { PORT: 'eighty' }],
  ['DATABASE_URL', 'empty', { DATABASE_URL: '' }],
  [
    'DATABASE_URL',
    'not a postgres URL (its password not echoed)',
    { DATABASE_URL: 'mysql://root:hunter2@db.example.com/vibe' },
  ],
  ['NATS_URL', 'not a NATS URL', { NATS_URL: 'http://nats.example.com:4222' }],
  ['NATS_NAMESPACE', 'with a space', { NATS_NAMESPACE: 'not allowed' }],
  ['LOG_LEVEL', 'not a level', { LOG_LEVEL: 'loud' }],
];

const OWN: Record<(typeof SERVICES)[number], Array<[string, string, Record<string, string>]>> = {
  gateway: [['SUPABASE_JWT_SECRET', 'too short', { SUPABASE_JWT_SECRET: 'too-short' }]],
  orchestrator: [['BUILD_CONCURRENCY', 'zero', { BUILD_CONCURRENCY: '0' }]],
  provisioner: [['ENV_DB_PREFIX', 'not lower-case', { ENV_DB_PREFIX: 'Bad-Prefix' }]],
  'drift-sentinel': [['PORT', 'out of range', { PORT: '70000' }]],
  // Set without its partner: the missing one is named.
  'realtime-bridge': [
    ['SUPABASE_SERVICE_ROLE_KEY', 'missing beside SUPABASE_URL', { SUPABASE_URL: 'https://abc.supabase.co' }],
  ],
};

describe.each(SERVICES)('%s started with a bad configuration', (service) => {
  it.each([...COMMON, ...OWN[service]])('exits non-zero naming %s (%s)', async (variable, _why, env) => {
    const { code, output, ms } = await run(service, env);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(output).toMatch(new RegExp(`Invalid configuration: (.*; )?${variable}: `));
    expect(output).not.toMatch(/hunter2|listening on/);
    expect(ms).toBeLessThan(15_000);
  });
});
