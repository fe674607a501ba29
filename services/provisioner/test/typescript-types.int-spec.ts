/**
 * `generate_typescript_types` of the local MCP server against a real environment (issue 12): the catalog of a
 * schema with the corners (enums, arrays, identity and generated columns, a one-to-one foreign key, an updatable
 * view, a composite type, set-returning and `returns table` functions, a trigger function) becomes types that
 * compile, that the compiler reads back as the environment's own tables and columns (read from
 * information_schema here, independently), and that change when the schema does.
 */
import { ProvisionOutputs, newId } from '@vibe/contracts';
import { describeDatabase } from '../../../test/support/typescript.js';
import { runCommand } from '../src/commands/command-runner.js';
import { CommandMcpCalls } from '../src/commands/mcp-calls.js';
import type { McpSession } from '../src/mcp/mcp-session.js';
import { startLocalMcp, valueOf, type LocalMcp } from './local-mcp.js';

const SCHEMA = `
  create type public.listing_status as enum ('active', 'sold', 'archived');
  create type public.money_amount as (cents int, currency text);
  create table public.sellers (id uuid primary key default gen_random_uuid(), name text not null);
  create table public.listings (
    id bigint generated always as identity primary key,
    seller_id uuid not null references public.sellers (id),
    title text not null,
    title_lower text generated always as (lower(title)) stored,
    status public.listing_status not null default 'active',
    tags text[],
    attributes jsonb,
    price numeric(10, 2) not null
  );
  create table public.seller_settings (
    seller_id uuid primary key references public.sellers (id),
    theme text
  );
  create view public.active_listings as select id, title, price from public.listings where status = 'active';
  create view public.listing_counts as select seller_id, count(*) as n from public.listings group by seller_id;
  create function public.listings_of(p_seller uuid, p_limit int default 10) returns setof public.listings
    language sql stable as $$ select * from public.listings where seller_id = p_seller limit p_limit $$;
  create function public.price_stats() returns table (low numeric, high numeric)
    language sql stable as $$ select min(price), max(price) from public.listings $$;
  create function public.touch() returns trigger language plpgsql as $$ begin return new; end $$;
  create function public.plus(int, int) returns int language sql immutable as $$ select $1 + $2 $$;`;

/** Columns per relation of `public`, from information_schema: what the types must say. */
async function columnsOf(mcp: LocalMcp, ref: string): Promise<Record<string, string[]>> {
  return mcp.inEnvironment(ref, async (db) => {
    const { rows } = await db.query<{ table_name: string; columns: string[] }>(
      `select table_name, array_agg(column_name::text order by column_name::text) as columns
       from information_schema.columns where table_schema = 'public' group by table_name`,
    );
    return Object.fromEntries(rows.map((row) => [row.table_name, row.columns]));
  });
}

describe('generate_typescript_types on a real environment', () => {
  let mcp: LocalMcp;
  let ref: string;
  let rw: McpSession;
  let ro: McpSession;

  beforeAll(async () => {
    mcp = await startLocalMcp();
    ref = await mcp.createEnvironment();
    rw = await mcp.open(ref, 'read-write');
    ro = await mcp.open(ref, 'read-only');
    await valueOf(rw, 'apply_migration', { name: 'corners', query: SCHEMA });
  });

  afterAll(async () => {
    await mcp?.close();
  });

  const generate = async () => (await valueOf<{ types: string }>(ro, 'generate_typescript_types')).types;

  it('is a read-only tool, listed by the read-only server, taking no arguments', async () => {
    const tool = (await ro.listTools()).find((t) => t.name === 'generate_typescript_types');
    expect(tool?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(tool?.inputSchema).toMatchObject({ type: 'object', properties: {} });
  });

  it("types every table and view of public with the environment's columns, and compiles", async () => {
    const db = describeDatabase(await generate());
    expect(db.errors).toEqual([]);
    const columns = await columnsOf(mcp, ref);
    const typed = { ...db.tables, ...db.views };
    expect(Object.keys(typed).sort()).toEqual(Object.keys(columns).sort());
    for (const [name, relation] of Object.entries(typed)) expect([name, relation.row]).toEqual([name, columns[name]]);

    expect(db.tables.listings).toMatchObject({
      insertRequired: ['price', 'seller_id', 'title'],
      insertNever: ['id', 'title_lower'],
    });
    expect(db.tables.sellers).toMatchObject({ insertRequired: ['name'], insertNever: [] });
    // A simple view is updatable (Insert and Update); an aggregate one is not.
    expect(db.views.active_listings).toMatchObject({ insertRequired: [], insertNever: [] });
    expect(db.views.listing_counts?.insertRequired).toBeUndefined();
    expect(db.enums).toEqual({ listing_status: ['active', 'archived', 'sold'] });
    // Callable through PostgREST: named arguments; the trigger function and the unnamed-argument one are not.
    expect(db.functions).toEqual(['listings_of', 'price_stats']);
  });

  it('says what the generator says about types, keys and functions', async () => {
    const types = await generate();
    expect(types).toContain('status: Database["public"]["Enums"]["listing_status"]');
    expect(types).toContain('tags: string[] | null');
    expect(types).toContain('attributes: Json | null');
    expect(types).toContain('price: number');
    expect(types).toContain('Args: { p_seller: string; p_limit?: number }');
    expect(types).toMatch(/money_amount: \{\n\s+cents: number \| null\n\s+currency: string \| null\n\s+\}/);
    // seller_settings.seller_id is its primary key: one to one; listings.seller_id is not.
    expect(types).toMatch(/foreignKeyName: "seller_settings_seller_id_fkey"\n.*\n\s+isOneToOne: true/);
    expect(types).toMatch(/foreignKeyName: "listings_seller_id_fkey"\n.*\n\s+isOneToOne: false/);
  });

  it('follows the schema: a table added later is typed, a dropped column is gone', async () => {
    await valueOf(rw, 'apply_migration', {
      name: 'reviews',
      query: `create table public.reviews (id uuid primary key default gen_random_uuid(),
                listing_id bigint not null references public.listings (id), stars int not null, body text);
              alter table public.listings drop column attributes;`,
    });
    const db = describeDatabase(await generate());
    expect(db.errors).toEqual([]);
    const columns = await columnsOf(mcp, ref);
    expect(db.tables.reviews).toEqual({
      row: columns.reviews,
      insertRequired: ['listing_id', 'stars'],
      insertNever: [],
    });
    expect(db.tables.listings?.row).not.toContain('attributes');
  });

  it('runs as the provisioner command, through the read-only server, audited without its text', async () => {
    const command = {
      version: 1 as const,
      tool: 'generate_typescript_types' as const,
      commandId: newId(),
      sessionId: newId(),
      environmentRef: ref,
    };
    const calls = new CommandMcpCalls(mcp.connector, { command, environment: ref, attempt: 1 }, async () => {});
    try {
      const output = await runCommand(command, mcp.driver, () => calls);
      const { types } = ProvisionOutputs.generate_typescript_types.parse(output);
      expect(types).toBe(await generate());
      expect(
        calls.events.map((event) => [event.payload.tool, (event.payload.server as { mode: string }).mode]),
      ).toEqual([['generate_typescript_types', 'read-only']]);
      expect(calls.events[0]!.payload.output).toEqual({ typesLength: types.length, lines: types.split('\n').length });
    } finally {
      await calls.close();
    }
  });
});
