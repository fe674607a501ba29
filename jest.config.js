/**
 * Two tiers: `*.spec.ts` are unit tests beside the code (pure functions, no servers); `*.int-spec.ts` run
 * against the real Postgres and NATS of the machine (DESIGN.md §5), each with its own database and
 * NATS namespace. Workspace packages resolve to their sources, so unit tests need no build; the
 * end-to-end test starts the built services (`npm test` builds first).
 */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] };
const moduleNameMapper = {
  '^@vibe/contracts$': '<rootDir>/libs/contracts/src/index.ts',
  '^@vibe/platform$': '<rootDir>/libs/platform/src/index.ts',
  '^@vibe/planning$': '<rootDir>/libs/planning/src/index.ts',
  '^(\\.{1,2}/.*)\\.js$': '$1',
};
const common = { rootDir: __dirname, transform, moduleNameMapper, testEnvironment: 'node' };

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      // test/**/*.spec.ts: checks of repository files (deploy manifests, compose, Dockerfile) that need no server.
      testMatch: ['<rootDir>/{libs,services,tools}/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/{libs,services,tools,test}/**/*.int-spec.ts'],
    },
  ],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Applies to every project (a per-project testTimeout is ignored).
  testTimeout: 120_000,
};
