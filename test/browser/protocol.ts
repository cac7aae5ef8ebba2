/**
 * What crosses between a browser page and the Node-side harness: the page's globals (set by the
 * vitest shim and by the page's bootstrap script) and the results they hand back. Both sides import
 * it, so it holds nothing that belongs to either environment.
 */

/** The default timeout of a browser test and of each of its hooks, as `vitest.config.ts` has it in Node. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** An error as it leaves the page: plain strings, since the objects themselves cannot cross. */
export interface BrowserError {
  /** `AssertionError`, `TypeError`, … */
  name: string;
  message: string;
  /** The browser's stack (URLs of the bundle; the harness maps them to sources). */
  stack?: string;
  /** The expected/received diff of a failed assertion, rendered as vitest renders it. */
  diff?: string;
}

/** The outcome of one browser test, its hooks included. */
export interface BrowserTestResult {
  ok: boolean;
  durationMs: number;
  /** Every error, in the order they happened (the test body's first, then hooks'); empty when `ok`. */
  errors: BrowserError[];
}

/** What the vitest shim exposes as `globalThis.__browserSuite` once an entry has registered its tests. */
export interface BrowserSuiteApi {
  /** The full names (`describe > describe > it`) of the registered tests, in registration order. */
  list(): string[];
  /** Runs one test with the hooks vitest would run around it; never rejects. */
  run(name: string): Promise<BrowserTestResult>;
  /** Runs the `afterAll` hooks of the suites that started but did not run all their tests. */
  finish(): Promise<BrowserTestResult>;
}

/** Where the page's bootstrap script reports how importing the entry module went. */
export type BrowserEntryState = { state: 'loading' } | { state: 'ready' } | { state: 'failed'; error: string };

/** The globals above, for typed access inside `page.evaluate` callbacks. */
export interface BrowserGlobals {
  __browserSuite?: BrowserSuiteApi;
  __browserEntry?: BrowserEntryState;
}
