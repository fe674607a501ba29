import { BundleError, bundleFunction, jsrImports, jsrRedirect, READY_MARKER } from './function-bundle.js';

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
