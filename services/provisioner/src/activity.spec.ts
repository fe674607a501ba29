import { CommandActivity } from './activity.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CommandActivity', () => {
  it('calls back on the next turn when no command has run for the quiet time', async () => {
    const activity = new CommandActivity();
    let called = false;
    activity.whenQuiet(50, 1000, () => (called = true));
    expect(called).toBe(false);
    await sleep(5);
    expect(called).toBe(true);
  });

  it('waits while a command runs, then for the quiet time after the last one', async () => {
    const activity = new CommandActivity();
    let release!: () => void;
    const running = activity.during(() => new Promise<void>((resolve) => (release = resolve)));
    let calledAt = 0;
    activity.whenQuiet(60, 5000, () => (calledAt = Date.now()));
    await sleep(100);
    expect(calledAt).toBe(0);
    release();
    await running;
    const endedAt = Date.now();
    // A second command shortly after the first puts the quiet off again.
    await sleep(20);
    await activity.during(() => sleep(20));
    const lastEndedAt = Date.now();
    await sleep(150);
    expect(calledAt).toBeGreaterThanOrEqual(lastEndedAt + 55);
    expect(calledAt).toBeGreaterThan(endedAt + 60);
  });

  it('calls back after the longest wait when commands never stop', async () => {
    const activity = new CommandActivity();
    let release!: () => void;
    const running = activity.during(() => new Promise<void>((resolve) => (release = resolve)));
    const askedAt = Date.now();
    let calledAt = 0;
    activity.whenQuiet(50, 200, () => (calledAt = Date.now()));
    await sleep(300);
    expect(calledAt).toBeGreaterThanOrEqual(askedAt + 195);
    release();
    await running;
  });

  it('counts a command that failed as ended; a canceled wait never calls back', async () => {
    const activity = new CommandActivity();
    await expect(activity.during(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(activity.quietIn(40)).toBeGreaterThan(0);
    let called = false;
    const cancel = activity.whenQuiet(40, 1000, () => (called = true));
    cancel();
    await sleep(80);
    expect(called).toBe(false);
    expect(activity.quietIn(40)).toBe(0);
  });
});
