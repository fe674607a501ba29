import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { redactText } from '@vibe/platform';
import { denoEnvironment } from './deno-worker.js';
import { SUPABASE_JS, type RuntimeLibraries } from './function-bundle.js';

const run = promisify(execFile);

/** Where the runtime keeps its libraries under EDGE_RUNTIME_DIR: readable by every function. */
export const LIBRARY_DIR = 'lib';
/** The local copy of SUPABASE_JS. */
const SUPABASE_JS_FILE = 'supabase-js@2.js';
const BUNDLE_TIMEOUT_MS = 120_000;

/**
 * The runtime's libraries (function-bundle.ts `RuntimeLibraries`): supabase-js as one file, made with
 * `deno bundle` from the npm package the first time a runtime needs it, then kept under `<root>/lib` for every
 * later start. Loading `npm:@supabase/supabase-js@2` costs a Deno process about 60 ms of CPU (its 45 modules
 * resolved and read from DENO_DIR on every start), the one file 10-30 ms, once its compiled code is cached;
 * every spare and every cold start pays it, two or three per build. When the bundle cannot be made (no registry
 * and nothing cached, say), there is no local copy and functions load the npm package as before.
 *
 * The copy stays what npm resolved when it was made, as Deno's own cache does (`--no-lock`, registry data kept
 * in DENO_DIR); delete `<root>/lib` to take a newer supabase-js 2.x.
 */
export async function runtimeLibraries(
  root: string,
  deno: { denoPath: string; denoDir: string },
  warn: (message: string) => void,
): Promise<RuntimeLibraries> {
  const dir = join(root, LIBRARY_DIR);
  const file = join(dir, SUPABASE_JS_FILE);
  if (!(await isFile(file))) {
    try {
      await bundle(dir, file, deno);
    } catch (error) {
      warn(
        `Edge Functions load ${SUPABASE_JS} from npm: it could not be bundled into ${file} ` +
          `(${redactText(bundleFailure(error))})`,
      );
      return {};
    }
  }
  return { supabaseJs: pathToFileURL(file).href };
}

/** Bundles SUPABASE_JS into `file`, written aside and renamed into place (another provisioner may race us). */
async function bundle(dir: string, file: string, deno: { denoPath: string; denoDir: string }): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Both end in .js: with another ending, deno bundle's esbuild makes a module whose CommonJS imports fail.
  const stem = join(dir, `.${process.pid}-${randomBytes(4).toString('hex')}`);
  const aside = `${stem}.js`;
  const entry = `${stem}.entry.js`;
  try {
    // supabase-js has named exports only.
    await writeFile(entry, `export * from ${JSON.stringify(SUPABASE_JS)};\n`);
    await run(
      deno.denoPath,
      ['bundle', '--no-config', '--no-lock', '--node-modules-dir=none', '--platform=deno', `--output=${aside}`, entry],
      { cwd: dir, env: denoEnvironment(deno.denoDir), timeout: BUNDLE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
    );
    if (!(await isFile(aside))) throw new Error(`deno bundle wrote no ${aside}`);
    await rename(aside, file);
  } finally {
    await Promise.all([rm(aside, { force: true }), rm(entry, { force: true })]);
  }
}

async function isFile(path: string): Promise<boolean> {
  const found = await stat(path).catch(() => undefined);
  return found !== undefined && found.isFile() && found.size > 0;
}

/** What a failed `deno bundle` said: the end of its stderr, else the error. */
function bundleFailure(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const said = typeof stderr === 'string' ? stderr.trim().split('\n').slice(-3).join(' ') : '';
  return said || (error instanceof Error ? error.message : String(error));
}
