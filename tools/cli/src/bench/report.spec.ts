import { formatValue, merge, met, renderMarkdown, type Report, type Section } from './report.js';
import { distribution, perSecond, ratio } from './stats.js';

const section = (name: string, value: number): Section => ({
  name,
  title: `${name} bench`,
  startedAt: '2030-01-01T00:00:00.000Z',
  elapsedMs: 1000,
  load: [1, 2],
  parameters: { builds: 20 },
  figures: [
    {
      name: 'build p50',
      value,
      unit: 'ms',
      floor: 100,
      ratio: value / 100,
      targets: [
        { on: 'value', op: '<', limit: 1000 },
        { on: 'ratio', op: '<', limit: 4 },
      ],
    },
  ],
  notes: ['a note'],
});

const header = {
  updatedAt: '2030-01-01T00:00:00.000Z',
  command: 'npm run bench',
  machine: { cpus: 2, cpuModel: 'cpu', memoryGiB: 24, node: 'v24', platform: 'linux' },
};

describe('bench statistics', () => {
  it('takes nearest-rank percentiles and ignores what is not a number', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(distribution([...values, Number.NaN])).toEqual({ samples: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });

  it('gives rates and ratios, NaN where the floor is missing', () => {
    expect(perSecond(1000, 500)).toBe(2000);
    expect(ratio(300, 100)).toBe(3);
    expect(ratio(300, 0)).toBeNaN();
  });
});

describe('bench report', () => {
  it('checks targets on the value or on the ratio to the floor', () => {
    const figure = section('e2e', 500).figures[0]!;
    expect(met(figure, figure.targets![0]!)).toBe(true);
    expect(met(figure, figure.targets![1]!)).toBe(false);
  });

  it('formats each unit', () => {
    expect(formatValue(1234.5, 'ms')).toBe('1235 ms');
    expect(formatValue(5.123, 'ms')).toBe('5.12 ms');
    expect(formatValue(25000, 'events/s')).toBe('25,000 events/s');
    expect(formatValue(Number.NaN, 'MB')).toBe('n/a');
  });

  it('replaces the sections of the benches run and keeps the others', () => {
    const first = merge(undefined, header, [section('e2e', 500), section('events', 1)]);
    const second = merge(first, header, [section('e2e', 700)]);
    expect(second.sections.e2e!.figures[0]!.value).toBe(700);
    expect(second.sections.events).toEqual(first.sections.events);
  });

  it('renders one table row per figure with its floor, ratio and targets', () => {
    const report: Report = merge(undefined, header, [section('e2e', 500)]);
    const markdown = renderMarkdown(report);
    expect(markdown).toContain('| e2e | build p50 | 500 ms | 100 ms | 5.00× | < 1000 ms ✅, < 4× floor ❌ |');
    expect(markdown).toContain('Reproduce: `npm run bench`');
  });
});
