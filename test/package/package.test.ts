/**
 * The package as users get it: `npm pack` (of the build `npm test` just made), installed from the
 * tarball into a folder of its own outside the repository, and used from there. Node ESM and CJS
 * load every subpath; every error class names itself and `instanceof` holds across the entries;
 * tsc compiles a consumer under moduleResolution node16 and bundler; a Vite production build and
 * the ./browser bundle run in Chromium under a strict CSP; the tarball holds what the README and docs/ say.
 * The consumer's files are in test/package/consumer/.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../browser/harness.js';
import { startStaticServer, type StaticServer } from '../browser/server.js';
import { ensureBuilt } from '../crash/built.js';
import { repoRoot } from '../helpers/go-db.js';

const CONSUMER = join(repoRoot, 'test/package/consumer');
const NAME = '@platform-agent/store';
const STRICT_CSP = "script-src 'self' 'wasm-unsafe-eval'";

/** The error classes the package exports, and each one's code (StoreError built with 'SQL'). */
const CODES: Readonly<Record<string, string>> = {
  StoreError: 'SQL',
  ClosedError: 'CLOSED',
  NotFoundError: 'NOT_FOUND',
  ValidationError: 'VALIDATION',
  SchemaVersionError: 'SCHEMA_VERSION',
  CorruptDatabaseError: 'CORRUPT',
  UnsupportedError: 'UNSUPPORTED',
  TransactionError: 'TRANSACTION',
  SqlError: 'SQL',
  ClockError: 'CLOCK',
  LockError: 'LOCKED',
  PersistenceError: 'PERSISTENCE',
  ReadOnlyError: 'READ_ONLY',
  SqliteJournalError: 'SQLITE_JOURNAL',
  LeaseLostError: 'LEASE_LOST',
  ConflictError: 'CONFLICT',
};

/** What describeErrors (consumer/error-checks.mjs) must report of one loaded copy of the package. */
const EVERY_CLASS_NAMES_ITSELF = Object.fromEntries(
  Object.entries(CODES).map(([name, code]) => [
    name,
    { name, prefix: name, stackStart: true, code, instanceOfOwn: true, instanceOfStoreError: true, instanceOfError: true, isStoreError: true },
  ]),
);

/** What crossInstanceof must report between two copies: each class is its own class in the other copy, and no other. */
const EVERY_CLASS_ACROSS = Object.fromEntries(Object.keys(CODES).map((name) => [name, { sameClass: true, storeError: true, isStoreError: true, alsoInstanceOf: [] }]));

const VALIDATION_PRINTED = /^ValidationError: \[@platform-agent\/store\] invalid task: id: /;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeout = 180_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
  });
}

async function succeeds(command: string, args: readonly string[], cwd: string): Promise<string> {
  const ran = await run(command, args, cwd);
  if (ran.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${ran.code}\n${ran.stderr}\n${ran.stdout}`);
  return ran.stdout;
}

/** The last line a consumer script printed, as JSON; the lines before it as text. */
function report<T>(stdout: string): { lines: string[]; data: T } {
  const lines = stdout.trim().split('\n');
  return { lines: lines.slice(0, -1), data: JSON.parse(lines.at(-1) ?? 'null') as T };
}

let work: string;
let app: string;
let installed: string;
let tarballFiles: string[];
let packageJson: { exports: Record<string, unknown>; [key: string]: unknown };

beforeAll(async () => {
  ensureBuilt();
  // Outside the repository: nothing may resolve from its node_modules.
  work = mkdtempSync(join(tmpdir(), 'pa-package-'));
  const packed = JSON.parse(await succeeds('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], repoRoot)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const [tarball] = packed;
  if (!tarball) throw new Error('npm pack reported no tarball');
  tarballFiles = tarball.files.map((f) => f.path).sort();
  app = join(work, 'app');
  cpSync(CONSUMER, app, { recursive: true });
  // The package's own dependencies, as npm resolves them for a user; from npm's cache when it has them.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [NAME]: `file:../${tarball.filename.replace(/^.*\//, '')}` } }, null, 2));
  await succeeds('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], app);
  installed = join(app, 'node_modules', NAME);
  packageJson = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as typeof packageJson;
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds dist/, README.md, LICENSE and package.json: no sources, no tests, the WASM once', () => {
    expect(tarballFiles.filter((path) => !/^(dist\/|README\.md$|LICENSE$|package\.json$)/.test(path))).toEqual([]);
    expect(tarballFiles).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.cjs', 'dist/browser.js', 'dist/cli/agent-store.js', 'dist/dashboard/index.html', 'dist/dashboard/app.js']));
    expect(tarballFiles.filter((path) => /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.|\.ts$(?<!\.d\.ts)|\.tgz$|\.db$/.test(path) && !/\.d\.c?ts$/.test(path))).toEqual([]);
    expect(tarballFiles.filter((path) => path.endsWith('.wasm'))).toEqual(['dist/sql-wasm.wasm']);
    // What the files list says is what got installed.
    for (const path of tarballFiles) expect(existsSync(join(installed, path)), path).toBe(true);
  });

  it('every file package.json points at is in it', () => {
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value.replace(/^\.\//, ''));
      else if (value && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect(packageJson.exports);
    collect([packageJson.main, packageJson.module, packageJson.types, packageJson.bin]);
    expect(targets.length).toBeGreaterThan(30);
    expect(targets.filter((path) => !tarballFiles.includes(path))).toEqual([]);
  });

  it('every source map carries the sources it names (none in the tarball), and every sourceMappingURL names a map in it', () => {
    const maps = tarballFiles.filter((path) => path.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(installed, path), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      const pointingNowhere = map.sources.filter((source, i) => typeof map.sourcesContent?.[i] !== 'string' && !tarballFiles.includes(posix.join(posix.dirname(path), source)));
      expect(pointingNowhere, path).toEqual([]);
    }
    for (const path of tarballFiles.filter((p) => /\.(c?js)$/.test(p))) {
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(installed, path), 'utf8'))?.[1];
      if (url !== undefined) expect(tarballFiles, `${path} -> ${url}`).toContain(posix.join(posix.dirname(path), url));
    }
  });

  it("holds every dist/ path the README and docs/ name; their relative links resolve in the repository and the README's images are absolute", async () => {
    const readme = readFileSync(join(installed, 'README.md'), 'utf8');
    // docs/ is not in the package (the README links to it in the repository), but what it names is.
    const docs = readdirSync(join(repoRoot, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => ({ file: `docs/${f}`, text: readFileSync(join(repoRoot, 'docs', f), 'utf8') }));
    const pages = [{ file: 'README.md', text: readme }, ...docs];
    const named = [...new Set(pages.flatMap(({ text }) => [...text.matchAll(/`(?:@platform-agent\/store\/|node_modules\/@platform-agent\/store\/)?(dist\/[\w./-]+?)`/g)].map((m) => m[1] as string)))];
    expect(named.length).toBeGreaterThan(5);
    for (const path of named) {
      const file = path.replace(/\/$/, '');
      expect(tarballFiles.some((p) => p === file || p.startsWith(`${file}/`)), `the docs name ${path}`).toBe(true);
    }
    // The registry's page resolves the README's relative links against the repository (package.json
    // `repository`); a page of docs/ resolves its own against docs/.
    const tracked = new Set((await succeeds('git', ['ls-files'], repoRoot)).split('\n'));
    const linksOf = (text: string) => [...text.matchAll(/(!?)\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => ({ image: m[1] === '!', target: m[2] as string }));
    for (const { file, text } of pages) {
      const relative = linksOf(text).filter((l) => !/^[a-z]+:/.test(l.target) && !l.target.startsWith('#'));
      if (file === 'README.md') expect(relative.filter((l) => l.image)).toEqual([]);
      for (const { target } of relative) {
        const path = posix.normalize(posix.join(posix.dirname(file), target.split('#')[0]!)).replace(/\/$/, '');
        expect([...tracked].some((p) => p === path || p.startsWith(`${path}/`)), `${file} links ${target}`).toBe(true);
      }
    }
    const images = linksOf(readme).filter((l) => l.image);
    expect(images.length).toBeGreaterThan(0);
    for (const { target } of images) {
      const match = /^https:\/\/raw\.githubusercontent\.com\/platform-agent\/store\/HEAD\/(.+)$/.exec(target);
      expect(match, target).not.toBeNull();
      expect(tracked.has(match![1]!), `${target} is a file of the repository`).toBe(true);
    }
  });

  it('says where it comes from and under what license', () => {
    expect(packageJson).toMatchObject({
      license: 'MIT',
      repository: { type: 'git', url: 'git+https://github.com/platform-agent/store.git' },
      homepage: 'https://github.com/platform-agent/store#readme',
      bugs: { url: 'https://github.com/platform-agent/store/issues' },
    });
    const license = readFileSync(join(installed, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the @platform-agent\/store authors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });
});

describe('in Node, installed', () => {
  interface EntryReport {
    subpaths: Record<string, { exports?: string[]; error?: string; file?: boolean; wasm?: boolean; name?: string }>;
    errors: Record<string, unknown>;
    api: { name: string; instanceOf: boolean };
  }
  let esm: { lines: string[]; data: EntryReport };
  let cjs: { lines: string[]; data: EntryReport };

  beforeAll(async () => {
    [esm, cjs] = await Promise.all([succeeds(process.execPath, ['esm.mjs'], app), succeeds(process.execPath, ['cjs.cjs'], app)]).then((out) => out.map((o) => report<EntryReport>(o)) as [typeof esm, typeof cjs]);
  }, 120_000);

  it('ESM: every subpath in exports resolves and loads', () => {
    expect(Object.keys(esm.data.subpaths).sort()).toEqual(Object.keys(packageJson.exports).sort());
    for (const [subpath, result] of Object.entries(esm.data.subpaths)) {
      expect(result.error, subpath).toBeUndefined();
      if (subpath.endsWith('.wasm')) expect(result).toEqual({ file: true, wasm: true });
      else if (subpath.endsWith('.json')) expect(result).toEqual({ name: NAME });
      else expect(result.exports?.length, subpath).toBeGreaterThan(0);
    }
    expect(esm.data.subpaths['.']?.exports).toEqual(expect.arrayContaining(['openStore', 'isStoreError', 'TransactionError', 'ClockError']));
  });

  it('CJS: every subpath with a require condition loads through require(), with the same exports as ESM', () => {
    const required = Object.entries(packageJson.exports).filter(([, target]) => typeof target === 'object' && target !== null && 'require' in target).map(([subpath]) => subpath);
    expect(required.length).toBeGreaterThanOrEqual(6);
    expect(Object.keys(cjs.data.subpaths).sort()).toEqual(required.sort());
    for (const subpath of required) expect(cjs.data.subpaths[subpath], subpath).toEqual({ exports: esm.data.subpaths[subpath]?.exports });
  });

  it.each(['ESM', 'CJS'])('%s: every error class names itself, String(err) starts with the name, a real validation error prints ValidationError', (entry) => {
    const { lines, data } = entry === 'ESM' ? esm : cjs;
    expect(data.errors).toEqual(EVERY_CLASS_NAMES_ITSELF);
    expect(lines[0]).toMatch(VALIDATION_PRINTED);
    expect(data.api).toEqual({ name: 'ValidationError', instanceOf: true });
  });

  it('instanceof across the ESM entry, the CJS entry and the ./browser bundle in one process; a LockError thrown by one copy is the other copy’s LockError', async () => {
    const { data } = report<{ distinct: boolean; cross: Record<string, unknown>; locked: Record<string, unknown>; pid: number }>(await succeeds(process.execPath, ['copies.mjs'], app));
    expect(data.distinct).toBe(true);
    expect(Object.keys(data.cross).sort()).toEqual(['browser->cjs', 'browser->esm', 'cjs->browser', 'cjs->esm', 'esm->browser', 'esm->cjs']);
    for (const [pair, result] of Object.entries(data.cross)) expect(result, pair).toEqual(EVERY_CLASS_ACROSS);
    expect(data.locked).toEqual({
      printed: expect.stringMatching(/^LockError: \[@platform-agent\/store\] .* is locked by process \d+/),
      sameClassInCjs: true,
      esmLockError: true,
      esmStoreError: true,
      browserLockError: true,
      notValidation: true,
      holderPid: data.pid,
    });
  });

  it('the agent-store command runs from node_modules/.bin', async () => {
    const ran = await run(join(app, 'node_modules/.bin/agent-store'), ['--help'], app);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^agent-store: /);
  });
});

describe('types, compiled by tsc against the installed package', () => {
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  it.each(['node16', 'bundler'])('moduleResolution %s: every subpath, code narrowing after isStoreError, no errors in the package’s .d.ts', async (resolution) => {
    const ran = await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`, '--listFilesOnly'], app);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    // The consumer's imports were resolved in the installed package, ESM and CJS declarations alike.
    const files = ran.stdout.split('\n').filter((f) => f.includes(`/node_modules/${NAME}/`));
    expect(files.some((f) => f.endsWith('/dist/index.d.ts'))).toBe(true);
    if (resolution === 'node16') expect(files.some((f) => f.endsWith('/dist/index.d.cts'))).toBe(true);
    const checked = await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], app);
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.code).toBe(0);
  });

  it('a type error in the consumer is reported (the check can fail)', async () => {
    writeFileSync(join(app, 'types-broken.ts'), "import { LockError } from '@platform-agent/store';\nexport const code: 'VALIDATION' = new LockError('x', { description: 'y' }).code;\n");
    writeFileSync(join(app, 'tsconfig.broken.json'), JSON.stringify({ extends: './tsconfig.bundler.json', files: ['types-broken.ts'] }));
    const ran = await run(process.execPath, [tsc, '-p', 'tsconfig.broken.json'], app);
    expect(ran.code).not.toBe(0);
    expect(ran.stdout).toMatch(/Type '"LOCKED"' is not assignable to type '"VALIDATION"'/);
  });
});

describe('in Chromium, under Content-Security-Policy: ' + STRICT_CSP, () => {
  let browser: Browser;
  const servers: StaticServer[] = [];

  beforeAll(async () => {
    const executablePath = chromiumPath();
    if (!existsSync(executablePath)) throw new Error(`Chromium is not installed (no ${executablePath}); npm test installs it as root (apt-get install -y chromium), or set CHROMIUM_PATH`);
    browser = await chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], headless: true });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await browser?.close();
  });

  interface PageReport {
    done: boolean;
    failure?: string;
    printed?: string;
    errors?: Record<string, unknown>;
    cross?: Record<string, unknown>;
  }

  /** Serves `root` under the strict CSP, opens `/index.html`, and returns what the page reported and logged. */
  async function visit(root: string): Promise<{ page: Page; data: PageReport; console: string[] }> {
    const server = await startStaticServer(root, { headers: { 'content-security-policy': STRICT_CSP } });
    servers.push(server);
    const page = await (await browser.newContext()).newPage();
    const console: string[] = [];
    page.on('console', (message) => console.push(message.text()));
    page.on('pageerror', (error) => console.push(`[uncaught] ${error.stack ?? String(error)}`));
    await page.goto(`${server.origin}/index.html`);
    await page.waitForFunction(() => (globalThis as unknown as { report?: PageReport }).report?.done === true, undefined, { timeout: 30_000 });
    const data = await page.evaluate(() => (globalThis as unknown as { report: PageReport }).report);
    return { page, data, console };
  }

  const violations = (page: Page) => page.evaluate(() => (globalThis as unknown as { violations: string[] }).violations);

  it('a Vite production build of an app prints ValidationError: …; instanceof holds between its bundled copy and ./browser', async () => {
    const { build } = await import('vite');
    const out = join(work, 'vite-dist');
    mkdirSync(join(app, 'vite-app/public'), { recursive: true });
    cpSync(join(app, 'csp-listen.js'), join(app, 'vite-app/public/csp-listen.js'));
    await build({ root: join(app, 'vite-app'), configFile: false, logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
    const bundles = readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js'));
    expect(bundles.length).toBeGreaterThan(0);
    const code = bundles.map((f) => readFileSync(join(out, 'assets', f), 'utf8')).join('\n');
    // Minified: the classes lost their names, so only the literal names can say ValidationError.
    expect(code).not.toMatch(/class ValidationError\b/);
    expect(readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
    mkdirSync(join(out, 'vendor'));
    cpSync(join(installed, 'dist/browser.js'), join(out, 'vendor/browser.js'));

    const { page, data, console } = await visit(out);
    expect(data.failure).toBeUndefined();
    expect(data.printed).toMatch(VALIDATION_PRINTED);
    expect(console.filter((line) => line.startsWith('ValidationError: '))).toEqual([data.printed]);
    expect(data.errors).toEqual(EVERY_CLASS_NAMES_ITSELF);
    expect(data.cross).toEqual({ appToBrowser: EVERY_CLASS_ACROSS, browserToApp: EVERY_CLASS_ACROSS });
    expect(await violations(page)).toEqual([]);
    expect(console.filter((line) => line !== data.printed && /error|refused|violat/i.test(line))).toEqual([]);
  });

  it('the ./browser bundle on a page without a bundler prints ValidationError: …', async () => {
    const site = join(work, 'browser-site');
    cpSync(join(app, 'browser-page'), site, { recursive: true });
    for (const file of ['error-checks.mjs', 'csp-listen.js']) cpSync(join(app, file), join(site, file));
    for (const file of ['browser.js', 'sql-wasm.wasm']) cpSync(join(installed, 'dist', file), join(site, file));

    const { page, data, console } = await visit(site);
    expect(data.failure).toBeUndefined();
    expect(data.printed).toMatch(VALIDATION_PRINTED);
    expect(console.filter((line) => line.startsWith('ValidationError: '))).toEqual([data.printed]);
    expect(data.errors).toEqual(EVERY_CLASS_NAMES_ITSELF);
    expect(await violations(page)).toEqual([]);
    expect(console.filter((line) => line !== data.printed && /error|refused|violat/i.test(line))).toEqual([]);
  });
});
