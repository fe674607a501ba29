import type { AdvisorLint } from '@vibe/contracts';
import { z } from 'zod';

/**
 * What the sentinel observed in an environment: the catalog snapshot (`SNAPSHOT_SQL`, read through the
 * provisioner's read-only `execute_sql`), the security advisor's lints (`get_advisors`) and the deployed Edge
 * Functions (`list_edge_functions`). Parsed at the edge; inside, trusted.
 */

const text = z.string();

export const ObservedColumn = z.object({
  name: text,
  /** `format_type`: `integer`, `timestamp with time zone`, ... */
  type: text,
  notNull: z.boolean(),
  /** `pg_get_expr` of the default, or null. */
  default: text.nullable(),
});
export type ObservedColumn = z.infer<typeof ObservedColumn>;

export const ObservedConstraint = z.object({
  name: text,
  /** pg_constraint.contype: `p` primary key, `u` unique, `c` check, `f` foreign key, `x` exclusion, ... */
  kind: text,
  columns: z.array(text),
  /** A check's expression (`pg_get_expr`). */
  expression: text.nullable(),
  /** A foreign key's target; `onDelete` is pg_constraint.confdeltype (`a`, `r`, `c`, `n`, `d`). */
  references: z.object({ schema: text, table: text, columns: z.array(text), onDelete: text }).nullable(),
  definition: text,
});
export type ObservedConstraint = z.infer<typeof ObservedConstraint>;

export const ObservedIndex = z.object({
  name: text,
  unique: z.boolean(),
  /** Made by a primary key or unique constraint (compared as the constraint). */
  constraint: z.boolean(),
  /** Key columns in order; an expression key is an empty name. */
  columns: z.array(text),
  partial: z.boolean(),
  expressions: z.boolean(),
  definition: text,
});
export type ObservedIndex = z.infer<typeof ObservedIndex>;

export const ObservedTable = z.object({
  name: text,
  rlsEnabled: z.boolean(),
  /** `anon:select`, `authenticated:update`, ...: what the API roles may do to the table, RLS aside. */
  apiPrivileges: z.array(text),
  columns: z.array(ObservedColumn),
  constraints: z.array(ObservedConstraint),
  indexes: z.array(ObservedIndex),
});
export type ObservedTable = z.infer<typeof ObservedTable>;

export const PolicyCommand = z.enum(['select', 'insert', 'update', 'delete', 'all']);
export type PolicyCommand = z.infer<typeof PolicyCommand>;

export const ObservedPolicy = z.object({
  schema: text,
  table: text,
  name: text,
  permissive: z.boolean(),
  command: PolicyCommand,
  /** Role names; `public` when the policy applies to every role. */
  roles: z.array(text),
  using: text.nullable(),
  withCheck: text.nullable(),
});
export type ObservedPolicy = z.infer<typeof ObservedPolicy>;

export const ObservedView = z.object({
  name: text,
  materialized: z.boolean(),
  securityInvoker: z.boolean(),
  /** The API roles that may select from it. */
  apiSelect: z.array(text),
  /** Relations its query reads (`schema.name`). */
  dependsOn: z.array(text),
});
export type ObservedView = z.infer<typeof ObservedView>;

/** The catalog snapshot of schema public (and the policies of storage.objects). */
export const EnvironmentSnapshot = z.object({
  tables: z.array(ObservedTable),
  policies: z.array(ObservedPolicy),
  views: z.array(ObservedView),
});
export type EnvironmentSnapshot = z.infer<typeof EnvironmentSnapshot>;

export interface Observed {
  snapshot: EnvironmentSnapshot;
  /** Security lints (all levels; the diff keeps ERROR and WARN). */
  lints: AdvisorLint[];
  /** Slugs of the deployed Edge Functions. */
  edgeFunctions: string[];
}

/**
 * One read-only query for the whole snapshot: one round trip through the provisioner, one consistent view.
 * Extension-owned relations are left out (they are the extension's business, as in the advisor).
 */
export const SNAPSHOT_SQL = `
with api_roles(role) as (values ('anon'), ('authenticated')),
privileges(privilege) as (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'))
select jsonb_build_object(
  'tables', coalesce((
    select jsonb_agg(jsonb_build_object(
      'name', c.relname,
      'rlsEnabled', c.relrowsecurity,
      'apiPrivileges', to_jsonb(array(
        select r.role || ':' || lower(p.privilege) from api_roles r cross join privileges p
        where has_table_privilege(r.role, c.oid, p.privilege) order by 1)),
      'columns', coalesce((
        select jsonb_agg(jsonb_build_object(
          'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull,
          'default', pg_get_expr(d.adbin, d.adrelid)) order by a.attnum)
        from pg_attribute a
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]'::jsonb),
      'constraints', coalesce((
        select jsonb_agg(jsonb_build_object(
          'name', k.conname, 'kind', k.contype,
          'columns', to_jsonb(array(
            select a.attname::text from unnest(k.conkey) with ordinality u(attnum, ord)
            join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.ord)),
          'expression', case when k.contype = 'c' then pg_get_expr(k.conbin, k.conrelid) end,
          'references', case when k.contype = 'f' then jsonb_build_object(
            'schema', fn.nspname, 'table', f.relname,
            'columns', to_jsonb(array(
              select a.attname::text from unnest(k.confkey) with ordinality u(attnum, ord)
              join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum order by u.ord)),
            'onDelete', k.confdeltype) end,
          'definition', pg_get_constraintdef(k.oid)) order by k.conname)
        from pg_constraint k
        left join pg_class f on f.oid = k.confrelid
        left join pg_namespace fn on fn.oid = f.relnamespace
        where k.conrelid = c.oid), '[]'::jsonb),
      'indexes', coalesce((
        select jsonb_agg(jsonb_build_object(
          'name', ic.relname, 'unique', i.indisunique,
          'constraint', exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = c.oid),
          'columns', to_jsonb(array(
            select coalesce(a.attname::text, '') from unnest(i.indkey::int2[]) with ordinality u(attnum, ord)
            left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = u.attnum order by u.ord)),
          'partial', i.indpred is not null, 'expressions', i.indexprs is not null,
          'definition', pg_get_indexdef(i.indexrelid)) order by ic.relname)
        from pg_index i join pg_class ic on ic.oid = i.indexrelid
        where i.indrelid = c.oid), '[]'::jsonb)
    ) order by c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and not exists (select 1 from pg_depend e where e.objid = c.oid and e.deptype = 'e')), '[]'::jsonb),
  'policies', coalesce((
    select jsonb_agg(jsonb_build_object(
      'schema', n.nspname, 'table', c.relname, 'name', p.polname, 'permissive', p.polpermissive,
      'command', case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
        when 'd' then 'delete' else 'all' end,
      'roles', to_jsonb(case when p.polroles = '{0}' then array['public']
        else array(select r.rolname::text from pg_roles r where r.oid = any (p.polroles) order by r.rolname) end),
      'using', pg_get_expr(p.polqual, p.polrelid),
      'withCheck', pg_get_expr(p.polwithcheck, p.polrelid)
    ) order by n.nspname, c.relname, p.polname)
    from pg_policy p
    join pg_class c on c.oid = p.polrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' or (n.nspname = 'storage' and c.relname = 'objects')), '[]'::jsonb),
  'views', coalesce((
    select jsonb_agg(jsonb_build_object(
      'name', c.relname,
      'materialized', c.relkind = 'm',
      'securityInvoker', coalesce(lower(c.reloptions::text)::text[]
        && array['security_invoker=1', 'security_invoker=true', 'security_invoker=yes', 'security_invoker=on'], false),
      'apiSelect', to_jsonb(array(select r.role from api_roles r where has_table_privilege(r.role, c.oid, 'SELECT') order by 1)),
      'dependsOn', to_jsonb(array(
        select distinct dn.nspname || '.' || dc.relname
        from pg_rewrite w
        join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid
        join pg_class dc on dc.oid = d.refobjid
        join pg_namespace dn on dn.oid = dc.relnamespace
        where w.ev_class = c.oid and d.refobjid <> c.oid and d.refclassid = 'pg_class'::regclass
        order by 1))
    ) order by c.relname)
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('v', 'm')
      and not exists (select 1 from pg_depend e where e.objid = c.oid and e.deptype = 'e')), '[]'::jsonb)
) as snapshot`;
