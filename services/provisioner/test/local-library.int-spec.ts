/**
 * The runtime's local supabase-js (local-library.ts), made with the real `deno bundle` and loaded by a real Deno
 * process the way a function loads it: through its import map, reading only the library's directory.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultDenoPath, denoEnvironment } from '../src/edge-runtime/deno-worker.js';
import { LIBRARY_DIR, runtimeLibraries } from '../src/edge-runtime/local-library.js';

const run = promisify(execFile);
// The runtime's usual DENO_DIR: npm packages another test or run already fetched are not fetched again.
const denoDir = join(tmpdir(), `vibe-edge-runtime-${userInfo().uid}`, 'deno');
const denoPath = defaultDenoPath();

describe('provisioner: the Edge runtime’s local supabase-js', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'vibe-library-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('bundles supabase-js once into one file that a function loads through its import map', async () => {
    const warnings: string[] = [];
    const libraries = await runtimeLibraries(root, { denoPath, denoDir }, (message) => warnings.push(message));
    const file = join(root, LIBRARY_DIR, 'supabase-js@2.js');
    expect(warnings).toEqual([]);
    expect(libraries.supabaseJs).toBe(`file://${file}`);
    // Nothing else is left beside it (the entry and the file written aside are gone).
    expect(await readdir(join(root, LIBRARY_DIR))).toEqual(['supabase-js@2.js']);

    const fn = join(root, 'fn');
    await mkdir(fn);
    await writeFile(
      join(fn, 'deno.json'),
      JSON.stringify({ imports: { 'jsr:@supabase/supabase-js@2': libraries.supabaseJs } }),
    );
    await writeFile(
      join(fn, 'main.ts'),
      `import { createClient } from "jsr:@supabase/supabase-js@2";
const client = createClient("http://127.0.0.1:9", "anon", { auth: { persistSession: false } });
console.log(JSON.stringify({ from: import.meta.resolve("jsr:@supabase/supabase-js@2"), rpc: typeof client.rpc, from_: typeof client.from }));`,
    );
    const { stdout } = await run(
      denoPath,
      [
        'run',
        '--no-lock',
        '--node-modules-dir=none',
        `--config=${join(fn, 'deno.json')}`,
        '--allow-env',
        `--allow-read=${fn},${join(root, LIBRARY_DIR)}`,
        join(fn, 'main.ts'),
      ],
      { cwd: fn, env: denoEnvironment(denoDir) },
    );
    expect(JSON.parse(stdout.trim())).toEqual({ from: libraries.supabaseJs, rpc: 'function', from_: 'function' });

    // A later start takes the file as it is.
    const made = (await stat(file)).mtimeMs;
    expect(await runtimeLibraries(root, { denoPath, denoDir }, (message) => warnings.push(message))).toEqual(libraries);
    expect((await stat(file)).mtimeMs).toBe(made);
    expect(warnings).toEqual([]);
  });

  it('falls back to the npm package, saying why, when the bundle cannot be made', async () => {
    const warnings: string[] = [];
    const missing = join(root, 'no-deno-here');
    expect(await runtimeLibraries(root, { denoPath: missing, denoDir }, (message) => warnings.push(message))).toEqual(
      {},
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('load npm:@supabase/supabase-js@2 from npm');
    expect(warnings[0]).toContain(join(root, LIBRARY_DIR, 'supabase-js@2.js'));
    expect(warnings[0]).toContain('ENOENT');
    expect(await readdir(join(root, LIBRARY_DIR))).toEqual([]);
  });
});
