import { readFileSync } from 'node:fs';
import { type ServiceProcess } from '../stack.js';

/** Resident set size of a process, now and at its peak (VmHWM), in MB, from /proc (Linux). */
export function residentMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** Samples the RSS of some processes every `intervalMs` and keeps each one's largest sample. */
export class RssSampler {
  private readonly peaks = new Map<ServiceProcess, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly processes: () => ServiceProcess[],
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  /** Stops sampling; the largest RSS seen of each process, in MB. */
  stop(): Map<ServiceProcess, number> {
    clearInterval(this.timer);
    this.sample();
    return new Map(this.peaks);
  }

  private sample(): void {
    for (const handle of this.processes()) {
      const rss = residentMb(handle.pid)?.rss;
      if (rss !== undefined && Number.isFinite(rss)) this.peaks.set(handle, Math.max(this.peaks.get(handle) ?? 0, rss));
    }
  }
}
