import { loadConfig } from '@vibe/platform';
import { SentinelConfig } from './config.js';

describe('SentinelConfig', () => {
  it('listens on 3003 unless PORT says otherwise', () => {
    expect(loadConfig(SentinelConfig, {}).PORT).toBe(3003);
    expect(loadConfig(SentinelConfig, { PORT: '8080' }).PORT).toBe(8080);
  });

  it('checks every 5 minutes with up to 30 s of jitter by default', () => {
    const config = loadConfig(SentinelConfig, {});
    expect(config.DRIFT_SCHEDULE).toBe('*/5 * * * *');
    expect(config.DRIFT_JITTER_MS).toBe(30_000);
    expect(loadConfig(SentinelConfig, { DRIFT_SCHEDULE: 'off' }).DRIFT_SCHEDULE).toBe('off');
    expect(loadConfig(SentinelConfig, { DRIFT_SCHEDULE: '0 * * * *' }).DRIFT_SCHEDULE).toBe('0 * * * *');
  });

  it('refuses a bad value, naming the variable', () => {
    expect(() => loadConfig(SentinelConfig, { PORT: '-1' })).toThrow(/PORT/);
    expect(() => loadConfig(SentinelConfig, { DRIFT_SCHEDULE: 'hourly' })).toThrow(/DRIFT_SCHEDULE: a cron expression/);
    expect(() => loadConfig(SentinelConfig, { DRIFT_JITTER_MS: '-5' })).toThrow(/DRIFT_JITTER_MS/);
  });
});
