import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The node:sqlite suites need Node 22: `npm run test:node22` runs them (vitest.node22.config.ts).
    exclude: [...configDefaults.exclude, 'test/node22/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The JSON report gives .ci/run its closing "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
  },
});
