// Runs Keyv's compliance suite (@keyv/test-suite, written for vitest)
// against a real ./server that global-setup.mjs starts before the suite
// and stops after it. `npm test` runs this before node's test runner, so
// the runner's summary stays the last output (CI reads it).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/keyv/*.vitest.ts'],
    globalSetup: ['test/keyv/global-setup.mjs'],
    // The suite's tests share one server and clear namespaces in hooks:
    // one file, run in order, in a single fork.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
