import type { AdvisorLint, EdgeFunctionInfo, ProvisionOutput, TableInfo } from '@vibe/contracts';
import { z } from 'zod';
import { PermanentFailure } from '../drivers/driver.js';

/**
 * The official Supabase MCP server's output formats (which our local server answers in too), read into the
 * provisioner's contract outputs. Lenient where the formats may grow: unknown fields are ignored. Pure.
 */

const Column = z.object({ name: z.string(), data_type: z.string(), format: z.string(), options: z.array(z.string()) });
const ListTablesValue = z.object({
  tables: z.array(
    z.object({ name: z.string(), rls_enabled: z.boolean(), columns: z.array(Column).nullable().optional() }),
  ),
});
const ExecuteSqlValue = z.object({ result: z.array(z.record(z.string(), z.unknown())) });
const ApplyMigrationValue = z.object({ success: z.boolean(), applied: z.boolean().optional() });
const ListMigrationsValue = z.object({
  migrations: z.array(z.object({ version: z.string(), name: z.string().nullable().optional() })),
});
const ListExtensionsValue = z.object({
  extensions: z.array(
    z.object({
      name: z.string(),
      schema: z.string().nullable(),
      default_version: z.string().nullable().optional(),
      installed_version: z.string().nullable(),
    }),
  ),
});
const LintFields = {
  name: z.string(),
  title: z.string(),
  level: z.enum(['ERROR', 'WARN', 'INFO']),
  facing: z.string().default('EXTERNAL'),
  categories: z.array(z.string()).default([]),
  description: z.string().default(''),
  remediation: z.string().default(''),
};
const Finding = z.object({ detail: z.string().default(''), metadata: z.record(z.string(), z.unknown()).default({}) });
/** The official server groups the API's lints (`count`, `findings`); a flat lint is read as its own finding. */
const GroupedLint = z.object({ ...LintFields, findings: z.array(Finding) });
const FlatLint = z.object({ ...LintFields, ...Finding.shape });
const GetAdvisorsValue = z.object({ result: z.object({ lints: z.array(z.union([GroupedLint, FlatLint])) }) });
const EdgeFunctionValue = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  status: z.string(),
  version: z.number(),
  created_at: z.number().optional(),
  updated_at: z.number().optional(),
  verify_jwt: z.boolean().optional(),
  import_map_path: z.string().optional(),
  entrypoint_path: z.string().optional(),
});
const EdgeFunctionWithFilesValue = EdgeFunctionValue.extend({
  files: z.array(z.object({ name: z.string(), content: z.string() })),
});
const ListEdgeFunctionsValue = z.object({ functions: z.array(EdgeFunctionValue) });
const ProjectUrlValue = z.object({ url: z.string() });
const PublishableKeysValue = z.object({
  keys: z.array(
    z.object({
      api_key: z.string(),
      name: z.string(),
      type: z.enum(['legacy', 'publishable']),
      disabled: z.boolean().optional(),
    }),
  ),
});

/** The Management API's `GET /v1/projects/{ref}/types/typescript` answer, which the official tool passes on. */
const TypescriptTypesValue = z.object({ types: z.string().min(1) });

function read<S extends z.ZodType>(schema: S, tool: string, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new PermanentFailure(
      `the MCP tool ${tool} answered in an unexpected format: ${z.prettifyError(parsed.error).slice(0, 500)}`,
      'mcp_unexpected_output',
    );
  }
  return parsed.data;
}

/**
 * A column type from the pg-meta fields: information_schema's `data_type`, except arrays and user-defined
 * types, which `format` names (`_text` is `text[]`, an enum is its name).
 */
export function columnType(column: { data_type: string; format: string }): string {
  if (column.data_type === 'ARRAY') return `${column.format.replace(/^_/, '')}[]`;
  if (column.data_type === 'USER-DEFINED') return column.format;
  return column.data_type;
}

/** `list_tables` (verbose) into TableInfo; the schema is split off the `schema.table` name. */
export function toTables(value: unknown, schemas: readonly string[]): TableInfo[] {
  return read(ListTablesValue, 'list_tables', value).tables.map((table) => {
    const schema = schemas.find((s) => table.name.startsWith(`${s}.`)) ?? table.name.slice(0, table.name.indexOf('.'));
    return {
      schema,
      name: table.name.slice(schema.length + 1),
      rlsEnabled: table.rls_enabled,
      columns: (table.columns ?? []).map((column) => ({
        name: column.name,
        dataType: columnType(column),
        nullable: column.options.includes('nullable'),
      })),
    };
  });
}

export function toRows(value: unknown): ProvisionOutput<'execute_sql'>['rows'] {
  return read(ExecuteSqlValue, 'execute_sql', value).result;
}

/** Whether apply_migration applied it: our server says `applied: false` for a name applied before. */
export function toApplied(value: unknown): boolean {
  return read(ApplyMigrationValue, 'apply_migration', value).applied !== false;
}

export function toMigrations(value: unknown): ProvisionOutput<'list_migrations'>['migrations'] {
  return read(ListMigrationsValue, 'list_migrations', value).migrations.map((m) => ({
    version: m.version,
    name: m.name ?? null,
  }));
}

export function toExtensions(value: unknown): ProvisionOutput<'list_extensions'>['extensions'] {
  return read(ListExtensionsValue, 'list_extensions', value).extensions.map((e) => ({
    name: e.name,
    schema: e.schema,
    defaultVersion: e.default_version ?? null,
    installedVersion: e.installed_version,
  }));
}

/** One lint per finding, as the Management API lists them. */
export function toLints(value: unknown): AdvisorLint[] {
  return read(GetAdvisorsValue, 'get_advisors', value).result.lints.flatMap((lint) => {
    const { name, title, level, facing, categories, description, remediation } = lint;
    const findings = 'findings' in lint ? lint.findings : [{ detail: lint.detail, metadata: lint.metadata }];
    return findings.map((finding) => ({
      name,
      title,
      level,
      facing,
      categories,
      description,
      remediation,
      detail: finding.detail,
      metadata: finding.metadata,
    }));
  });
}

function toFunction(fn: z.infer<typeof EdgeFunctionValue>): EdgeFunctionInfo {
  return {
    id: fn.id,
    slug: fn.slug,
    name: fn.name,
    status: fn.status,
    version: fn.version,
    verifyJwt: fn.verify_jwt ?? null,
    entrypointPath: fn.entrypoint_path ?? null,
    importMapPath: fn.import_map_path ?? null,
    createdAt: fn.created_at ?? null,
    updatedAt: fn.updated_at ?? null,
  };
}

export function toDeployedFunction(value: unknown): EdgeFunctionInfo {
  return toFunction(read(EdgeFunctionValue, 'deploy_edge_function', value));
}

export function toFunctionWithFiles(value: unknown): ProvisionOutput<'get_edge_function'>['function'] {
  const fn = read(EdgeFunctionWithFilesValue, 'get_edge_function', value);
  return { ...toFunction(fn), files: fn.files };
}

export function toFunctions(value: unknown): EdgeFunctionInfo[] {
  return read(ListEdgeFunctionsValue, 'list_edge_functions', value).functions.map(toFunction);
}

export function toProjectUrl(value: unknown): string {
  return read(ProjectUrlValue, 'get_project_url', value).url;
}

export function toPublishableKeys(value: unknown): ProvisionOutput<'get_publishable_keys'>['keys'] {
  return read(PublishableKeysValue, 'get_publishable_keys', value).keys.map((key) => ({
    name: key.name,
    type: key.type,
    apiKey: key.api_key,
    disabled: key.disabled ?? false,
  }));
}

export function toTypescriptTypes(value: unknown): string {
  return read(TypescriptTypesValue, 'generate_typescript_types', value).types;
}
