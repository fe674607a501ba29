import {
  BundleError,
  bundleFunction,
  jsrImports,
  jsrRedirect,
  READY_MARKER,
  SPARE_MARKER,
  WARM_UP_VARIABLE,
  spareFit,
  spareRuntime,
  type FunctionSource,
} from './function-bundle.js';

const file = (name: string, content: string) => ({ name, content });
const source = `import "jsr:@supabase/functions-js/edge-runtime.d.ts";
import { createClient } from "jsr:@supabase/supabase-js@2";
import { helper } from './lib/helper.ts';
Deno.serve(() => new Response(String(createClient) + helper));`;

describe('bundleFunction', () => {
  it('lays the files out under src/ with an entry and a config that redirect jsr: to npm:', () => {
    const bundle = bundleFunction({
      slug: 'drift_check',
      entrypointPath: 'index.ts',
      importMapPath: null,
      files: [file('index.ts', source), file('lib/helper.ts', 'export const helper = 1;')],
    });
    expect(bundle.main).toBe('.vibe/main.ts');
    expect(bundle.config).toBe('.vibe/deno.json');
    expect(bundle.files.map((f) => f.path)).toEqual([
      'src/index.ts',
      'src/lib/helper.ts',
      '.vibe/deno.json',
      '.vibe/edge-runtime.d.ts',
      '.vibe/main.ts',
    ]);
    const config = JSON.parse(bundle.files.find((f) => f.path === '.vibe/deno.json')!.content);
    expect(config).toEqual({
      imports: {
        'jsr:@supabase/functions-js/edge-runtime.d.ts': './edge-runtime.d.ts',
        'jsr:@supabase/supabase-js@2': 'npm:@supabase/supabase-js@2',
      },
      scopes: {},
    });
    expect(bundle.importMap).toEqual(config);
    expect(bundle.entry).toBe('src/index.ts');
    const main = bundle.files.find((f) => f.path === '.vibe/main.ts')!.content;
    expect(main).toContain('await import("../src/index.ts");');
    expect(main).toContain(JSON.stringify(READY_MARKER));
  });

  it('keeps the function’s own import map, its relative entries moved to stay right, and lets it win', () => {
    const bundle = bundleFunction({
      slug: 'f',
      entrypointPath: 'index.ts',
      importMapPath: 'deno.json',
      files: [
        file('index.ts', source),
        file(
          'deno.json',
          JSON.stringify({
            imports: {
              'jsr:@supabase/supabase-js@2': 'npm:@supabase/supabase-js@2.50.0',
              utils: './lib/',
              '~/': '../shared/',
            },
          }),
        ),
      ],
    });
    const config = JSON.parse(bundle.files.find((f) => f.path === '.vibe/deno.json')!.content);
    expect(config.imports).toEqual({
      'jsr:@supabase/functions-js/edge-runtime.d.ts': './edge-runtime.d.ts',
      'jsr:@supabase/supabase-js@2': 'npm:@supabase/supabase-js@2.50.0',
      utils: '../src/lib/',
      '~/': '../shared/',
    });
  });

  it.each(['../escape.ts', '/etc/passwd', '', '.'])('refuses the file name %p', (name) => {
    expect(() =>
      bundleFunction({
        slug: 'f',
        entrypointPath: 'index.ts',
        importMapPath: null,
        files: [file('index.ts', ''), file(name, '')],
      }),
    ).toThrow(BundleError);
  });

  it('refuses an entrypoint that is not among the files, and an import map that is not JSON', () => {
    expect(() =>
      bundleFunction({ slug: 'f', entrypointPath: 'main.ts', importMapPath: null, files: [file('index.ts', '')] }),
    ).toThrow(/entrypoint "main.ts"/);
    expect(() =>
      bundleFunction({
        slug: 'f',
        entrypointPath: 'index.ts',
        importMapPath: 'deno.json',
        files: [file('index.ts', ''), file('deno.json', '{')],
      }),
    ).toThrow(/not JSON/);
  });
});

describe('jsr imports', () => {
  it('finds every quoted jsr: specifier in scripts only', () => {
    expect(jsrImports([file('index.ts', source), file('README.md', '"jsr:@std/x"')])).toEqual([
      'jsr:@supabase/functions-js/edge-runtime.d.ts',
      'jsr:@supabase/supabase-js@2',
    ]);
  });

  it('maps Supabase packages to npm, keeps versions and subpaths, and refuses what npm does not have', () => {
    expect(jsrRedirect('jsr:@supabase/supabase-js@2')).toBe('npm:@supabase/supabase-js@2');
    expect(jsrRedirect('jsr:@supabase/functions-js@2.4.1/edge-runtime.d.ts')).toBe('./edge-runtime.d.ts');
    expect(jsrRedirect('jsr:@supabase/postgrest-js@1/dist')).toBe('npm:@supabase/postgrest-js@1/dist');
    expect(() => jsrRedirect('jsr:@std/async@1')).toThrow(/jsr:@std\/async@1.*no known npm equivalent/);
  });
});

describe('spares', () => {
  const spare = spareRuntime();
  const given = (files: Array<{ name: string; content: string }>, importMapPath: string | null = null) => ({
    then: (expected: ReturnType<typeof spareFit>) => {
      const fn: FunctionSource = { slug: 'f', entrypointPath: 'index.ts', importMapPath, files };
      expect(spareFit(bundleFunction(fn), spare.importMap)).toEqual(expected);
    },
  });
  const importMap = (map: object) => file('deno.json', JSON.stringify(map));

  it('lays a spare out like a bundle: its entry and config under .vibe/, the edge-runtime types the same', () => {
    expect(spare.main).toBe('.vibe/spare.ts');
    expect(spare.config).toBe('.vibe/deno.json');
    expect(spare.files.map((f) => f.path)).toEqual(['.vibe/deno.json', '.vibe/edge-runtime.d.ts', '.vibe/spare.ts']);
    const bundle = bundleFunction({
      slug: 'f',
      entrypointPath: 'index.ts',
      importMapPath: null,
      files: [file('index.ts', '')],
    });
    const types = (files: Array<{ path: string; content: string }>) =>
      files.find((f) => f.path === '.vibe/edge-runtime.d.ts');
    expect(types(spare.files)).toEqual(types(bundle.files));
  });

  it('configures a spare with the standard redirects and preloads supabase-js, then waits for one function', () => {
    expect(JSON.parse(spare.files.find((f) => f.path === '.vibe/deno.json')!.content)).toEqual(spare.importMap);
    expect(spare.importMap.imports['jsr:@supabase/supabase-js@2']).toBe('npm:@supabase/supabase-js@2');
    expect(spare.importMap.scopes).toEqual({});
    const entry = spare.files.find((f) => f.path === '.vibe/spare.ts')!.content;
    expect(entry.startsWith('// ')).toBe(true);
    expect(entry).toContain('import "npm:@supabase/supabase-js@2";');
    expect(entry).toContain(JSON.stringify(SPARE_MARKER));
    expect(entry).toContain('Deno.env.set(name, value)');
    // The warm-up's URL is taken out of the variables before any function runs, and the call ends within 2 s.
    expect(entry).toContain(`Deno.env.delete(${JSON.stringify(WARM_UP_VARIABLE)})`);
    expect(entry.indexOf(`Deno.env.delete(${JSON.stringify(WARM_UP_VARIABLE)})`)).toBeLessThan(
      entry.indexOf('async function run('),
    );
    expect(entry).toContain('.abortSignal(AbortSignal.timeout(2000))');
    // The same Deno.serve hook as a bundle's entry, installed once the function is known.
    const main = bundleFunction({
      slug: 'f',
      entrypointPath: 'index.ts',
      importMapPath: null,
      files: [file('index.ts', '')],
    }).files.find((f) => f.path === '.vibe/main.ts')!.content;
    const hook = /function serveOnSocket[\s\S]*?\n}\n/.exec(main)![0];
    expect(entry).toContain(hook);
  });

  it('runs a function on a spare when the spares map every import it maps, to the same address', () => {
    given([file('index.ts', source), file('lib/helper.ts', 'export const helper = 1;')]).then({ spare: true });
    given([file('index.ts', 'Deno.serve(() => new Response("x"));')]).then({ spare: true });
    given([file('index.ts', 'import "npm:zod@4";\nDeno.serve(() => new Response("x"));')]).then({ spare: true });
    // Its own import map is no obstacle when it maps nothing beyond the spares' config.
    given(
      [
        file('index.ts', source),
        importMap({ imports: { 'jsr:@supabase/supabase-js@2': 'npm:@supabase/supabase-js@2' } }),
      ],
      'deno.json',
    ).then({ spare: true });
  });

  it('starts a function cold when its import map needs what the spares’ config does not give exactly', () => {
    given(
      [
        file('index.ts', source),
        importMap({ imports: { 'jsr:@supabase/supabase-js@2': 'npm:@supabase/supabase-js@2.50.0' } }),
      ],
      'deno.json',
    ).then({
      spare: false,
      reason:
        'its import map maps "jsr:@supabase/supabase-js@2" to "npm:@supabase/supabase-js@2.50.0", the spares to "npm:@supabase/supabase-js@2"',
    });
    given([file('index.ts', source), importMap({ imports: { utils: './lib/' } })], 'deno.json').then({
      spare: false,
      reason: 'its import map maps "utils" to "../src/lib/", which the spares do not map',
    });
    given([file('index.ts', 'import "jsr:@supabase/postgrest-js@1";')]).then({
      spare: false,
      reason:
        'its import map maps "jsr:@supabase/postgrest-js@1" to "npm:@supabase/postgrest-js@1", which the spares do not map',
    });
    given([file('index.ts', ''), importMap({ scopes: { './x/': { a: './a.ts' } } })], 'deno.json').then({
      spare: false,
      reason: 'its import map has scopes, which the spares do not have',
    });
  });
});

describe('with a local supabase-js (RuntimeLibraries)', () => {
  const local = 'file:///runtime/lib/supabase-js@2.js';
  const libraries = { supabaseJs: local };
  const bundled = (files: Array<{ name: string; content: string }>, importMapPath: string | null = null) =>
    bundleFunction({ slug: 'f', entrypointPath: 'index.ts', importMapPath, files }, libraries);

  it('maps jsr: and npm:@supabase/supabase-js@2 to the local copy, and nothing else', () => {
    const npm = 'import { createClient } from "npm:@supabase/supabase-js@2";\nimport "jsr:@supabase/postgrest-js@1";';
    expect(bundled([file('index.ts', source)]).importMap.imports).toEqual({
      'jsr:@supabase/functions-js/edge-runtime.d.ts': './edge-runtime.d.ts',
      'jsr:@supabase/supabase-js@2': local,
    });
    expect(bundled([file('index.ts', npm)]).importMap.imports).toEqual({
      'jsr:@supabase/postgrest-js@1': 'npm:@supabase/postgrest-js@1',
      'npm:@supabase/supabase-js@2': local,
    });
    expect(jsrRedirect('jsr:@supabase/supabase-js@2', libraries)).toBe(local);
    expect(jsrRedirect('jsr:@supabase/supabase-js@2.50.0', libraries)).toBe('npm:@supabase/supabase-js@2.50.0');
    // Without the copy, as before.
    expect(
      bundleFunction({ slug: 'f', entrypointPath: 'index.ts', importMapPath: null, files: [file('index.ts', npm)] })
        .importMap.imports,
    ).toEqual({
      'jsr:@supabase/postgrest-js@1': 'npm:@supabase/postgrest-js@1',
    });
  });

  it('points the function’s own entries for supabase-js 2 at the copy, and leaves a pinned version alone', () => {
    const map = {
      imports: {
        '@supabase/supabase-js': 'npm:@supabase/supabase-js@2',
        supabase: 'jsr:@supabase/supabase-js@2',
        pinned: 'npm:@supabase/supabase-js@2.50.0',
      },
    };
    expect(
      bundled([file('index.ts', ''), file('deno.json', JSON.stringify(map))], 'deno.json').importMap.imports,
    ).toEqual({
      '@supabase/supabase-js': local,
      supabase: local,
      pinned: 'npm:@supabase/supabase-js@2.50.0',
    });
  });

  it('gives spares the same map, so that a function importing either specifier runs on one', () => {
    const spare = spareRuntime(libraries);
    expect(spare.importMap.imports['jsr:@supabase/supabase-js@2']).toBe(local);
    expect(spare.importMap.imports['npm:@supabase/supabase-js@2']).toBe(local);
    expect(JSON.parse(spare.files.find((f) => f.path === '.vibe/deno.json')!.content)).toEqual(spare.importMap);
    // The spare's preload and warm-up name the npm specifier, which its config maps to the copy.
    expect(spare.files.find((f) => f.path === '.vibe/spare.ts')!.content).toContain(
      'import "npm:@supabase/supabase-js@2";',
    );
    for (const content of [source, 'import { createClient } from "npm:@supabase/supabase-js@2";']) {
      expect(spareFit(bundled([file('index.ts', content)]), spare.importMap)).toEqual({ spare: true });
    }
    // A bundle made with the copy does not run on a spare made without it (nor the other way round).
    expect(spareFit(bundled([file('index.ts', source)]), spareRuntime().importMap)).toEqual({
      spare: false,
      reason: `its import map maps "jsr:@supabase/supabase-js@2" to "${local}", the spares to "npm:@supabase/supabase-js@2"`,
    });
  });
});
