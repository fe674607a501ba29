import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type Unit = 'ms' | 's' | 'events/s' | 'builds/min' | 'environments/s' | 'MB' | 'count';

/** A limit a figure (or its ratio to the floor) should meet: measured and shown, never asserted in tests. */
export interface Target {
  on: 'value' | 'ratio';
  op: '<' | '>=';
  limit: number;
}

export interface Figure {
  name: string;
  value: number;
  unit: Unit;
  /** The physical floor of the same work, measured in the same run, in the same unit. */
  floor?: number;
  /** value / floor. */
  ratio?: number;
  targets?: Target[];
}

export interface Section {
  /** The bench's name, as given to `npm run bench -- <name>`. */
  name: string;
  title: string;
  startedAt: string;
  elapsedMs: number;
  /** The machine's 1-minute load average when the bench started and ended. */
  load: [number, number];
  parameters: Record<string, string | number>;
  figures: Figure[];
  notes: string[];
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres?: string;
  nats?: string;
  platform: string;
}

/** bench/results/latest.json: the latest section of every bench (a run of some benches replaces theirs only). */
export interface Report {
  updatedAt: string;
  machine: Machine;
  command: string;
  sections: Record<string, Section>;
}

export function machine(extra: { postgres?: string; nats?: string } = {}): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    ...extra,
  };
}

export function met(figure: Figure, target: Target): boolean {
  const value = target.on === 'value' ? figure.value : figure.ratio;
  if (value === undefined || !Number.isFinite(value)) return false;
  return target.op === '<' ? value < target.limit : value >= target.limit;
}

export function formatValue(value: number | undefined, unit: Unit): string {
  if (value === undefined) return '';
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'ms':
      return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ms`;
    case 's':
      return `${value.toFixed(2)} s`;
    case 'MB':
      return `${value.toFixed(0)} MB`;
    case 'count':
      return value.toLocaleString('en-US', { maximumFractionDigits: 0 });
    case 'events/s':
    case 'environments/s':
    case 'builds/min':
      return `${value.toLocaleString('en-US', { maximumFractionDigits: value < 100 ? 1 : 0 })} ${unit}`;
    default: {
      const never: never = unit;
      return String(never);
    }
  }
}

function formatTarget(figure: Figure, target: Target): string {
  const limit = target.on === 'ratio' ? `${target.limit}× floor` : formatValue(target.limit, figure.unit);
  const op = target.op === '<' ? '<' : '≥';
  return `${op} ${limit} ${met(figure, target) ? '✅' : '❌'}`;
}

/** The markdown page of a report: one table of every figure, then each bench's parameters and notes. */
export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    '# Benchmarks',
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}` +
      `${m.postgres ? `, PostgreSQL ${m.postgres}` : ''}${m.nats ? `, NATS ${m.nats}` : ''}.`,
    `Reproduce: \`${report.command}\` (one bench: \`npm run bench -- <name>\`). Updated ${report.updatedAt}.`,
    'Each floor is the same work done directly, measured in the same run; ratio = figure / floor.',
    '',
    '| bench | figure | value | floor (same run) | ratio | target |',
    '| ----- | ------ | ----- | ---------------- | ----- | ------ |',
  ];
  const sections = Object.values(report.sections).sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
  for (const section of sections) {
    for (const figure of section.figures) {
      lines.push(
        `| ${section.name} | ${figure.name} | ${formatValue(figure.value, figure.unit)} | ` +
          `${formatValue(figure.floor, figure.unit)} | ${figure.ratio === undefined ? '' : `${figure.ratio.toFixed(2)}×`} | ` +
          `${(figure.targets ?? []).map((target) => formatTarget(figure, target)).join(', ')} |`,
      );
    }
  }
  lines.push('');
  for (const section of sections) {
    const parameters = Object.entries(section.parameters)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ');
    lines.push(
      `- **${section.name}** (${section.title}): run ${section.startedAt}, ${(section.elapsedMs / 1000).toFixed(0)} s, ` +
        `load ${section.load[0].toFixed(1)}→${section.load[1].toFixed(1)}${parameters ? `; ${parameters}` : ''}.`,
    );
    for (const note of section.notes) lines.push(`  ${note}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The order benches run and are shown in. */
export const ORDER = ['e2e', 'concurrent', 'memory', 'events', 'replay', 'realtime', 'drift'];

/** The previous report with these sections replaced (or a new one). */
export function merge(previous: Report | undefined, next: Omit<Report, 'sections'>, sections: Section[]): Report {
  const merged: Report = { ...next, sections: { ...(previous?.sections ?? {}) } };
  for (const section of sections) merged.sections[section.name] = section;
  return merged;
}

export async function readReport(file: string): Promise<Report | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Report;
  } catch {
    return undefined;
  }
}

/** Writes latest.json and latest.md into `dir`, each through a `.tmp` file renamed into place. */
export async function writeReport(dir: string, report: Report): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'latest.json');
  const markdown = path.join(dir, 'latest.md');
  for (const [file, text] of [
    [json, `${JSON.stringify(report, null, 2)}\n`],
    [markdown, renderMarkdown(report)],
  ] as const) {
    await writeFile(`${file}.tmp`, text);
    await rename(`${file}.tmp`, file);
  }
  return { json, markdown };
}
