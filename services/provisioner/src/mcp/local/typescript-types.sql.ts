/**
 * The catalog the local MCP server's `generate_typescript_types` renders (typescript-types.ts): one JSON
 * document for the schemas in $1, read from pg_catalog: relations (tables, views, materialized and foreign
 * tables) with their columns, foreign keys, enums, composite types and functions. Read-only.
 */

/**
 * A type as the renderer needs it, for the type oid `oid` (an SQL expression): a domain is read as its base
 * type, an array as its element (`array: true`), an enum with its labels, a composite with the kind of its
 * relation (`c` for a standalone composite type, `r`, `v`, ... for a table's or view's row type).
 */
function typeJson(oid: string): string {
  return `(
    select json_build_object(
      'name', coalesce(e.typname, r.typname),
      'schema', coalesce(en.nspname, rn.nspname),
      'kind', coalesce(e.typtype, r.typtype)::text,
      'array', e.oid is not null,
      'labels', (
        select coalesce(json_agg(l.enumlabel order by l.enumsortorder), '[]'::json)
        from pg_enum l where l.enumtypid = coalesce(e.oid, r.oid)
      ),
      'relation', (select rc.relkind::text from pg_class rc where rc.oid = coalesce(e.typrelid, r.typrelid))
    )
    from pg_type t0
    join pg_type r on r.oid = case when t0.typtype = 'd' then t0.typbasetype else t0.oid end
    join pg_namespace rn on rn.oid = r.typnamespace
    left join pg_type e0 on r.typcategory = 'A' and e0.oid = r.typelem
    left join pg_type e on e.oid = case when e0.typtype = 'd' then e0.typbasetype else e0.oid end
    left join pg_namespace en on en.oid = e.typnamespace
    where t0.oid = ${oid}
  )`;
}

/** Columns of the relation `relid` (an SQL expression over the outer query), in attribute order. */
function columnsJson(relid: string): string {
  return `coalesce((
    select json_agg(json_build_object(
      'name', a.attname,
      'type', ${typeJson('a.atttypid')},
      'nullable', not (a.attnotnull or (coltype.typtype = 'd' and coltype.typnotnull)),
      'hasDefault', a.atthasdef,
      'identity', nullif(a.attidentity::text, ''),
      'generated', a.attgenerated <> '',
      'updatable', pg_column_is_updatable(${relid}::regclass, a.attnum, false)
    ) order by a.attnum)
    from pg_attribute a
    join pg_type coltype on coltype.oid = a.atttypid
    where a.attrelid = ${relid} and a.attnum > 0 and not a.attisdropped
  ), '[]'::json)`;
}

const columnNames = (relid: string, keys: string) =>
  `array(select a.attname::text from unnest(${keys}) with ordinality u(attnum, ord)
     join pg_attribute a on a.attrelid = ${relid} and a.attnum = u.attnum order by u.ord)`;

export const TYPES_CATALOG_SQL = `
select json_build_object(
  'schemas', (
    select coalesce(json_agg(n.nspname order by n.nspname), '[]'::json)
    from pg_namespace n where n.nspname = any ($1::text[])
  ),
  'relations', (
    select coalesce(json_agg(json_build_object(
      'schema', n.nspname,
      'name', c.relname,
      'kind', c.relkind::text,
      -- As information_schema.views.is_updatable: UPDATE (4) and DELETE (16) through the view.
      'updatable', c.relkind = 'v' and (pg_relation_is_updatable(c.oid::regclass, false) & 20) = 20,
      'columns', ${columnsJson('c.oid')}
    ) order by n.nspname, c.relname), '[]'::json)
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any ($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition
  ),
  'relationships', (
    select coalesce(json_agg(json_build_object(
      'name', k.conname,
      'schema', sn.nspname,
      'relation', s.relname,
      'columns', ${columnNames('k.conrelid', 'k.conkey')},
      'referencedSchema', tn.nspname,
      'referencedRelation', t.relname,
      'referencedColumns', ${columnNames('k.confrelid', 'k.confkey')},
      -- One to one: the referencing columns are exactly a unique key of their table.
      'oneToOne', exists (
        select 1 from pg_index i
        where i.indrelid = k.conrelid and i.indisunique and i.indpred is null and i.indexprs is null
          and (select array_agg(x order by x) from unnest(i.indkey::int2[]) x)
            = (select array_agg(x order by x) from unnest(k.conkey) x)
      )
    ) order by sn.nspname, s.relname, k.conname), '[]'::json)
    from pg_constraint k
    join pg_class s on s.oid = k.conrelid
    join pg_namespace sn on sn.oid = s.relnamespace
    join pg_class t on t.oid = k.confrelid
    join pg_namespace tn on tn.oid = t.relnamespace
    where k.contype = 'f' and sn.nspname = any ($1::text[])
  ),
  'enums', (
    select coalesce(json_agg(json_build_object(
      'schema', n.nspname,
      'name', t.typname,
      'labels', (select coalesce(json_agg(e.enumlabel order by e.enumsortorder), '[]'::json)
                 from pg_enum e where e.enumtypid = t.oid)
    ) order by n.nspname, t.typname), '[]'::json)
    from pg_type t
    join pg_namespace n on n.oid = t.typnamespace
    where t.typtype = 'e' and n.nspname = any ($1::text[])
  ),
  'compositeTypes', (
    select coalesce(json_agg(json_build_object(
      'schema', n.nspname,
      'name', t.typname,
      'attributes', ${columnsJson('t.typrelid')}
    ) order by n.nspname, t.typname), '[]'::json)
    from pg_type t
    join pg_namespace n on n.oid = t.typnamespace
    join pg_class c on c.oid = t.typrelid and c.relkind = 'c'
    where t.typtype = 'c' and n.nspname = any ($1::text[])
  ),
  'functions', (
    select coalesce(json_agg(json_build_object(
      'schema', n.nspname,
      'name', p.proname,
      'args', coalesce((
        select json_agg(json_build_object(
          'mode', coalesce(m.mode::text, 'i'),
          'name', coalesce(nm.name, ''),
          'type', ${typeJson('a.typ')}
        ) order by a.ord)
        from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality a(typ, ord)
        left join unnest(p.proargmodes) with ordinality m(mode, ord) on m.ord = a.ord
        left join unnest(p.proargnames) with ordinality nm(name, ord) on nm.ord = a.ord
      ), '[]'::json),
      'defaults', p.pronargdefaults,
      'returns', ${typeJson('p.prorettype')},
      'returnsSet', p.proretset
    ) order by n.nspname, p.proname, p.oid), '[]'::json)
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = any ($1::text[])
      and p.prokind = 'f'
      and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)
      -- An extension's functions are the extension's, not the schema's.
      and not exists (
        select 1 from pg_depend d
        where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
      )
  )
) as catalog`;
