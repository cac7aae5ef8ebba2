/**
 * The shared suites in real Chromium. Every module in `test/browser/entries/` is bundled with the
 * vitest shim and opened in a page of its own (each in a fresh profile); every test it registers
 * becomes one vitest test here, so browser tests count, pass and fail like the others. To run another
 * suite in the browser (the API suite on IndexedDB, say), add an entry file: it is found by name.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { BROWSER_RUN_TIMEOUT_MS, startBrowserHarness, type BrowserHarness, type BrowserSuite } from './harness.js';

const entriesDir = fileURLToPath(new URL('./entries/', import.meta.url));
const entries: Record<string, string> = Object.fromEntries(
  readdirSync(entriesDir)
    .filter((file) => file.endsWith('.ts'))
    .sort()
    .map((file) => [file.slice(0, -'.ts'.length), join(entriesDir, file)]),
);

// Longer than the page's own wait, so a slow browser test fails with the page's message, not vitest's.
const timeout = BROWSER_RUN_TIMEOUT_MS + 10_000;

/** A setup failure as a failing test: the JSON report counts tests, and a file error alone reads "0 failed". */
function failing(title: string, error: unknown): void {
  it(title, () => {
    throw error;
  });
}

// Modules the suites start as dedicated Workers (`new Worker('/<name>.js', { type: 'module' })`): built and served, not suites.
const workers: Record<string, string> = { 'store-worker': fileURLToPath(new URL('./workers/store-worker.ts', import.meta.url)) };

let harness: BrowserHarness | undefined;
try {
  harness = await startBrowserHarness({ entries: { ...entries, ...workers } });
} catch (error) {
  failing('starts Chromium with the browser entries', error);
}

if (harness) {
  const started = harness;
  afterAll(() => started.close());
  for (const name of Object.keys(entries)) {
    let suite: BrowserSuite | undefined;
    let error: unknown;
    try {
      suite = await started.openSuite(name);
      if (suite.tests.length === 0) throw new Error(`entry "${name}" registered no tests`);
    } catch (e) {
      error = e;
    }
    describe(`in Chromium: ${name}`, () => {
      if (!suite) return failing('loads its tests', error);
      const loaded = suite;
      for (const test of loaded.tests) it(test, () => loaded.check(test), timeout);
      afterAll(() => loaded.finish(), timeout);
    });
  }
}
