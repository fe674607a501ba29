import { posix } from 'node:path';

/**
 * How a deployed Edge Function is laid out on disk for the local Deno runtime (DESIGN.md §3). Pure: the
 * runtime writes what this returns.
 *
 *   <dir>/src/…                  the function's files, as deployed
 *   <dir>/.vibe/main.ts          the runtime's entry: serves the function's Deno.serve handler on a socket
 *   <dir>/.vibe/deno.json        the import map Deno runs with: the function's own, plus `jsr:` redirects
 *   <dir>/.vibe/edge-runtime.d.ts  an empty stand-in for `jsr:@supabase/functions-js/edge-runtime.d.ts`
 *
 * `jsr:` cannot be fetched on these machines (only the npm registry is reachable), so every `jsr:` import the
 * sources make is redirected: Supabase's own packages to the same package on npm, the edge-runtime type
 * declarations to an empty module. A `jsr:` import with no npm equivalent refuses to start with a message
 * that says so, instead of hanging. The function's own import-map entries win over ours.
 *
 * With the runtime's libraries (`RuntimeLibraries`, local-library.ts), supabase-js 2 is one local file: the
 * imports `jsr:` and `npm:@supabase/supabase-js@2` (and the function's own map entries that point at them) go
 * there, in functions and spares alike.
 *
 * A spare (spareRuntime) is a Deno process started ahead of any function, in a directory of its own laid out
 * the same way: its runtime files under .vibe/ (a generic entry that has already loaded supabase-js, and a
 * fixed config), the function's src/ added when it is assigned one. Its config is fixed when it starts, so it
 * takes only functions whose import map it provides exactly (spareFit).
 */
export interface FunctionSource {
  slug: string;
  entrypointPath: string;
  importMapPath: string | null;
  files: ReadonlyArray<{ name: string; content: string }>;
}

/** Libraries the runtime keeps locally, mapped in place of their registry specifiers. */
export interface RuntimeLibraries {
  /** A file: URL of SUPABASE_JS as one module (local-library.ts). */
  supabaseJs?: string;
}

export interface ImportMap {
  imports: Record<string, string>;
  scopes: Record<string, Record<string, string>>;
}

export interface FunctionBundle {
  /** Paths relative to the bundle's directory. */
  files: Array<{ path: string; content: string }>;
  /** The entry Deno runs, relative to the bundle's directory. */
  main: string;
  /** The config Deno runs with (`--config`), relative to the bundle's directory. */
  config: string;
  /** The function's own entrypoint, relative to the bundle's directory (under src/). */
  entry: string;
  /** The import map of `config`, its relative addresses relative to .vibe/. */
  importMap: ImportMap;
}

/** A function that cannot be laid out (a bad file name, an unreadable import map, an unmappable import). */
export class BundleError extends Error {
  override readonly name = 'BundleError';
}

/** Where the function's own files go in a bundle (and in a spare's directory once it is assigned one). */
export const SOURCE_DIR = 'src';
const RUNTIME_DIR = '.vibe';
/** Supabase publishes these on npm under the same names; jsr:@supabase/x@v is npm:@supabase/x@v. */
const SUPABASE_NPM_PACKAGES = new Set([
  'supabase-js',
  'functions-js',
  'postgrest-js',
  'storage-js',
  'auth-js',
  'realtime-js',
]);
const EDGE_RUNTIME_TYPES = /^jsr:@supabase\/functions-js(@[^/]+)?\/(src\/)?edge-runtime\.d\.ts$/;
const JSR_SPECIFIER = /["'](jsr:[^"'\s]+)["']/g;
const SCRIPT = /\.(ts|tsx|js|jsx|mjs|mts)$/;

/** The marker the entry prints when the function listens: the runtime waits for it. */
export const READY_MARKER = 'VIBE_EDGE_READY';
/** The environment variable that gives the entry its socket (removed before the function's code runs). */
export const SOCKET_VARIABLE = 'VIBE_EDGE_SOCKET';

export function bundleFunction(source: FunctionSource, libraries: RuntimeLibraries = {}): FunctionBundle {
  const files = source.files.map((file) => ({ path: sourcePath(file.name), content: file.content }));
  const entry = sourcePath(source.entrypointPath);
  if (!files.some((file) => file.path === entry)) {
    throw new BundleError(`the entrypoint "${source.entrypointPath}" is not among the function's files`);
  }
  const own = source.importMapPath ? ownImportMap(source, sourcePath(source.importMapPath)) : emptyMap();
  const imports: Record<string, string> = {};
  for (const specifier of jsrImports(source.files)) {
    if (own.imports[specifier] !== undefined) continue;
    imports[specifier] = jsrRedirect(specifier, libraries);
  }
  const local = libraries.supabaseJs;
  if (local) {
    if (own.imports[SUPABASE_JS] === undefined && quotes(source.files, SUPABASE_JS)) imports[SUPABASE_JS] = local;
    // The function's own entries that name supabase-js 2 (`"@supabase/supabase-js": "npm:…@2"`) take the copy too.
    for (const [specifier, address] of Object.entries(own.imports)) {
      if (address === SUPABASE_JS || address === JSR_SUPABASE_JS) own.imports[specifier] = local;
    }
  }
  const importMap: ImportMap = { imports: { ...imports, ...own.imports }, scopes: own.scopes };
  return {
    files: [
      ...files,
      { path: `${RUNTIME_DIR}/deno.json`, content: `${JSON.stringify(importMap, null, 2)}\n` },
      EDGE_RUNTIME_TYPES_FILE,
      { path: `${RUNTIME_DIR}/main.ts`, content: mainSource(posix.relative(RUNTIME_DIR, entry)) },
    ],
    main: `${RUNTIME_DIR}/main.ts`,
    config: `${RUNTIME_DIR}/deno.json`,
    entry,
    importMap,
  };
}

/**
 * The `jsr:` imports every spare's config redirects, as bundleFunction redirects them: the ones generated
 * functions (libs/planning renderEdgeFunctions) and Supabase's own templates make.
 */
const SPARE_JSR_IMPORTS = [
  'jsr:@supabase/supabase-js@2',
  'jsr:@supabase/functions-js/edge-runtime.d.ts',
  'jsr:@supabase/functions-js@2/edge-runtime.d.ts',
];
/** The supabase-js a spare loads, and warms up with (the local copy, where there is one). */
export const SUPABASE_JS = 'npm:@supabase/supabase-js@2';
const JSR_SUPABASE_JS = 'jsr:@supabase/supabase-js@2';
/** What a spare loads (and evaluates) before it is assigned a function: the bulk of a cold start. */
const SPARE_PRELOADS = [SUPABASE_JS];
/** The marker a spare prints once it has loaded SPARE_PRELOADS, warmed up, and waits for its function. */
export const SPARE_MARKER = 'VIBE_EDGE_SPARE';
/**
 * The variable that gives a spare the URL it warms up against (removed before a function's code runs): the
 * local API's WARM_UP_PATH, which answers without touching anything.
 */
export const WARM_UP_VARIABLE = 'VIBE_EDGE_WARM_UP_URL';
export const WARM_UP_PATH = '/warm-up';

/**
 * What the runtime sends a spare on stdin, as one line of JSON: the function it is to run.
 * Contract with the entry spareRuntime generates: change both together.
 */
export interface SpareAssignment {
  /** The function's entrypoint, relative to the spare's directory (FunctionBundle.entry). */
  entry: string;
  /** The variables the function sees (SUPABASE_URL, keys, ...), set before its code runs. */
  env: Record<string, string>;
}

export interface SpareRuntime {
  /** Paths relative to the spare's directory. */
  files: Array<{ path: string; content: string }>;
  main: string;
  config: string;
  importMap: ImportMap;
}

/**
 * The files of a spare: its generic entry, its config (the standard redirects, and SUPABASE_JS to the local
 * copy where there is one), the edge-runtime types.
 */
export function spareRuntime(libraries: RuntimeLibraries = {}): SpareRuntime {
  const importMap: ImportMap = {
    imports: {
      ...Object.fromEntries(SPARE_JSR_IMPORTS.map((specifier) => [specifier, jsrRedirect(specifier, libraries)])),
      ...(libraries.supabaseJs && { [SUPABASE_JS]: libraries.supabaseJs }),
    },
    scopes: {},
  };
  return {
    files: [
      { path: `${RUNTIME_DIR}/deno.json`, content: `${JSON.stringify(importMap, null, 2)}\n` },
      EDGE_RUNTIME_TYPES_FILE,
      { path: `${RUNTIME_DIR}/spare.ts`, content: spareSource() },
    ],
    main: `${RUNTIME_DIR}/spare.ts`,
    config: `${RUNTIME_DIR}/deno.json`,
    importMap,
  };
}

export type SpareFit = { spare: true } | { spare: false; reason: string };

/**
 * Whether a spare running with `spare`'s config runs the bundle as a cold start would: when every entry of
 * the bundle's import map is in the spare's, to the same address. Relative addresses mean the same in both,
 * the spare's directory being laid out like a bundle's. Entries the spare has beyond the bundle's redirect
 * only `jsr:` specifiers the function does not import (a cold start could not load them).
 */
export function spareFit(bundle: { importMap: ImportMap }, spare: ImportMap): SpareFit {
  for (const [specifier, address] of Object.entries(bundle.importMap.imports)) {
    const provided = spare.imports[specifier];
    if (provided !== address) {
      return {
        spare: false,
        reason: `its import map maps "${specifier}" to "${address}", ${provided === undefined ? 'which the spares do not map' : `the spares to "${provided}"`}`,
      };
    }
  }
  if (Object.keys(bundle.importMap.scopes).length > 0) {
    return { spare: false, reason: 'its import map has scopes, which the spares do not have' };
  }
  return { spare: true };
}

/** Every `jsr:` specifier quoted in the function's scripts, sorted. */
export function jsrImports(files: ReadonlyArray<{ name: string; content: string }>): string[] {
  const found = new Set<string>();
  for (const file of files) {
    if (!SCRIPT.test(file.name)) continue;
    for (const match of file.content.matchAll(JSR_SPECIFIER)) found.add(match[1]!);
  }
  return [...found].sort();
}

/**
 * Where a `jsr:` import goes instead (supabase-js 2 to the local copy, where there is one); throws a
 * BundleError for one without an npm equivalent.
 */
export function jsrRedirect(specifier: string, libraries: RuntimeLibraries = {}): string {
  if (EDGE_RUNTIME_TYPES.test(specifier)) return './edge-runtime.d.ts';
  if (specifier === JSR_SUPABASE_JS && libraries.supabaseJs) return libraries.supabaseJs;
  const match = /^jsr:@supabase\/([a-z-]+)(@[^/]+)?(\/.*)?$/.exec(specifier);
  if (match && SUPABASE_NPM_PACKAGES.has(match[1]!)) {
    return `npm:@supabase/${match[1]}${match[2] ?? ''}${match[3] ?? ''}`;
  }
  throw new BundleError(
    `"${specifier}" cannot be fetched here (no access to jsr.io) and has no known npm equivalent: map it in the function's import map (deno.json)`,
  );
}

/** Whether the function's scripts quote `specifier` (as an import does). */
function quotes(files: ReadonlyArray<{ name: string; content: string }>, specifier: string): boolean {
  return files.some(
    (file) =>
      SCRIPT.test(file.name) && (file.content.includes(`"${specifier}"`) || file.content.includes(`'${specifier}'`)),
  );
}

/** A deployed file name as a path under src/: relative, normalized, and never outside the function. */
function sourcePath(name: string): string {
  const normalized = posix.normalize(name.replace(/\\/g, '/'));
  if (
    !name ||
    normalized.startsWith('/') ||
    normalized === '..' ||
    normalized.startsWith('../') ||
    normalized === '.'
  ) {
    throw new BundleError(`the file name "${name.slice(0, 200)}" is not a path inside the function`);
  }
  return `${SOURCE_DIR}/${normalized}`;
}

const emptyMap = (): ImportMap => ({ imports: {}, scopes: {} });

/**
 * The function's own import map (deno.json or import_map.json), its relative addresses rewritten to stay
 * right from .vibe/, where the merged map lives.
 */
function ownImportMap(source: FunctionSource, path: string): ImportMap {
  const file = source.files.find((candidate) => sourcePath(candidate.name) === path);
  if (!file) throw new BundleError(`the import map "${source.importMapPath}" is not among the function's files`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(file.content);
  } catch {
    throw new BundleError(`the import map "${source.importMapPath}" is not JSON`);
  }
  const map = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    imports?: unknown;
    scopes?: unknown;
  };
  const base = posix.dirname(path);
  // "./x" and "../x" resolve against the map's own location; URLs and bare specifiers stay as they are.
  const fix = (value: unknown): string => {
    const address = String(value);
    if (!address.startsWith('./') && !address.startsWith('../')) return address;
    const moved = withDot(posix.relative(RUNTIME_DIR, posix.join(base, address)));
    return address.endsWith('/') && !moved.endsWith('/') ? `${moved}/` : moved;
  };
  const entries = (value: unknown): Record<string, string> =>
    Object.fromEntries(
      Object.entries(typeof value === 'object' && value !== null ? value : {}).map(([key, address]) => [
        key,
        fix(address),
      ]),
    );
  return {
    imports: entries(map.imports),
    scopes: Object.fromEntries(
      Object.entries(typeof map.scopes === 'object' && map.scopes !== null ? map.scopes : {}).map(([scope, value]) => [
        fix(scope),
        entries(value),
      ]),
    ),
  };
}

/** A relative address as import maps want it: starting with ./ or ../ (a bare "src/x" would be a package). */
function withDot(address: string): string {
  return address.startsWith('./') || address.startsWith('../') ? address : `./${address}`;
}

const EDGE_RUNTIME_TYPES_FILE = { path: `${RUNTIME_DIR}/edge-runtime.d.ts`, content: 'export {};\n' };

/**
 * The runtime's Deno.serve, the same in a bundle's entry and in a spare's: the function's one handler served
 * on the socket the provisioner gave, the READY marker printed once it listens.
 */
const SERVE_ON_SOCKET = `function serveOnSocket(socket: string) {
  const serve = Deno.serve.bind(Deno);
  let serving = false;
  // deno-lint-ignore no-explicit-any
  (Deno as any).serve = (first: any, second?: any) => {
    if (serving) throw new Error("this runtime serves one Deno.serve handler per function");
    serving = true;
    const handler = typeof first === "function" ? first : typeof second === "function" ? second : first?.handler;
    const options = typeof first === "object" && first !== null ? first : {};
    return serve(
      {
        path: socket,
        ...(typeof options.onError === "function" && { onError: options.onError }),
        onListen: () => console.log(${JSON.stringify(READY_MARKER)}),
      },
      handler,
    );
  };
}`;

function mainSource(entryFromRuntimeDir: string): string {
  return `// Vibe Architect local Edge Functions runtime: serves the function's Deno.serve handler on the socket the
// provisioner gave it, as Supabase's edge runtime serves it behind its gateway. Generated; do not edit.
const socket = Deno.env.get(${JSON.stringify(SOCKET_VARIABLE)}) ?? "";
Deno.env.delete(${JSON.stringify(SOCKET_VARIABLE)});
// The provisioner holds the other end of stdin: when it goes away, even killed, so does this process.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
  Deno.exit(0);
})();
${SERVE_ON_SOCKET}
serveOnSocket(socket);
await import(${JSON.stringify(withDot(entryFromRuntimeDir))});
`;
}

function spareSource(): string {
  return `// Vibe Architect local Edge Functions runtime: a spare, started before it has a function, with the usual
// imports already loaded. It is given one function on stdin (a line of JSON: entry and variables), then runs
// it as main.ts would. Generated; do not edit.
${SPARE_PRELOADS.map((specifier) => `import ${JSON.stringify(specifier)};`).join('\n')}
const socket = Deno.env.get(${JSON.stringify(SOCKET_VARIABLE)}) ?? "";
Deno.env.delete(${JSON.stringify(SOCKET_VARIABLE)});
const warmUpUrl = Deno.env.get(${JSON.stringify(WARM_UP_VARIABLE)});
Deno.env.delete(${JSON.stringify(WARM_UP_VARIABLE)});
${SERVE_ON_SOCKET}
async function run(assignment: { entry: string; env: Record<string, string> }) {
  for (const [name, value] of Object.entries(assignment.env)) Deno.env.set(name, value);
  serveOnSocket(socket);
  await import(new URL(assignment.entry, new URL("../", import.meta.url)).href);
}
// The provisioner holds the other end of stdin: it sends the assignment, then nothing; when it goes away,
// even killed, so does this process.
(async () => {
  const decoder = new TextDecoder();
  let pending: string | null = "";
  for await (const chunk of Deno.stdin.readable) {
    if (pending === null) continue;
    pending += decoder.decode(chunk, { stream: true });
    const end = pending.indexOf("\\n");
    if (end === -1) continue;
    const line = pending.slice(0, end);
    pending = null;
    // Unhandled on purpose: a function that fails to load ends the process with its error, as main.ts does.
    run(JSON.parse(line));
  }
  Deno.exit(0);
})();
// A supabase-js client makes an RPC call before any function runs here: the client's code and Deno's HTTP client
// are then ready, which a function's first request would otherwise wait for. What the call answers does not
// matter, nor whether it fails.
if (warmUpUrl) {
  const { createClient } = await import(${JSON.stringify(SUPABASE_JS)});
  await createClient(warmUpUrl, "warm-up", { auth: { persistSession: false, autoRefreshToken: false } })
    .rpc("warm_up")
    .abortSignal(AbortSignal.timeout(2000))
    .then(() => undefined, () => undefined);
}
console.log(${JSON.stringify(SPARE_MARKER)});
`;
}
