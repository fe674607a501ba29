/**
 * Compiling generated TypeScript in a test, with the repository's own `typescript` package and the real
 * `@supabase/supabase-js` types: the files are virtual (nothing is written), placed under the repository root so
 * that module resolution finds its node_modules.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import ts from 'typescript';

const REPO_ROOT = path.resolve(__dirname, '../..');

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  noUncheckedIndexedAccess: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: [],
  skipLibCheck: true,
};

export interface Compiled {
  /** Every diagnostic, as `file(line,col): message`. */
  errors: string[];
  program: ts.Program;
  /** The virtual path of a file given by name. */
  pathOf(name: string): string;
}

/** Type-checks the files (name → text; imports between them as `./name`). */
export function compile(files: Record<string, string>): Compiled {
  const dir = path.join(REPO_ROOT, `.virtual-${randomBytes(6).toString('hex')}`);
  const virtual = new Map(Object.entries(files).map(([name, text]) => [path.join(dir, name), text]));
  const host = ts.createCompilerHost(OPTIONS, true);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (file) => virtual.has(file) || fileExists(file);
  const directoryExists = host.directoryExists?.bind(host);
  host.directoryExists = (directory) => directory === dir || (directoryExists?.(directory) ?? true);
  host.readFile = (file) => virtual.get(file) ?? readFile(file);
  host.getSourceFile = (file, language, onError, create) => {
    const text = virtual.get(file);
    return text !== undefined
      ? ts.createSourceFile(file, text, language, true)
      : getSourceFile(file, language, onError, create);
  };
  const program = ts.createProgram([...virtual.keys()], OPTIONS, host);
  const errors = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!diagnostic.file || diagnostic.start === undefined) return message;
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `${path.basename(diagnostic.file.fileName)}(${line + 1},${character + 1}): ${message}`;
  });
  return { errors, program, pathOf: (name) => path.join(dir, name) };
}

export interface TypedRelation {
  /** Row's columns, sorted. */
  row: string[];
  /** Insert's required columns (not optional), sorted; undefined for a view without Insert. */
  insertRequired?: string[];
  /** Insert's columns typed `never` (generated, identity always), sorted. */
  insertNever?: string[];
}

/**
 * What `Database[schema]` of a types file declares, read by the compiler (not by pattern matching): its
 * tables' and views' columns, its functions' names and its enums with their labels.
 */
export function describeDatabase(
  types: string,
  schema = 'public',
): {
  errors: string[];
  tables: Record<string, TypedRelation>;
  views: Record<string, TypedRelation>;
  functions: string[];
  enums: Record<string, string[]>;
} {
  const compiled = compile({ 'database.types.ts': types });
  const checker = compiled.program.getTypeChecker();
  const source = compiled.program.getSourceFile(compiled.pathOf('database.types.ts'))!;
  const alias = source.statements.find(
    (statement): statement is ts.TypeAliasDeclaration =>
      ts.isTypeAliasDeclaration(statement) && statement.name.text === 'Database',
  );
  if (!alias) throw new Error('the types declare no Database');
  const property = (type: ts.Type, name: string): ts.Type => {
    const symbol = type.getProperty(name);
    if (!symbol) throw new Error(`no property ${name} in ${checker.typeToString(type)}`);
    return checker.getTypeOfSymbol(symbol);
  };
  const names = (type: ts.Type) =>
    type
      .getProperties()
      .map((p) => p.name)
      .sort();
  const relations = (section: ts.Type, withInsert: boolean) =>
    Object.fromEntries(
      section.getProperties().map((symbol) => {
        const relation = checker.getTypeOfSymbol(symbol);
        const described: TypedRelation = { row: names(property(relation, 'Row')) };
        const insertSymbol = withInsert ? relation.getProperty('Insert') : undefined;
        if (insertSymbol) {
          const insert = checker.getTypeOfSymbol(insertSymbol);
          const columns = insert.getProperties();
          described.insertRequired = columns
            .filter((c) => !(c.flags & ts.SymbolFlags.Optional))
            .map((c) => c.name)
            .sort();
          described.insertNever = columns
            .filter((c) => {
              const type = checker.getNonNullableType(checker.getTypeOfSymbol(c));
              return (type.flags & ts.TypeFlags.Never) !== 0;
            })
            .map((c) => c.name)
            .sort();
        }
        return [symbol.name, described];
      }),
    );
  const database = checker.getTypeAtLocation(alias.name);
  const schemaType = property(database, schema);
  const enums = property(schemaType, 'Enums');
  return {
    errors: compiled.errors,
    tables: relations(property(schemaType, 'Tables'), true),
    views: relations(property(schemaType, 'Views'), true),
    functions: names(property(schemaType, 'Functions')),
    enums: Object.fromEntries(
      enums.getProperties().map((symbol) => {
        const type = checker.getTypeOfSymbol(symbol);
        const members = type.isUnion() ? type.types : [type];
        return [symbol.name, members.map((member) => (member as ts.StringLiteralType).value).sort()];
      }),
    ),
  };
}
