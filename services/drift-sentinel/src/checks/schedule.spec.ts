import { jitter, parseSchedule, roundOf } from './schedule.js';

describe('parseSchedule', () => {
  it('given the default "*/5 * * * *", then the next tick is the next multiple of five minutes, in UTC', () => {
    const schedule = parseSchedule('*/5 * * * *')!;
    expect(schedule.next(new Date('2026-11-25T12:03:10.500Z'))?.toISOString()).toBe('2026-11-25T12:05:00.000Z');
    // Strictly after: a tick is never returned twice.
    expect(schedule.next(new Date('2026-11-25T12:05:00.000Z'))?.toISOString()).toBe('2026-11-25T12:10:00.000Z');
  });

  it('given six fields, then the first is seconds', () => {
    const schedule = parseSchedule('*/2 * * * * *')!;
    expect(schedule.next(new Date('2026-11-25T12:00:00.100Z'))?.toISOString()).toBe('2026-11-25T12:00:02.000Z');
  });

  it('given something that is not a cron expression, then there is no schedule', () => {
    expect(parseSchedule('every five minutes')).toBeNull();
    expect(parseSchedule('61 * * * *')).toBeNull();
  });
});

describe('roundOf and jitter', () => {
  it('names a round by its tick, the same on every replica', () => {
    expect(roundOf(new Date(Date.UTC(2026, 10, 25, 12, 5)))).toBe('2026-11-25T12:05:00.000Z');
  });

  it('draws a delay below the maximum, and none when the maximum is 0', () => {
    expect(jitter(1000, () => 0.999)).toBe(999);
    expect(jitter(1000, () => 0)).toBe(0);
    expect(jitter(0, () => 0.5)).toBe(0);
  });
});
