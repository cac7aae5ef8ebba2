/**
 * The part of vitest's API our shared suites use (`describe`, `it`/`test`, the four hooks, `expect`),
 * for running them inside a browser page. The harness bundles every browser entry with `vitest`
 * aliased to this file; the page then exposes the registered tests as `globalThis.__browserSuite`
 * (`protocol.ts`), and the Node side runs them one at a time, each as a vitest test of its own.
 *
 * `expect` is vitest's: `@vitest/expect`'s chai plugins, put together the way vitest does it
 * (`createExpect` in vitest/dist), so messages, diffs and asymmetric matchers read the same.
 * Hooks follow vitest's defaults (`sequence.hooks: 'stack'`): `before*` in the order they were
 * defined, outer suites first; `after*` in reverse, inner suites first; a function returned by
 * `beforeAll`/`beforeEach` runs as its cleanup. One difference: when a `beforeAll` hook throws, the
 * tests under it fail with its error (vitest marks them skipped; here nothing may pass unnoticed).
 * Anything else vitest offers is absent on purpose: an entry using it fails to bundle (`vi`: esbuild's
 * "No matching export") or to load (`it.skip is not a function`) instead of running differently.
 */
import type { ExpectStatic } from '@vitest/expect';
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  ChaiStyleAssertions,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  chai,
  customMatchers,
  getState,
  setState,
} from '@vitest/expect';
// @vitest/expect's own dependency, pinned to the same version: it renders the diff vitest prints.
import { processError } from '@vitest/utils/error';
import { DEFAULT_TIMEOUT_MS, type BrowserError, type BrowserGlobals, type BrowserSuiteApi, type BrowserTestResult } from './protocol.js';

type Awaitable<T> = T | PromiseLike<T>;

/** vitest's `expect`, without what needs its runner (snapshots, `poll`, `soft`). */
export interface ShimExpect extends ExpectStatic {
  /** Fails the test unless exactly `count` assertions ran in it. */
  assertions(count: number): void;
  /** Fails the test unless at least one assertion ran in it. */
  hasAssertions(): void;
  /** Fails: the line must not be reached. */
  unreachable(message?: string): never;
}

/** What tests and `beforeEach`/`afterEach` hooks receive (the part of vitest's context we have). */
export interface ShimTestContext {
  expect: ShimExpect;
  task: { name: string; fullName: string };
}

/** A per-test timeout in ms, or vitest's options object. */
export type TestOptions = number | { timeout?: number };
type TestFn = (context: ShimTestContext) => Awaitable<unknown>;
/** A `beforeEach`/`afterEach` callback; what a `before*` hook returns, when a function, is its cleanup. */
type EachHookFn = (context: ShimTestContext) => Awaitable<unknown>;
/** A `beforeAll`/`afterAll` callback. */
type AllHookFn = () => Awaitable<unknown>;
type Cleanup = () => Awaitable<unknown>;

interface Hook<F> {
  fn: F;
  timeout: number;
}

interface Suite {
  name: string;
  parent: Suite | undefined;
  children: (Suite | Test)[];
  hooks: {
    beforeAll: Hook<AllHookFn>[];
    afterAll: Hook<AllHookFn>[];
    beforeEach: Hook<EachHookFn>[];
    afterEach: Hook<EachHookFn>[];
  };
  /** While the suite runs (its beforeAll hooks ran): its tests still to run before its afterAll. */
  pending?: Set<Test>;
  /** What its beforeAll hooks threw; every test below it fails with it. */
  beforeAllFailure?: { error: unknown };
  /** Functions its beforeAll hooks returned, run after its afterAll hooks. */
  cleanups: Cleanup[];
}

interface Test {
  name: string;
  fullName: string;
  fn: TestFn;
  timeout: number;
  suite: Suite;
}

// ---------------------------------------------------------------------------------------------
// expect

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(ChaiStyleAssertions);
chai.use(JestAsymmetricMatchers);

export const expect = ((value: unknown, message?: string) => {
  const { assertionCalls } = getState(expect);
  setState({ assertionCalls: assertionCalls + 1 }, expect);
  return chai.expect(value, message);
}) as unknown as ShimExpect;
Object.assign(expect, chai.expect);
Object.assign(expect, (globalThis as unknown as Record<symbol, object>)[ASYMMETRIC_MATCHERS_OBJECT]);
expect.getState = () => getState(expect);
expect.setState = (state) => setState(state, expect);
// JestExtend adds `extend(expect, matchers)` to chai.expect (untyped there; vitest calls it the same way).
type ChaiExtend = { extend(target: ShimExpect, matchers: Parameters<ShimExpect['extend']>[0]): void };
expect.extend = (matchers) => (chai.expect as unknown as ChaiExtend).extend(expect, matchers);
expect.assert = chai.assert;
expect.unreachable = (message?: string) => chai.assert.fail(`expected${message ? ` "${message}" ` : ' '}not to be reached`);
expect.assertions = (count: number) => {
  const errorGen = () => new Error(`expected number of assertions to be ${count}, but got ${expect.getState().assertionCalls}`);
  expect.setState({ expectedAssertionsNumber: count, expectedAssertionsNumberErrorGen: errorGen });
};
expect.hasAssertions = () => {
  expect.setState({ isExpectingAssertions: true, isExpectingAssertionsError: new Error('expected any number of assertion, but got none') });
};
expect.extend(customMatchers);
// Asymmetric matchers and `expect.extend` find the current expect through this global.
Object.defineProperty(globalThis, GLOBAL_EXPECT, { value: expect, writable: true, configurable: true });

export const assert = chai.assert;

function resetAssertionCounts(test: Test): void {
  expect.setState({
    assertionCalls: 0,
    isExpectingAssertions: false,
    isExpectingAssertionsError: null,
    expectedAssertionsNumber: null,
    expectedAssertionsNumberErrorGen: null,
    currentTestName: test.fullName,
  });
}

function checkAssertionCounts(): void {
  const state = expect.getState();
  if (state.expectedAssertionsNumber != null && state.assertionCalls !== state.expectedAssertionsNumber) {
    throw state.expectedAssertionsNumberErrorGen?.() ?? new Error('unexpected number of assertions');
  }
  if (state.isExpectingAssertions && state.assertionCalls === 0) throw state.isExpectingAssertionsError ?? new Error('expected assertions');
}

// ---------------------------------------------------------------------------------------------
// Registration

const newSuite = (name: string, parent: Suite | undefined): Suite => ({
  name,
  parent,
  children: [],
  hooks: { beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] },
  cleanups: [],
});

const root = newSuite('', undefined);
let current = root;
let collected = false;
const tests = new Map<string, Test>();

function assertCollecting(what: string): void {
  if (collected) throw new Error(`${what} was called after the tests were collected (inside a test or a hook?)`);
}

function timeoutOf(options: TestOptions | undefined): number {
  const timeout = typeof options === 'number' ? options : options?.timeout;
  return timeout ?? DEFAULT_TIMEOUT_MS;
}

function pathOf(suite: Suite): Suite[] {
  const path: Suite[] = [];
  for (let s: Suite | undefined = suite; s; s = s.parent) path.unshift(s);
  return path;
}

function labelOf(suite: Suite): string {
  return suite === root ? 'the file' : `"${pathOf(suite).slice(1).map((s) => s.name).join(' > ')}"`;
}

function defineSuite(name: string, factory: () => unknown): void {
  assertCollecting('describe()');
  const suite = newSuite(name, current);
  current.children.push(suite);
  current = suite;
  try {
    const result = factory();
    // Tests registered after an await would land in whichever suite is current then.
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      throw new Error(`describe("${name}"): the browser shim supports synchronous describe callbacks only`);
    }
  } finally {
    current = suite.parent ?? root;
  }
}

function defineTest(name: string, fnOrOptions: TestFn | TestOptions | undefined, fnOrTimeout?: TestFn | TestOptions): void {
  assertCollecting('it()');
  // vitest takes (name, fn, options) and (name, options, fn).
  const [fn, options] = typeof fnOrOptions === 'function' ? [fnOrOptions, fnOrTimeout as TestOptions | undefined] : [fnOrTimeout, fnOrOptions];
  if (typeof fn !== 'function') throw new Error(`it("${name}"): the browser shim needs a test function (it.todo and friends are not supported)`);
  const fullName = [...pathOf(current).slice(1).map((s) => s.name), name].join(' > ');
  let unique = fullName;
  for (let n = 2; tests.has(unique); n++) unique = `${fullName} (${n})`;
  const test: Test = { name, fullName: unique, fn, timeout: timeoutOf(options), suite: current };
  current.children.push(test);
  tests.set(unique, test);
}

function display(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'function') return value.name || 'function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** vitest's `.each` name formatting: printf-style `%s %d %i %f %j %o %O %#`, and `$key` for object rows. */
function formatEachName(template: string, args: readonly unknown[], index: number): string {
  const [only] = args;
  let name = template;
  if (args.length === 1 && only !== null && typeof only === 'object' && !Array.isArray(only)) {
    name = name.replace(/\$([\w.]+)/g, (whole, path: string) => {
      let value: unknown = only;
      for (const key of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
      // vitest quotes strings here (and only here).
      return value === undefined ? whole : typeof value === 'string' ? `'${value}'` : display(value);
    });
  }
  let at = 0;
  return name.replace(/%[sdifjoO#%]/g, (spec) => {
    if (spec === '%%') return '%';
    if (spec === '%#') return String(index);
    const value = args[at++];
    if (spec === '%d' || spec === '%f') return String(Number(value));
    if (spec === '%i') return String(Math.trunc(Number(value)));
    return spec === '%s' ? String(value) : display(value);
  });
}

type EachFn = (...args: never[]) => Awaitable<unknown>;
/** `.each(cases)(name, fn, options?)`: an array row is spread into the arguments, anything else is the one argument. */
type Each = (cases: readonly unknown[]) => (name: string, fn: EachFn, options?: TestOptions) => void;

function eachOf(define: (name: string, fn: () => Awaitable<unknown>, options?: TestOptions) => void): Each {
  return (cases) => (name, fn, options) => {
    cases.forEach((row, index) => {
      const args = Array.isArray(row) ? row : [row];
      define(formatEachName(name, args, index), () => (fn as (...a: unknown[]) => Awaitable<unknown>)(...args), options);
    });
  };
}

/** vitest's `describe`: a suite; `describe.each` too. */
export const describe: ((name: string, factory: () => unknown) => void) & { each: Each } = Object.assign(defineSuite, {
  each: eachOf((name, fn) => defineSuite(name, fn)),
});
export const suite = describe;

/** vitest's `it` / `test`, with `(name, fn, timeout | { timeout })`, `(name, options, fn)` and `.each`. */
export const it: {
  (name: string, fn: TestFn, options?: TestOptions): void;
  (name: string, options: TestOptions, fn: TestFn): void;
  each: Each;
} = Object.assign(defineTest, { each: eachOf((name, fn, options) => defineTest(name, fn, options)) });
export const test = it;

function hook<K extends keyof Suite['hooks']>(kind: K) {
  return (fn: Suite['hooks'][K][number]['fn'], timeout?: number): void => {
    assertCollecting(`${kind}()`);
    (current.hooks[kind] as Hook<typeof fn>[]).push({ fn, timeout: timeout ?? DEFAULT_TIMEOUT_MS });
  };
}
/** vitest's hooks, with an optional timeout in ms. */
export const beforeAll = hook('beforeAll');
export const afterAll = hook('afterAll');
export const beforeEach = hook('beforeEach');
export const afterEach = hook('afterEach');

// ---------------------------------------------------------------------------------------------
// Running

/** Errors nobody caught (`unhandledrejection`, uncaught exceptions): vitest fails the run for them. */
const unhandled: unknown[] = [];
globalThis.addEventListener('unhandledrejection', (event) => unhandled.push(event.reason));
globalThis.addEventListener('error', (event) => unhandled.push(event.error ?? event.message));

function textOf(value: unknown, key: string): string | undefined {
  const v = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value); // e.g. an object without a prototype
  }
}

/** An error as it leaves the page, with vitest's diff and the chain of causes in the message. Never throws. */
function toBrowserError(error: unknown, where?: string): BrowserError {
  // Read before processError, which replaces `cause` with a serialised copy.
  let causes = '';
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    causes += `\n  caused by ${cause instanceof Error ? `${cause.name}: ${cause.message}` : safeString(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  let processed: unknown;
  try {
    processed = processError(error);
  } catch {
    processed = undefined;
  }
  const message = (textOf(processed, 'message') ?? (error instanceof Error ? error.message : safeString(error))) + causes;
  return {
    name: textOf(processed, 'name') ?? (error instanceof Error ? error.name : 'thrown value'),
    message: where ? `${where}: ${message}` : message,
    stack: textOf(processed, 'stack') ?? (error instanceof Error ? error.stack : undefined),
    diff: textOf(processed, 'diff'),
  };
}

async function withTimeout<T>(fn: () => Awaitable<T>, timeout: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(fn),
      new Promise<never>((_, reject) => {
        if (timeout > 0 && Number.isFinite(timeout)) timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeout} ms`)), timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function testsIn(suite: Suite): Test[] {
  return suite.children.flatMap((child) => ('children' in child ? testsIn(child) : [child]));
}

async function startSuite(suite: Suite): Promise<void> {
  suite.pending = new Set(testsIn(suite));
  suite.beforeAllFailure = undefined;
  suite.cleanups = [];
  for (const h of suite.hooks.beforeAll) {
    try {
      const cleanup = await withTimeout(h.fn, h.timeout, `beforeAll hook of ${labelOf(suite)}`);
      if (typeof cleanup === 'function') suite.cleanups.push(cleanup as Cleanup);
    } catch (error) {
      suite.beforeAllFailure = { error };
      return;
    }
  }
}

async function endSuite(suite: Suite, errors: BrowserError[]): Promise<void> {
  suite.pending = undefined;
  const where = `afterAll hook of ${labelOf(suite)}`;
  try {
    for (const h of [...suite.hooks.afterAll].reverse()) await withTimeout(h.fn, h.timeout, where);
    for (const cleanup of suite.cleanups.reverse()) await withTimeout(cleanup, DEFAULT_TIMEOUT_MS, where);
  } catch (error) {
    errors.push(toBrowserError(error, where));
  }
  suite.cleanups = [];
}

/**
 * Lets the event loop deliver pending `unhandledrejection` events before they are counted. Chromium
 * queues them after the task that left the rejection unhandled: one timer turn can come first.
 */
const settle = async () => {
  for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
};

function takeUnhandled(errors: BrowserError[], when: string): void {
  for (const error of unhandled.splice(0)) errors.push(toBrowserError(error, `unhandled error ${when}`));
}

async function runTest(test: Test): Promise<BrowserTestResult> {
  const started = performance.now();
  const errors: BrowserError[] = [];
  takeUnhandled(errors, 'before this test (left by an earlier test or hook)');
  const chain = pathOf(test.suite);

  let ready = true;
  for (const suite of chain) {
    if (!suite.pending) await startSuite(suite);
    if (suite.beforeAllFailure) {
      errors.push(toBrowserError(suite.beforeAllFailure.error, `beforeAll hook of ${labelOf(suite)}`));
      ready = false;
      break;
    }
  }

  if (ready) {
    const context: ShimTestContext = { expect, task: { name: test.name, fullName: test.fullName } };
    const cleanups: Cleanup[] = [];
    resetAssertionCounts(test);
    try {
      for (const suite of chain) {
        for (const h of suite.hooks.beforeEach) {
          const cleanup = await withTimeout(() => h.fn(context), h.timeout, `beforeEach hook of ${labelOf(suite)}`);
          if (typeof cleanup === 'function') cleanups.push(cleanup as Cleanup);
        }
      }
      await withTimeout(() => test.fn(context), test.timeout, `test "${test.fullName}"`);
      checkAssertionCounts();
    } catch (error) {
      errors.push(toBrowserError(error));
    }
    try {
      for (const suite of [...chain].reverse()) {
        for (const h of [...suite.hooks.afterEach].reverse()) {
          await withTimeout(() => h.fn(context), h.timeout, `afterEach hook of ${labelOf(suite)}`);
        }
      }
      for (const cleanup of cleanups.reverse()) await withTimeout(cleanup, DEFAULT_TIMEOUT_MS, 'beforeEach cleanup');
    } catch (error) {
      errors.push(toBrowserError(error, 'afterEach'));
    }
  }

  // A suite's afterAll runs once the last of its tests has run, inner suites first.
  for (const suite of [...chain].reverse()) {
    if (!suite.pending) continue;
    suite.pending.delete(test);
    if (suite.pending.size === 0) await endSuite(suite, errors);
  }

  await settle();
  takeUnhandled(errors, 'during this test');
  return { ok: errors.length === 0, durationMs: performance.now() - started, errors };
}

async function finish(): Promise<BrowserTestResult> {
  const started = performance.now();
  const errors: BrowserError[] = [];
  const end = async (suite: Suite): Promise<void> => {
    for (const child of suite.children) if ('children' in child) await end(child);
    if (suite.pending) await endSuite(suite, errors);
  };
  await end(root);
  await settle();
  takeUnhandled(errors, 'after the tests');
  return { ok: errors.length === 0, durationMs: performance.now() - started, errors };
}

// One test at a time, even if the Node side asks for two at once: they share the page's state.
let queue: Promise<unknown> = Promise.resolve();
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn);
  queue = next.catch(() => undefined);
  return next;
}

const api: BrowserSuiteApi = {
  list() {
    collected = true;
    return [...tests.keys()];
  },
  run(name) {
    collected = true;
    const test = tests.get(name);
    if (!test) {
      return Promise.resolve({ ok: false, durationMs: 0, errors: [{ name: 'Error', message: `no browser test is named "${name}"` }] });
    }
    return serially(() => runTest(test));
  },
  finish() {
    collected = true;
    return serially(finish);
  },
};
(globalThis as typeof globalThis & BrowserGlobals).__browserSuite = api;
