import { defineConfig } from 'vitest/config';

/** In-process tests: no servers, no child processes, no CDK synthesis. `npm run test:unit` runs these in seconds. */
const UNIT = [
  'test/auth.test.ts',
  'test/cli-output.test.ts',
  'test/domain.test.ts',
  'test/eventbridge-dispatcher.test.ts',
  'test/failover-rds.test.ts',
  'test/layers.test.ts',
  'test/powertools.test.ts',
  'test/retry-on-conflict.test.ts',
];

export default defineConfig({
  test: {
    setupFiles: ['test/support/setup.ts'],
    // Integration tests start real servers (dynalite, s3rver, PostgreSQL, Redis, Alertmanager).
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    server: {
      deps: {
        // The Lambda bundles the tests build (bundle.test.ts, iam-grants.test.ts) load in plain Node, as
        // in Lambda, rather than through Vite's transform (a minified megabyte each: most of their time).
        external: [/\/responder-(iam|bundles)-[^/]+\//],
      },
    },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT } },
    ],
  },
});
