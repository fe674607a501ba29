import { loadOrchestratorConfig } from './config.js';

describe('OrchestratorConfig', () => {
  it('adopts every 10 s, queued sessions after 10 s, and retries a node for up to 60 s by default', () => {
    const config = loadOrchestratorConfig({});
    expect(config).toMatchObject({
      ADOPT_INTERVAL_MS: 10_000,
      ADOPT_QUEUED_AFTER_MS: 10_000,
      STEP_RETRY_BUDGET_MS: 60_000,
      MAX_BUILD_ATTEMPTS: 10,
      SHUTDOWN_GRACE_MS: 10_000,
    });
  });

  it('pauses at no node unless the test hook is set, and then only at nodes of the graph', () => {
    expect(loadOrchestratorConfig({}).VIBE_TEST_PAUSE_AT_NODE).toEqual([]);
    expect(loadOrchestratorConfig({ VIBE_TEST_PAUSE_AT_NODE: '' }).VIBE_TEST_PAUSE_AT_NODE).toEqual([]);
    expect(
      loadOrchestratorConfig({ VIBE_TEST_PAUSE_AT_NODE: 'apply_migrations, finalize' }).VIBE_TEST_PAUSE_AT_NODE,
    ).toEqual(['apply_migrations', 'finalize']);
    expect(() => loadOrchestratorConfig({ VIBE_TEST_PAUSE_AT_NODE: 'apply_migration' })).toThrow(
      /VIBE_TEST_PAUSE_AT_NODE: node names only/,
    );
  });

  it('refuses an adoption interval that would scan in a busy loop', () => {
    expect(() => loadOrchestratorConfig({ ADOPT_INTERVAL_MS: '0' })).toThrow(/ADOPT_INTERVAL_MS/);
  });
});
