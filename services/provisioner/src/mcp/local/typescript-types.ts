import { z } from 'zod';

/**
 * TypeScript types of a database's schemas in the shape `supabase gen types typescript` writes (Supabase's
 * pg-meta generator): `Json`, `Database` (per schema: Tables with Row / Insert / Update / Relationships, Views,
 * Functions, Enums, CompositeTypes), the Tables / TablesInsert / TablesUpdate / Enums / CompositeTypes helpers
 * and `Constants`. supabase-js takes `Database` as `createClient<Database>(url, key)`. Pure: the catalog
 * (typescript-types.sql.ts) in, the file's text out.
 *
 * As pg-meta: columns sorted by name; Insert makes a column optional when it is nullable, has a default or is an
 * identity; Relationships list the foreign keys within the schema (not to other schemas, such as `auth`);
 * functions need named input arguments (or a single unnamed one); trigger functions are left out. Beyond it:
 * generated columns are `never` in Insert and Update (Postgres refuses values for them). Views have no
 * Relationships here (pg-meta infers some from the view's definition).
 */

const TypeRef = z.object({
  name: z.string(),
  schema: z.string(),
  /** pg_type.typtype of the (element) type: b base, e enum, c composite, r range, m multirange, p pseudo. */
  kind: z.string(),
  array: z.boolean(),
  labels: z.array(z.string()),
  /** For a composite: the relkind of its relation (`c` standalone, `r`, `v`, ... a relation's row type). */
  relation: z.string().nullable(),
});
type TypeRef = z.infer<typeof TypeRef>;

const Column = z.object({
  name: z.string(),
  type: TypeRef,
  nullable: z.boolean(),
  hasDefault: z.boolean(),
  identity: z.enum(['a', 'd']).nullable(),
  generated: z.boolean(),
  updatable: z.boolean(),
});
type Column = z.infer<typeof Column>;

const Relation = z.object({
  schema: z.string(),
  name: z.string(),
  /** pg_class.relkind: r table, p partitioned table, f foreign table, v view, m materialized view. */
  kind: z.enum(['r', 'p', 'f', 'v', 'm']),
  updatable: z.boolean(),
  columns: z.array(Column),
});
type Relation = z.infer<typeof Relation>;

const Relationship = z.object({
  name: z.string(),
  schema: z.string(),
  relation: z.string(),
  columns: z.array(z.string()),
  referencedSchema: z.string(),
  referencedRelation: z.string(),
  referencedColumns: z.array(z.string()),
  oneToOne: z.boolean(),
});

const FunctionArg = z.object({
  /** pg_proc.proargmodes: i in, o out, b inout, v variadic, t a column of `returns table`. */
  mode: z.enum(['i', 'o', 'b', 'v', 't']),
  name: z.string(),
  type: TypeRef,
});

const SqlFunction = z.object({
  schema: z.string(),
  name: z.string(),
  args: z.array(FunctionArg),
  /** How many of the last input arguments have defaults. */
  defaults: z.number().int(),
  returns: TypeRef,
  returnsSet: z.boolean(),
});
type SqlFunction = z.infer<typeof SqlFunction>;

export const TypesCatalog = z.object({
  schemas: z.array(z.string()),
  relations: z.array(Relation),
  relationships: z.array(Relationship),
  enums: z.array(z.object({ schema: z.string(), name: z.string(), labels: z.array(z.string()) })),
  compositeTypes: z.array(z.object({ schema: z.string(), name: z.string(), attributes: z.array(Column) })),
  functions: z.array(SqlFunction),
});
export type TypesCatalog = z.infer<typeof TypesCatalog>;

const NUMBER_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'oid']);
/** What PostgREST answers as JSON strings. */
const STRING_TYPES = new Set([
  'bytea',
  'bpchar',
  'char',
  'varchar',
  'name',
  'date',
  'text',
  'citext',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'interval',
  'uuid',
  'inet',
  'cidr',
  'macaddr',
  'vector',
]);
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const NEVER = '[_ in never]: never';

const str = (value: string) => JSON.stringify(value);
/** A property name as prettier leaves it: bare when it is an identifier, quoted otherwise. */
const key = (name: string) => (IDENTIFIER.test(name) ? name : str(name));
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Lines indented by one level (two spaces). */
const indent = (lines: string[]) => lines.map((line) => (line ? `  ${line}` : line));

/** `{ ... }` of member lines; with none, `{ [_ in never]: never }` (or `{}` when `empty` is null). */
function object(members: string[][], empty: string | null = NEVER): string[] {
  if (!members.length) return empty === null ? ['{}'] : ['{', `  ${empty}`, '}'];
  return ['{', ...indent(members.flat()), '}'];
}

/** A member `name: <multi-line value>`: the value's first line joins the name. */
function member(name: string, value: string[]): string[] {
  const [first = '', ...rest] = value;
  return [`${name}: ${first}`, ...rest];
}

export function renderTypescriptTypes(catalog: TypesCatalog): string {
  const schemas = [...catalog.schemas].sort();
  const included = new Set(schemas);
  const relationOf = (schema: string, name: string) =>
    catalog.relations.find((relation) => relation.schema === schema && relation.name === name);

  const tsType = (type: TypeRef): string => {
    const base = scalarType(type);
    if (!type.array) return base;
    return /[\s|]/.test(base) ? `(${base})[]` : `${base}[]`;
  };

  const scalarType = (type: TypeRef): string => {
    const { name, schema, kind } = type;
    if (kind === 'e') {
      if (included.has(schema)) return `Database[${str(schema)}]["Enums"][${str(name)}]`;
      return type.labels.length ? type.labels.map(str).join(' | ') : 'string';
    }
    if (kind === 'c') {
      if (!included.has(schema)) return 'unknown';
      if (type.relation === 'c') return `Database[${str(schema)}]["CompositeTypes"][${str(name)}]`;
      const relation = relationOf(schema, name);
      if (!relation) return 'unknown';
      const section = relation.kind === 'v' || relation.kind === 'm' ? 'Views' : 'Tables';
      return `Database[${str(schema)}][${str(section)}][${str(name)}]["Row"]`;
    }
    if (schema !== 'pg_catalog') return 'unknown';
    if (name === 'bool') return 'boolean';
    if (NUMBER_TYPES.has(name)) return 'number';
    if (STRING_TYPES.has(name)) return 'string';
    if (name === 'json' || name === 'jsonb') return 'Json';
    if (name === 'void') return 'undefined';
    if (name === 'record') return 'Record<string, unknown>';
    return 'unknown';
  };

  const nullable = (column: Column) => (column.nullable ? ' | null' : '');
  /** Values Postgres refuses: an identity `generated always`, a generated column. */
  const unwritable = (column: Column) => column.identity === 'a' || column.generated;

  const rowMembers = (columns: Column[]) =>
    [...columns].sort(byName).map((column) => [`${key(column.name)}: ${tsType(column.type)}${nullable(column)}`]);

  const relationships = (relation: Relation): string[] => {
    const found = catalog.relationships
      .filter(
        (r) => r.schema === relation.schema && r.referencedSchema === relation.schema && r.relation === relation.name,
      )
      .sort(
        (a, b) =>
          byName(a, b) ||
          (a.referencedRelation < b.referencedRelation ? -1 : a.referencedRelation > b.referencedRelation ? 1 : 0),
      );
    if (!found.length) return ['[]'];
    return [
      '[',
      ...found.flatMap((r) => [
        '  {',
        `    foreignKeyName: ${str(r.name)}`,
        `    columns: [${r.columns.map(str).join(', ')}]`,
        `    isOneToOne: ${r.oneToOne}`,
        `    referencedRelation: ${str(r.referencedRelation)}`,
        `    referencedColumns: [${r.referencedColumns.map(str).join(', ')}]`,
        '  },',
      ]),
      ']',
    ];
  };

  const table = (relation: Relation): string[][] => {
    const columns = [...relation.columns].sort(byName);
    const insert = columns.map((column) => {
      if (unwritable(column)) return [`${key(column.name)}?: never`];
      const optional = column.nullable || column.identity !== null || column.hasDefault;
      return [`${key(column.name)}${optional ? '?' : ''}: ${tsType(column.type)}${nullable(column)}`];
    });
    const update = columns.map((column) =>
      unwritable(column)
        ? [`${key(column.name)}?: never`]
        : [`${key(column.name)}?: ${tsType(column.type)}${nullable(column)}`],
    );
    return [
      member(key(relation.name), [
        '{',
        ...indent(member('Row', object(rowMembers(columns)))),
        ...indent(member('Insert', object(insert))),
        ...indent(member('Update', object(update))),
        ...indent(member('Relationships', relationships(relation))),
        '}',
      ]),
    ];
  };

  const view = (relation: Relation): string[][] => {
    const columns = [...relation.columns].sort(byName);
    const writable = (columns: Column[]) =>
      columns.map((column) =>
        column.updatable ? [`${key(column.name)}?: ${tsType(column.type)} | null`] : [`${key(column.name)}?: never`],
      );
    return [
      member(key(relation.name), [
        '{',
        ...indent(member('Row', object(rowMembers(columns)))),
        ...(relation.updatable
          ? [
              ...indent(member('Insert', object(writable(columns)))),
              ...indent(member('Update', object(writable(columns)))),
            ]
          : []),
        ...indent(member('Relationships', ['[]'])),
        '}',
      ]),
    ];
  };

  const functionMembers = (schema: string): string[][] => {
    const callable = catalog.functions.filter((fn) => {
      if (fn.schema !== schema) return false;
      const inputs = inputArgs(fn);
      // PostgREST calls functions with named arguments, or with a single unnamed one (the body).
      return inputs.every((arg) => arg.name !== '') || inputs.length === 1;
    });
    const grouped = new Map<string, SqlFunction[]>();
    for (const fn of callable) grouped.set(fn.name, [...(grouped.get(fn.name) ?? []), fn]);
    return [...grouped.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, overloads]) => {
        const args = overloads.map((fn) => {
          const inputs = inputArgs(fn);
          if (!inputs.length) return 'Record<PropertyKey, never>';
          const withDefault = inputs.length - fn.defaults;
          return `{ ${inputs.map((arg, i) => `${key(arg.name)}${i >= withDefault ? '?' : ''}: ${tsType(arg.type)}`).join('; ')} }`;
        });
        const first = overloads[0]!;
        return member(key(name), [
          '{',
          `  Args: ${[...new Set(args)].join(' | ')}`,
          ...indent(member('Returns', returnType(first))),
          '}',
        ]);
      });
  };

  const returnType = (fn: SqlFunction): string[] => {
    const suffix = fn.returnsSet ? '[]' : '';
    const tableColumns = fn.args.filter((arg) => arg.mode === 't');
    const outputs = fn.args.filter((arg) => arg.mode === 'o' || arg.mode === 'b');
    const fields = tableColumns.length ? tableColumns : outputs.length > 1 ? outputs : [];
    if (fields.length) {
      const lines = object(fields.map((arg) => [`${key(arg.name)}: ${tsType(arg.type)}`]));
      return [...lines.slice(0, -1), `}${suffix}`];
    }
    const type = fn.returns;
    if (type.kind === 'c' && type.relation !== 'c' && included.has(type.schema) && !type.array) {
      const relation = relationOf(type.schema, type.name);
      if (relation) {
        const lines = object(rowMembers(relation.columns));
        return [...lines.slice(0, -1), `}${suffix}`];
      }
    }
    const single = outputs.length === 1 ? outputs[0]!.type : type;
    return [`${tsType(single)}${suffix}`];
  };

  const schemaType = (schema: string): string[][] => {
    const relations = catalog.relations.filter((relation) => relation.schema === schema).sort(byName);
    const tables = relations.filter((relation) => ['r', 'p', 'f'].includes(relation.kind));
    const views = relations.filter((relation) => relation.kind === 'v' || relation.kind === 'm');
    const enums = catalog.enums.filter((e) => e.schema === schema).sort(byName);
    const composites = catalog.compositeTypes.filter((c) => c.schema === schema).sort(byName);
    const compositeMembers = composites.map((c) =>
      member(key(c.name), object(c.attributes.map((a) => [`${key(a.name)}: ${tsType(a.type)} | null`]))),
    );
    return [
      member(key(schema), [
        '{',
        ...indent(member('Tables', object(tables.flatMap(table)))),
        ...indent(member('Views', object(views.flatMap(view)))),
        ...indent(member('Functions', object(functionMembers(schema)))),
        ...indent(
          member('Enums', object(enums.map((e) => [`${key(e.name)}: ${e.labels.map(str).join(' | ') || 'never'}`]))),
        ),
        ...indent(member('CompositeTypes', object(compositeMembers))),
        '}',
      ]),
    ];
  };

  const database = object(schemas.flatMap(schemaType));
  const constants = object(
    schemas.map((schema) => {
      const enums = catalog.enums.filter((e) => e.schema === schema).sort(byName);
      const values = enums.map((e) => [`${key(e.name)}: [${e.labels.map(str).join(', ')}]`]);
      return member(key(schema), ['{', ...indent(member('Enums', object(values, null))), '}']);
    }),
    null,
  );
  const defaultSchema = included.has('public') ? 'public' : (schemas[0] ?? 'public');

  return [
    'export type Json =',
    '  | string',
    '  | number',
    '  | boolean',
    '  | null',
    '  | { [key: string]: Json | undefined }',
    '  | Json[]',
    '',
    `export type Database = ${database.join('\n')}`,
    '',
    `type DefaultSchema = Database[Extract<keyof Database, ${str(defaultSchema)}>]`,
    '',
    HELPERS,
    '',
    `export const Constants = ${constants.join('\n')} as const`,
    '',
  ].join('\n');
}

function inputArgs(fn: SqlFunction) {
  return fn.args.filter((arg) => arg.mode === 'i' || arg.mode === 'b' || arg.mode === 'v');
}

/** The helper types of `supabase gen types typescript`, for any schema of `Database` (the default one unnamed). */
const HELPERS = `export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof Database },
  TableName extends DefaultSchemaTableNameOrOptions extends { schema: keyof Database }
    ? keyof (Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        Database[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof Database }
  ? (Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      Database[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends { Row: infer R }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends { Row: infer R }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"] | { schema: keyof Database },
  TableName extends DefaultSchemaTableNameOrOptions extends { schema: keyof Database }
    ? keyof Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof Database }
  ? Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends { Insert: infer I }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends { Insert: infer I }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"] | { schema: keyof Database },
  TableName extends DefaultSchemaTableNameOrOptions extends { schema: keyof Database }
    ? keyof Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof Database }
  ? Database[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends { Update: infer U }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends { Update: infer U }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"] | { schema: keyof Database },
  EnumName extends DefaultSchemaEnumNameOrOptions extends { schema: keyof Database }
    ? keyof Database[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never,
> = DefaultSchemaEnumNameOrOptions extends { schema: keyof Database }
  ? Database[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof Database },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends { schema: keyof Database }
    ? keyof Database[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never,
> = PublicCompositeTypeNameOrOptions extends { schema: keyof Database }
  ? Database[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never`;
