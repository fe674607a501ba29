import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT_DIR } from './stack.js';

/**
 * `replay` is the realtime-bridge's own tool (services/realtime-bridge/src/replay): replaying and repairing
 * `build_events` is the projection's business, and only the bridge writes that table (DESIGN.md §1). The CLI
 * runs the bridge's build of it with the same arguments and environment, and exits with its code.
 */
export const REPLAY_ENTRY = path.join(ROOT_DIR, 'services', 'realtime-bridge', 'dist', 'replay', 'main.js');

export function runReplay(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REPLAY_ENTRY, ...args], { stdio: 'inherit', env: process.env });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
