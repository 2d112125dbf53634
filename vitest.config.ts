import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Test files that kill, pause or time real processes (their own Redis, PostgreSQL, HAProxy and
 * server processes) or measure send buffers: they run one at a time, after the rest, so a
 * neighbour's load cannot stretch what they time. Everything else runs three files at a time (on
 * 2 cores most of a file's time is spent waiting on sockets, timers and child processes).
 */
const SERIAL = [
  'test/faults/**/*.test.ts',
  // The Redis Cluster suites that kill a master; the others (config refusals, credentials, the
  // multi-node suite on a cluster of their own) kill nothing and run with the parallel project.
  'test/cluster/master-failover.test.ts',
  'test/lb/**/*.test.ts',
  'test/security/db-faults.test.ts',
  'test/security/phi-logs.test.ts',
  'test/messaging-durability.test.ts',
  'test/redis-faults.test.ts',
  'test/slow-consumer.test.ts',
  'test/connect-storm-dedup.test.ts',
  'test/client-sdk-resilience.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['src/**/*.spec.ts', 'packages/*/src/**/*.spec.ts', 'test/**/*.test.ts'],
          // The browser suite needs Chromium and runs on its own: npm run test:browser.
          exclude: [...configDefaults.exclude, 'test/browser/**', ...SERIAL],
          maxWorkers: 3,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'serial',
          include: SERIAL,
          exclude: [...configDefaults.exclude, 'test/browser/**'],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
