/**
 * The contract between our local MCP server and the official `@supabase/mcp-server-supabase` (a root
 * devDependency): the official server is started offline as the cloud driver starts it (SupabaseMcpConnector:
 * npx, `--project-ref`, `--features` without docs, a dummy token in its environment), its tools are listed,
 * and every tool of ours must be there with a compatible input schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { loadProvisionerConfig } from '../src/config.js';
import type { McpSession } from '../src/mcp/mcp-session.js';
import { SupabaseMcpConnector } from '../src/mcp/supabase/supabase-mcp.connector.js';
import { readToolResult } from '../src/mcp/tool-result.js';
import { MUTATING_TOOLS, OUR_TOOLS, startLocalMcp, type LocalMcp } from './local-mcp.js';

const TOKEN = 'sbp_0000000000000000000000000000000000dummy';
const PROJECT_REF = 'abcdefghijklmnopqrst';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  additionalProperties?: unknown;
}

/** What a client relies on in an input schema: required names, and each property's type (items, enum). */
function shape(tool: Tool): unknown {
  const schema = tool.inputSchema as JsonSchema;
  const property = (p: JsonSchema): unknown => ({
    type: p.type,
    ...(p.enum && { enum: p.enum }),
    ...(p.items && { items: property(p.items) }),
    ...(p.properties && {
      properties: Object.fromEntries(Object.entries(p.properties).map(([k, v]) => [k, property(v)])),
    }),
    ...(p.required && { required: [...p.required].sort() }),
  });
  return {
    type: schema.type,
    required: [...(schema.required ?? [])].sort(),
    additionalProperties: schema.additionalProperties,
    properties: Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, property(v)])),
  };
}

/** The processes started under `pid` (children, grandchildren, ...), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended meanwhile.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function procText(pid: number, file: 'cmdline' | 'environ'): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

describe('MCP contract: our local server against the official Supabase MCP server', () => {
  const config = loadProvisionerConfig({});
  const official = new SupabaseMcpConnector({
    accessToken: TOKEN,
    command: config.SUPABASE_MCP_COMMAND,
    packageSpec: config.SUPABASE_MCP_PACKAGE,
    features: config.SUPABASE_MCP_FEATURES,
  });
  let local: LocalMcp;
  const sessions: McpSession[] = [];
  const tools = { official: {} as Record<string, Tool[]>, ours: {} as Record<string, Tool[]> };
  let officialReadWrite: McpSession;

  beforeAll(async () => {
    local = await startLocalMcp();
    const ref = await local.createEnvironment();
    for (const mode of ['read-write', 'read-only'] as const) {
      const theirs = await official.open(PROJECT_REF, mode);
      const ours = await local.open(ref, mode);
      sessions.push(theirs);
      if (mode === 'read-write') officialReadWrite = theirs;
      tools.official[mode] = await theirs.listTools();
      tools.ours[mode] = await ours.listTools();
    }
  });

  afterAll(async () => {
    await Promise.allSettled(sessions.map((session) => session.close()));
    await local?.close();
  });

  it('starts offline with --features leaving out docs, and lists tools', () => {
    expect(config.SUPABASE_MCP_FEATURES).not.toContain('docs');
    expect(tools.official['read-write']!.length).toBeGreaterThanOrEqual(OUR_TOOLS.length);
  });

  it('has every tool of ours, with the same required properties and property types', () => {
    for (const mode of ['read-write', 'read-only'] as const) {
      const theirs = new Map(tools.official[mode]!.map((tool) => [tool.name, tool]));
      for (const ours of tools.ours[mode]!) {
        const counterpart = theirs.get(ours.name);
        expect({ tool: ours.name, mode, found: counterpart !== undefined }).toEqual({
          tool: ours.name,
          mode,
          found: true,
        });
        expect({ tool: ours.name, mode, schema: shape(ours) }).toEqual({
          tool: ours.name,
          mode,
          schema: shape(counterpart!),
        });
      }
    }
    expect(tools.ours['read-write']!.map((tool) => tool.name).sort()).toEqual([...OUR_TOOLS].sort());
  });

  it('leaves the mutating tools out in read-only mode, as the official server does', () => {
    for (const side of [tools.official, tools.ours]) {
      const names = side['read-only']!.map((tool) => tool.name);
      for (const name of MUTATING_TOOLS) expect(names).not.toContain(name);
      expect(names).toContain('execute_sql');
    }
  });

  it('gives the official server the token in its environment, never on a command line', () => {
    const pid = officialReadWrite.pid;
    expect(pid).toEqual(expect.any(Number));
    const tree = [pid!, ...descendants(pid!)];
    const commandLines = tree.map((p) => procText(p, 'cmdline'));
    expect(commandLines.join('\n')).toContain(`--project-ref ${PROJECT_REF}`);
    expect(commandLines.join('\n')).toContain('--features database,development,functions,debugging');
    for (const line of commandLines) expect(line).not.toContain(TOKEN);
    expect(tree.some((p) => procText(p, 'environ').includes(`SUPABASE_ACCESS_TOKEN=${TOKEN}`))).toBe(true);
  });

  it('reads an offline call failure of the official server as transient', async () => {
    const result = await officialReadWrite.callTool('execute_sql', { query: 'select 1' });
    expect(readToolResult(result)).toEqual({
      ok: false,
      error: { message: 'fetch failed', code: null, transient: true },
    });
  });
});
