/**
 * Catalog queries of the local MCP server's `list_tables` and `list_extensions`. They return what the
 * official server reads through Supabase's pg-meta (table and column shapes of `@supabase/mcp-server-supabase`),
 * so that both servers answer in one format. Read-only.
 */

/**
 * One row per table (relkind r or p) of the schemas in $1, with its columns, primary key and the foreign keys
 * it takes part in (as source or target). A column's `data_type` follows information_schema (`ARRAY`,
 * `USER-DEFINED`, `character varying`) and `format` is the type's name (`_text`, `varchar`, an enum's name).
 */
export const LIST_TABLES_SQL = `
select
  n.nspname as schema,
  c.relname as name,
  c.relrowsecurity as rls_enabled,
  pg_stat_get_live_tuples(c.oid) as rows,
  obj_description(c.oid, 'pg_class') as comment,
  coalesce((
    select json_agg(json_build_object(
      'name', a.attname,
      'data_type', case
        when t.typtype = 'd' then case
          when bt.typelem <> 0 and bt.typlen = -1 then 'ARRAY'
          when btn.nspname = 'pg_catalog' then format_type(t.typbasetype, null)
          else 'USER-DEFINED' end
        when t.typelem <> 0 and t.typlen = -1 then 'ARRAY'
        when tn.nspname = 'pg_catalog' then format_type(a.atttypid, null)
        else 'USER-DEFINED' end,
      'format', coalesce(bt.typname, t.typname),
      'is_identity', a.attidentity in ('a', 'd'),
      'identity_generation', case a.attidentity when 'a' then 'ALWAYS' when 'd' then 'BY DEFAULT' end,
      'is_generated', a.attgenerated = 's',
      'is_nullable', not (a.attnotnull or (t.typtype = 'd' and t.typnotnull)),
      'is_updatable', true,
      'is_unique', exists (
        select 1 from pg_constraint u
        where u.conrelid = c.oid and u.contype = 'u' and u.conkey = array[a.attnum]
      ),
      'default_value', pg_get_expr(d.adbin, d.adrelid),
      'check', (
        select regexp_replace(pg_get_constraintdef(k.oid, true), '^CHECK \\((.*)\\)$', '\\1')
        from pg_constraint k
        where k.conrelid = c.oid and k.contype = 'c' and k.conkey = array[a.attnum]
        order by k.oid limit 1
      ),
      'enums', coalesce((
        select json_agg(e.enumlabel order by e.enumsortorder) from pg_enum e
        where e.enumtypid in (coalesce(bt.oid, t.oid), coalesce(bt.typelem, t.typelem))
      ), '[]'::json),
      'comment', col_description(c.oid, a.attnum)
    ) order by a.attnum)
    from pg_attribute a
    join pg_type t on t.oid = a.atttypid
    join pg_namespace tn on tn.oid = t.typnamespace
    left join pg_type bt on t.typtype = 'd' and bt.oid = t.typbasetype
    left join pg_namespace btn on btn.oid = bt.typnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  ), '[]'::json) as columns,
  array(
    select a.attname::text from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
    where i.indrelid = c.oid and i.indisprimary
    order by array_position(i.indkey::int2[], a.attnum)
  ) as primary_keys,
  coalesce((
    select json_agg(json_build_object(
      'name', f.conname,
      'source_table', fsn.nspname || '.' || fs.relname,
      'source_columns', array(
        select a.attname from unnest(f.conkey) with ordinality k(attnum, ord)
        join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum order by k.ord),
      'target_table', ftn.nspname || '.' || ft.relname,
      'target_columns', array(
        select a.attname from unnest(f.confkey) with ordinality k(attnum, ord)
        join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.attnum order by k.ord)
    ) order by f.conname)
    from pg_constraint f
    join pg_class fs on fs.oid = f.conrelid
    join pg_namespace fsn on fsn.oid = fs.relnamespace
    join pg_class ft on ft.oid = f.confrelid
    join pg_namespace ftn on ftn.oid = ft.relnamespace
    where f.contype = 'f' and (f.conrelid = c.oid or f.confrelid = c.oid)
  ), '[]'::json) as foreign_key_constraints
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname = any ($1::text[])
order by n.nspname, c.relname`;

/** Tables of every schema but Postgres' own, when `list_tables` is given no schema. */
export const SYSTEM_SCHEMAS = ['information_schema', 'pg_catalog', 'pg_toast'];

export const USER_SCHEMAS_SQL = `
select coalesce(array_agg(nspname order by nspname), '{}') as schemas from pg_namespace
where not (nspname = any ($1::text[])) and nspname not like 'pg_temp_%' and nspname not like 'pg_toast_temp_%'`;

/** Every extension the server offers, with where and which version it is installed. */
export const LIST_EXTENSIONS_SQL = `
select e.name, n.nspname as schema, e.default_version, x.extversion as installed_version, e.comment
from pg_available_extensions e
left join pg_extension x on x.extname = e.name
left join pg_namespace n on n.oid = x.extnamespace
order by e.name`;

export const LIST_MIGRATIONS_SQL = `
select version, name from supabase_migrations.schema_migrations order by version`;

/** The Supabase CLI's timestamp version (UTC, to the second), kept increasing when two land in one second. */
export const RECORD_MIGRATION_SQL = `
  insert into supabase_migrations.schema_migrations (version, name, statements)
  select greatest(
      to_char(clock_timestamp() at time zone 'utc', 'YYYYMMDDHH24MISS')::bigint,
      coalesce(max(version::bigint) + 1, 0)
    )::text, $1, $2::text[]
  from supabase_migrations.schema_migrations
  where version ~ '^[0-9]{1,18}$'`;
