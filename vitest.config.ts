import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Child processes, not worker threads: native addons (better-sqlite3, argon2) and
    // process-wide state (env, cwd, signal handlers) stay isolated per test file.
    pool: 'forks',
    watch: false,
    reporters: ['default'],
    // Refuses every outbound connection that is not to loopback, so no test can reach the
    // outside network (see the file for the escape hatch).
    setupFiles: ['./vitest.setup.ts'],
    // Serves the PostgreSQL test cluster to the test files that ask for it: the cluster starts on
    // the first request only, so a run that needs no PostgreSQL starts none (docs/storage.md).
    globalSetup: ['./test/support/postgres_cluster.ts'],
  },
});
