import type { SessionView } from '@vibe/contracts';
import { progressBar, summary } from './build-command.js';

describe('progressBar', () => {
  it('fills in proportion and clamps', () => {
    expect(progressBar(0, 10)).toBe('[..........]   0%');
    expect(progressBar(0.5, 10)).toBe('[#####.....]  50%');
    expect(progressBar(2, 10)).toBe('[##########] 100%');
  });
});

describe('summary', () => {
  const session: SessionView = {
    id: '7f0c2a6e-1d7b-4b53-9f7e-2f0f6b1e9a10',
    status: 'succeeded',
    template: 'marketplace',
    vibeText: 'x',
    options: {},
    environment: { driver: 'local', mode: 'branch', ref: 'vibe_env_1', host: '127.0.0.1', port: 5432 },
    outputs: {
      tables: [{ name: 'orders', rlsEnabled: true }],
      policies: [{ table: 'orders', name: 'orders_read_own', command: 'select', roles: ['authenticated'] }],
      functions: ['run_analytics_query'],
      analytics: { configured: true, provenance: 'local views', rowCount: 0 },
      deferred: ['Edge Function drift_check: not yet'],
    },
    error: null,
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };

  it('names the environment, the tables with their RLS state, the policies and what was deferred', () => {
    const text = summary(session, 900).join('\n');
    expect(text).toContain('Build succeeded in 900 ms');
    expect(text).toContain('Environment: local branch vibe_env_1 on 127.0.0.1:5432');
    expect(text).toContain('Tables: orders (RLS on)');
    expect(text).toMatch(/orders\s+orders_read_own\s+select\s+authenticated/);
    expect(text).toContain('Not yet: Edge Function drift_check: not yet');
  });

  it('shows the error of a failed build', () => {
    const text = summary({ ...session, status: 'failed', error: 'generate_plan: boom', outputs: null }, 10).join('\n');
    expect(text).toContain('Build failed');
    expect(text).toContain('Error: generate_plan: boom');
  });
});
