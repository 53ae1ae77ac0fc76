/**
 * Unit tests sit beside the code (`*.spec.ts`); integration tests under test/integration/
 * (`*.int-spec.ts`: the orchestration classes against real Redis, PostgreSQL, registry and Sigstore stack,
 * without a service process); end-to-end tests under test/ (`*.e2e-spec.ts`).
 */

// ES-module-only packages that @sigstore/sign pulls in (proxy agents): Node loads them, Jest's
// CommonJS runtime needs them transpiled.
const esmOnly = 'agent-base|http-proxy-agent|https-proxy-agent|socks-proxy-agent|proxy-agent-negotiate';
const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    [`^.+/node_modules/(${esmOnly})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true }, isolatedModules: true }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly})/)`],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

/** @type {import('jest').Config} */
module.exports = {
  // End-to-end tests start processes and wait for queues; unit tests finish far sooner.
  testTimeout: 120_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/dev/**/*.spec.ts', '<rootDir>/test/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'],
      // The same setup as end-to-end tests: Redis, PostgreSQL and the local stack are there (or started).
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
