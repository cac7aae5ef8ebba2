/**
 * Runs browser entries in real Chromium: bundles them with esbuild (`vitest` aliased to the shim),
 * serves the bundles and sql.js's WASM from 127.0.0.1, and launches Chromium through playwright-core.
 *
 * Every entry `name` becomes a page `/<name>.html` whose bootstrap script imports `/<name>.js` and
 * records how that went, so a page is usable (or its import error known) once `gotoEntry` returns.
 * Pages made in one context share an origin and a profile: IndexedDB, Web Locks and BroadcastChannel
 * reach across them, as across tabs. Every new context starts from an empty profile.
 *
 * ```ts
 * const harness = await startBrowserHarness({ entries: { 'idb-pages': 'test/browser/entries/idb-pages.ts' } });
 * const context = await harness.newContext();
 * const [a, b] = [await harness.openEntry('idb-pages', context), await harness.openEntry('idb-pages', context)];
 * await a.evaluate(() => ...); await a.reload(); await harness.waitForEntry(a); ...
 * await harness.close();
 * ```
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEFAULT_TIMEOUT_MS, type BrowserError, type BrowserGlobals, type BrowserTestResult } from './protocol.js';
import { startStaticServer, type StaticServer } from './server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHIM = fileURLToPath(new URL('./vitest-shim.ts', import.meta.url));
const WASM = join(ROOT, 'node_modules/sql.js/dist/sql-wasm.wasm');

/**
 * How long the Node side waits for one browser test to report back. The page enforces the test's own
 * timeout and its hooks'; this only catches a page that stopped answering (a synchronous endless loop,
 * a crash), so it leaves room for a test, its hooks and a timeout message.
 */
export const BROWSER_RUN_TIMEOUT_MS = 2 * DEFAULT_TIMEOUT_MS + 30_000;

/** Chromium's flags: headless, quiet, no network of its own (nothing to download, no QUIC). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** Where Chromium is looked for: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

const INSTALL_HINT = 'Install Debian\'s Chromium with `apt-get install -y chromium` (npm test does, as root), or point CHROMIUM_PATH at a Chromium or Chrome binary.';

/** What to build and launch. */
export interface BrowserHarnessOptions {
  /**
   * Browser entry modules: page name → source file (relative to the repository root, or absolute).
   * Each is served as `/<name>.js`, loaded by the page `/<name>.html`.
   * @example { 'api-memory': 'test/browser/entries/api-memory.ts' }
   */
  entries: Readonly<Record<string, string>>;
  /** @default chromiumPath() */
  executablePath?: string;
}

/** A running browser, the server of the built entries, and the pages made from them. */
export interface BrowserHarness {
  /** The Chromium instance (for what the helpers below do not cover). */
  readonly browser: Browser;
  /** `http://127.0.0.1:<port>`: every page of every context is on this one origin. */
  readonly origin: string;
  /** The directory served (bundles, their source maps, the pages, `sql-wasm.wasm`); removed by `close()`. */
  readonly buildDir: string;
  /** The absolute URL of a served path, e.g. `url('/sql-wasm.wasm')`. */
  url(path: string): string;
  /** A new browser context: an empty profile of its own, shared by the pages made in it. */
  newContext(): Promise<BrowserContext>;
  /** A blank page in `context` (by default in a new context of its own), its console recorded. */
  newPage(context?: BrowserContext): Promise<Page>;
  /** Navigates `page` to entry `name`'s page and waits until the entry module has run (or throws its error). */
  gotoEntry(page: Page, name: string): Promise<void>;
  /** Waits until the entry module of the page just (re)loaded has run; throws its import error. */
  waitForEntry(page: Page): Promise<void>;
  /** `newPage(context)` then `gotoEntry(page, name)`. */
  openEntry(name: string, context?: BrowserContext): Promise<Page>;
  /** Opens entry `name` (which registers tests through the vitest shim) and lists its tests. */
  openSuite(name: string, context?: BrowserContext): Promise<BrowserSuite>;
  /** What `page` logged so far: console messages, uncaught errors, failed requests, crashes. */
  consoleOf(page: Page): readonly string[];
  /** `text` with the bundle positions in its stack frames replaced by source files and lines. */
  mapStack(text: string): string;
  /** Closes every context and the browser, stops the server and removes the build directory. */
  close(): Promise<void>;
}

/** The tests an entry registered through the vitest shim, in one page. */
export interface BrowserSuite {
  readonly name: string;
  readonly page: Page;
  /** Full test names (`describe > describe > it`), in registration order. */
  readonly tests: readonly string[];
  /** Runs one test in the page, with its hooks, and returns what the page reported. */
  run(test: string): Promise<BrowserTestResult>;
  /**
   * Runs one test and throws when it failed: an Error with the browser's message, vitest's diff,
   * the stack mapped to source files, any further errors and what the page logged meanwhile.
   */
  check(test: string): Promise<void>;
  /** Runs the afterAll hooks still due (tests left unrun); throws like `check` when one fails. */
  finish(): Promise<void>;
}

/** Bundles `entries`, serves them, launches Chromium. Fails with an installation hint when Chromium is missing. */
export async function startBrowserHarness(options: BrowserHarnessOptions): Promise<BrowserHarness> {
  const executablePath = options.executablePath ?? chromiumPath();
  // Checked before building anything, so a missing browser reads as that and nothing else.
  if (!existsSync(executablePath)) throw new Error(`Chromium is not installed (no ${executablePath}); the browser tests need it. ${INSTALL_HINT}`);

  mkdirSync(join(ROOT, 'test-output/browser'), { recursive: true });
  // One directory per harness: vitest runs test files in parallel, each may start its own.
  const buildDir = mkdtempSync(join(ROOT, 'test-output/browser/run-'));
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  try {
    const sourceMaps = await buildEntries(options.entries, buildDir);
    copyFileSync(WASM, join(buildDir, 'sql-wasm.wasm'));
    server = await startStaticServer(buildDir);
    try {
      browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], headless: true });
    } catch (e) {
      throw new Error(`cannot launch Chromium (${executablePath}): ${(e as Error).message}\n${INSTALL_HINT}`, { cause: e });
    }
    return harness(browser, server, buildDir, sourceMaps);
  } catch (e) {
    await browser?.close().catch(() => undefined);
    await server?.close();
    rmSync(buildDir, { recursive: true, force: true });
    throw e;
  }
}

interface LoadedSourceMap {
  map: SourceMap;
  /** Directory the map's relative source paths start from. */
  dir: string;
}

async function buildEntries(entries: Readonly<Record<string, string>>, outdir: string): Promise<Map<string, LoadedSourceMap>> {
  const names = Object.keys(entries);
  if (names.length === 0) throw new Error('startBrowserHarness: no entries to build');
  for (const name of names) {
    if (!/^[\w-][\w.-]*$/.test(name)) throw new Error(`startBrowserHarness: entry name "${name}" must be a plain file name (letters, digits, . _ -)`);
  }
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(names.map((name) => [name, isAbsolute(entries[name]!) ? entries[name]! : resolve(ROOT, entries[name]!)])),
    outdir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    alias: { vitest: SHIM },
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'silent',
  }).catch((e: Error) => {
    throw new Error(`esbuild could not bundle the browser entries: ${e.message}`, { cause: e });
  });
  if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((m) => m.text).join('\n')}`);

  const maps = new Map<string, LoadedSourceMap>();
  for (const name of names) {
    writeFileSync(join(outdir, `${name}.html`), pageHtml(name));
    const mapFile = join(outdir, `${name}.js.map`);
    maps.set(`${name}.js`, { map: new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload), dir: dirname(mapFile) });
  }
  return maps;
}

/** The entry's page: imports the bundle and records the outcome where `waitForEntry` looks. */
function pageHtml(name: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${name}</title>
<link rel="icon" href="data:,">
<script type="module">
globalThis.__browserEntry = { state: 'loading' };
import('./${name}.js').then(
  () => { globalThis.__browserEntry = { state: 'ready' }; },
  (e) => { globalThis.__browserEntry = { state: 'failed', error: (e && e.stack) || String(e) }; },
);
</script></head><body></body></html>
`;
}

function harness(browser: Browser, server: StaticServer, buildDir: string, sourceMaps: Map<string, LoadedSourceMap>): BrowserHarness {
  const { origin } = server;
  const contexts = new Set<BrowserContext>();
  const logs = new WeakMap<Page, string[]>();
  const framePattern = new RegExp(`${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([\\w.-]+\\.js):(\\d+):(\\d+)`, 'g');

  const mapStack = (text: string): string =>
    text.replace(framePattern, (whole, file: string, line: string, column: string) => {
      const loaded = sourceMaps.get(file);
      const entry = loaded?.map.findEntry(Number(line) - 1, Number(column) - 1);
      if (!loaded || !entry || !('originalSource' in entry)) return whole;
      return `${resolve(loaded.dir, entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    });

  const consoleOf = (page: Page): string[] => logs.get(page) ?? [];

  const newContext = async (): Promise<BrowserContext> => {
    const context = await browser.newContext();
    contexts.add(context);
    context.on('close', () => contexts.delete(context));
    return context;
  };

  const newPage = async (context?: BrowserContext): Promise<Page> => {
    const page = await (context ?? (await newContext())).newPage();
    const log: string[] = [];
    logs.set(page, log);
    page.on('console', (message) => log.push(`[console.${message.type()}] ${message.text()}`));
    page.on('pageerror', (error) => log.push(`[uncaught] ${mapStack(error.stack ?? String(error))}`));
    page.on('requestfailed', (request) => log.push(`[request failed] ${request.url()}: ${request.failure()?.errorText ?? '?'}`));
    page.on('crash', () => log.push('[crash] the page crashed'));
    return page;
  };

  const waitForEntry = async (page: Page): Promise<void> => {
    const handle = await page.waitForFunction(
      () => {
        const entry = (globalThis as BrowserGlobals).__browserEntry;
        return entry && entry.state !== 'loading' ? entry : undefined;
      },
      undefined,
      { polling: 20, timeout: DEFAULT_TIMEOUT_MS },
    );
    const state = (await handle.jsonValue()) as NonNullable<BrowserGlobals['__browserEntry']>;
    await handle.dispose();
    if (state.state === 'failed') throw new Error(`the entry of ${page.url()} failed to load: ${mapStack(state.error)}${logText(consoleOf(page))}`);
  };

  const gotoEntry = async (page: Page, name: string): Promise<void> => {
    if (!sourceMaps.has(`${name}.js`)) throw new Error(`no browser entry "${name}" was built (have: ${[...sourceMaps.keys()].join(', ')})`);
    // Not waiting for 'load': waitForEntry waits for what matters, the entry module having run.
    await page.goto(`${origin}/${name}.html`, { waitUntil: 'commit' });
    await waitForEntry(page);
  };

  const openEntry = async (name: string, context?: BrowserContext): Promise<Page> => {
    const page = await newPage(context);
    await gotoEntry(page, name);
    return page;
  };

  const openSuite = async (name: string, context?: BrowserContext): Promise<BrowserSuite> => {
    const page = await openEntry(name, context);
    const tests = await page.evaluate(() => (globalThis as BrowserGlobals).__browserSuite?.list());
    if (!tests) throw new Error(`entry "${name}" registered no tests: does it import its tests through 'vitest'?`);
    return suiteOf(name, page, tests, consoleOf(page), mapStack);
  };

  return {
    browser,
    origin,
    buildDir,
    url: (path) => new URL(path, `${origin}/`).href,
    newContext,
    newPage,
    gotoEntry,
    waitForEntry,
    openEntry,
    openSuite,
    consoleOf,
    mapStack,
    async close() {
      await Promise.allSettled([...contexts].map((context) => context.close()));
      await browser.close().catch(() => undefined);
      await server.close();
      rmSync(buildDir, { recursive: true, force: true });
    },
  };
}

function logText(lines: readonly string[]): string {
  if (lines.length === 0) return '';
  const shown = lines.length > 60 ? [`… ${lines.length - 60} earlier lines`, ...lines.slice(-60)] : lines;
  return `\n\nbrowser console:\n${shown.map((l) => `  ${l}`).join('\n')}`;
}

function suiteOf(name: string, page: Page, tests: readonly string[], log: readonly string[], mapStack: (text: string) => string): BrowserSuite {
  // Set when the page stops answering: the tests after it fail at once instead of waiting in turn.
  let broken: string | undefined;

  const call = async (what: string, evaluate: () => Promise<BrowserTestResult>): Promise<BrowserTestResult> => {
    if (broken) throw new Error(`${name}: not running ${what}: the page stopped answering during ${broken}`);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const from = log.length;
    try {
      return await Promise.race([
        evaluate(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(new Error(`no answer after ${BROWSER_RUN_TIMEOUT_MS} ms`));
          }, BROWSER_RUN_TIMEOUT_MS);
        }),
      ]);
    } catch (e) {
      if (timedOut || page.isClosed()) broken = what;
      throw new Error(`${name}: ${what} did not report back: ${mapStack((e as Error).message)}${logText(log.slice(from))}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  };

  const checked = async (what: string, evaluate: () => Promise<BrowserTestResult>): Promise<void> => {
    const from = log.length;
    const result = await call(what, evaluate);
    if (!result.ok) throw nodeError(result.errors, log.slice(from), mapStack);
  };

  // The page's bootstrap checked that the entry loaded, and openSuite that it registered tests.
  const runInPage = (test: string) => () => page.evaluate((t) => (globalThis as BrowserGlobals).__browserSuite!.run(t), test);
  const finishInPage = () => page.evaluate(() => (globalThis as BrowserGlobals).__browserSuite!.finish());

  return {
    name,
    page,
    tests,
    run: (test) => call(`"${test}"`, runInPage(test)),
    check: (test) => checked(`"${test}"`, runInPage(test)),
    finish: () => checked('the afterAll hooks', finishInPage),
  };
}

function framesOf(stack: string | undefined, mapStack: (text: string) => string): string {
  return (stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .map((line) => mapStack(line))
    .join('\n');
}

/** The Error the Node side throws for a failed browser test; vitest prints its message, diff and stack. */
function nodeError(errors: readonly BrowserError[], log: readonly string[], mapStack: (text: string) => string): Error {
  const [first, ...rest] = errors;
  if (!first) return new Error('the browser test failed without an error');
  const more = rest.map((e) => `\n\nand then ${e.name}: ${e.message}\n${framesOf(e.stack, mapStack)}`).join('');
  const error = new Error(`${first.message}${more}${logText(log)}`);
  error.name = first.name;
  error.stack = `${first.name}: ${error.message}\n${framesOf(first.stack, mapStack)}`;
  if (first.diff) Object.assign(error, { diff: first.diff });
  return error;
}
