/** Unit tests sit beside the code (`*.spec.ts`); end-to-end tests under test/ (`*.e2e-spec.ts`). */

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
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/dev/**/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
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
