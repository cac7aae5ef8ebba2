/**
 * The devtools dashboard (dist/dashboard/) in real Chromium: served by the real `agent-store serve`
 * on a `demo` database (and followed live while another process writes), hosted statically (a
 * picked or dropped `.db` file), and on a browser app's origin (its IndexedDB store). The numbers
 * the page must show come from opening the same file in Node with the built package, not from the
 * page's own code.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Core from '../../src/index.js';
import type * as FsAdapter from '../../adapters/fs.js';
import type * as MemoryAdapter from '../../adapters/memory.js';
import { CHROMIUM_ARGS, chromiumPath } from '../browser/harness.js';
import { startStaticServer, type StaticServer } from '../browser/server.js';
import { ensureBuilt } from '../crash/built.js';
import { repoRoot } from '../helpers/go-db.js';

const CLI = join(repoRoot, 'dist/cli/agent-store.js');
const WRITER = join(repoRoot, 'test/dashboard/writer.mjs');
const HOUR = 3_600_000;
const STATUSES = ['pending', 'running', 'awaiting_approval', 'completed', 'failed', 'cancelled'] as const;
const DEAD_LETTER_STATES = ['due', 'waiting', 'given_up', 'resolved'] as const;
const VIEWPORT = { width: 1280, height: 900 };
const XSS_PARAMS = { note: '<img src=x onerror=alert(1)>' };
const XSS_COMMAND = '<script>alert(2)</script>';

// The built package, typed by its sources (dist/ is built from them; importing it by a computed
// path keeps the typecheck independent of whether dist/ exists yet).
const dist = async <T>(file: string): Promise<T> => (await import(pathToFileURL(join(repoRoot, 'dist', file)).href)) as T;

/** Everything the page should show, read in Node from the database file. */
async function readExpected(path: string) {
  const { openStore } = await dist<typeof Core>('index.js');
  const { createFileAdapter } = await dist<typeof FsAdapter>('adapters/fs.js');
  const store = await openStore({ adapter: createFileAdapter({ path }), readOnly: true });
  try {
    const deadLetters = Object.fromEntries(await Promise.all(DEAD_LETTER_STATES.map(async (state) => [state, await store.listDeadLetters({ state })] as const)));
    return {
      tasks: await store.listTasks(),
      approvals: await store.listApprovals(),
      sessions: await store.listSessionContexts(),
      threads: await store.listThreadSessions(),
      deadLetters: deadLetters as Record<(typeof DEAD_LETTER_STATES)[number], Core.DeadLetter[]>,
      audit: await store.listAudit(),
      listTasks: (filter: Core.TaskFilter) => store.listTasks(filter),
      listAudit: (filter: Core.AuditFilter) => store.listAudit(filter),
      close: () => store.close(),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
type Expected = Awaited<ReturnType<typeof readExpected>>;

/** The message the store gives for `bytes`, opened as the page opens a file. */
async function openError(bytes: Uint8Array): Promise<{ code: string; message: string }> {
  const { openStore } = await dist<typeof Core>('index.js');
  const { createMemoryAdapter } = await dist<typeof MemoryAdapter>('adapters/memory.js');
  try {
    await (await openStore({ adapter: createMemoryAdapter({ image: bytes }), readOnly: true })).close();
  } catch (e) {
    return { code: (e as Core.StoreError).code, message: (e as Error).message };
  }
  throw new Error('expected the store to refuse these bytes');
}

function startServe(db: string, port = '0'): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', db, '--port', port], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent-store serve printed no URL within 15 s:\n${output}`)), 15_000);
    const hear = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    };
    child.stdout.on('data', hear);
    child.stderr.on('data', hear);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent-store serve exited (${code}):\n${output}`));
    });
  });
}

/** Every `data-testid` element's text, in one round trip (the first element of each id). */
async function texts(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {};
    for (const node of Array.from(document.querySelectorAll<HTMLElement>('[data-testid]'))) out[node.dataset.testid!] ??= node.textContent ?? '';
    return out;
  });
}

const ids = (page: Page, rows: string, attr: string) => page.$$eval(rows, (trs, a) => trs.map((tr) => tr.getAttribute(a) ?? ''), attr);
const ready = (page: Page) => page.waitForSelector('html[data-ready="true"]');
const testId = (id: string) => `[data-testid="${id}"]`;

let tmp: string;
let db: string;
let browser: Browser;
let serve: { child: ChildProcess; url: string };
let expected: Expected;

beforeAll(async () => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
  db = join(tmp, 'agent.db');
  execFileSync(process.execPath, [CLI, 'demo', db], { stdio: 'pipe' });
  expected = await readExpected(db);
  serve = await startServe(db);
  browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], headless: true });
}, 120_000);

afterAll(async () => {
  serve?.child.kill();
  await expected?.close();
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('served by agent-store serve', () => {
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  let loadedAt: number;

  beforeAll(async () => {
    context = await browser.newContext({ viewport: VIEWPORT });
    page = await context.newPage();
    // CSP violations can be silent (a caught EvalError); this makes every one a console error.
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)),
    );
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    loadedAt = Date.now();
    await page.goto(serve.url);
    await ready(page);
  });

  afterAll(() => context?.close());

  it('shows the rows that are in the file: counts, tables, charts', async () => {
    const { tasks, approvals, deadLetters, sessions, threads } = expected;
    const shown = await texts(page);
    expect(shown['source-status']).toBe('live');
    expect(shown['source-label']).toBe('server · agent.db');
    expect(shown['count-tasks']).toBe(String(tasks.length));
    for (const s of STATUSES) expect(shown[`count-status-${s}`], s).toBe(String(tasks.filter((t) => t.status === s).length));
    expect(shown['count-approvals']).toBe(String(approvals.length));
    for (const s of ['given_up', 'resolved'] as const) expect(shown[`count-dead-${s}`], s).toBe(String(deadLetters[s].length));
    // A waiting letter turns due as the clock passes its retry time, maybe between the two reads.
    expect(Number(shown['count-dead-due']) + Number(shown['count-dead-waiting'])).toBe(deadLetters.due.length + deadLetters.waiting.length);
    expect(shown['count-sessions']).toBe(String(sessions.length));
    expect(shown['count-threads']).toBe(String(threads.length));

    // The demo has more tasks than the table renders.
    expect(tasks.length).toBeGreaterThan(500);
    expect(shown['tasks-count']).toBe(`showing 500 of ${tasks.length}`);
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(tasks.slice(0, 500).map((t) => t.id));

    // Stacked bars: every task of the 48 hours ending with the newest task's hour, once.
    const first = Math.floor(tasks[0]!.createdAt / HOUR) * HOUR - 47 * HOUR;
    const inWindow = tasks.filter((t) => t.createdAt >= first);
    const bars = await page.$$eval('[data-testid="chart-tasks"] rect[data-count]', (rects) => rects.map((r) => [r.getAttribute('data-status'), Number(r.getAttribute('data-count'))] as const));
    for (const s of STATUSES) {
      const drawn = bars.filter(([status]) => status === s).reduce((sum, [, n]) => sum + n, 0);
      expect(drawn, s).toBe(inWindow.filter((t) => t.status === s).length);
    }
    // Backlog: its last point is the end of the newest hour with activity.
    const letters = DEAD_LETTER_STATES.flatMap((s) => deadLetters[s]);
    const latest = Math.max(tasks[0]!.createdAt, ...letters.flatMap((d) => [d.createdAt, d.resolvedAt ?? 0]));
    const end = Math.floor(latest / HOUR) * HOUR + HOUR;
    const open = letters.filter((d) => d.createdAt <= end && (d.resolvedAt === undefined || d.resolvedAt > end)).length;
    const markers = await page.$$eval('[data-testid="chart-backlog"] circle[data-count]', (cs) => cs.map((c) => [Number(c.getAttribute('data-at')), Number(c.getAttribute('data-count'))]));
    expect(markers).toHaveLength(48);
    expect(markers.at(-1)).toEqual([end, open]);
    expect(await page.locator('[data-testid="chart-sizes"] path.line').count()).toBe(2);

    await page.click(testId('tab-approvals'));
    expect(await ids(page, '#approvals-table tbody tr', 'data-request-id')).toEqual(approvals.map((a) => a.requestId));
    expect(await page.locator(testId('approval-age')).first().textContent()).toMatch(/^\d+ (s|min|h|d)\b/);

    await page.click(testId('tab-dead-letters'));
    const group = (s: string) => ids(page, `${testId(`dead-letters-${s}`)} tbody tr[data-dead-letter-id]`, 'data-dead-letter-id');
    for (const s of ['given_up', 'resolved'] as const) {
      expect(await page.locator(testId(`dead-letters-${s}-count`)).textContent(), s).toBe(String(deadLetters[s].length));
      expect(await group(s), s).toEqual(deadLetters[s].slice(0, 500).map((d) => d.id));
    }
    const [due, waiting] = [await group('due'), await group('waiting')];
    const unresolved = [...deadLetters.due, ...deadLetters.waiting];
    expect([...due, ...waiting].sort()).toEqual(unresolved.map((d) => d.id).sort());
    const retryAt = new Map(unresolved.map((d) => [d.id, d.nextRetryAt!]));
    const now = Date.now();
    for (const id of due) expect(retryAt.get(id), id).toBeLessThanOrEqual(now);
    for (const id of waiting) expect(retryAt.get(id), id).toBeGreaterThan(loadedAt);

    await page.click(testId('tab-sessions'));
    expect(await ids(page, '#sessions-table tbody tr', 'data-session-id')).toEqual(sessions.slice(0, 500).map((s) => s.sessionId));
  });

  it('filters tasks (status + caller + command) and audit entries (user + action) as the store does', async () => {
    await page.click(testId('tab-tasks'));
    const sample = expected.tasks.find((t) => t.status === 'completed')!;
    const matching = await expected.listTasks({ status: 'completed', callerId: sample.callerId });
    await page.selectOption(testId('filter-status'), 'completed');
    await page.fill(testId('filter-caller'), sample.callerId);
    await page.waitForSelector(`#tasks-count[data-total="${matching.length}"]`);
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(matching.slice(0, 500).map((t) => t.id));

    const byCommand = matching.filter((t) => t.command === sample.command);
    expect(byCommand.length).toBeLessThan(matching.length);
    await page.fill(testId('filter-command'), sample.command);
    await page.waitForSelector(`#tasks-count[data-total="${byCommand.length}"]`);
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(byCommand.slice(0, 500).map((t) => t.id));

    // The detail panel: every field, params and result as indented JSON.
    await page.click(`#tasks-table tr[data-task-id="${sample.id}"]`);
    const detail = page.locator(testId('task-detail'));
    await expect.poll(() => detail.locator(testId('detail-id')).textContent()).toBe(sample.id);
    expect(await detail.locator(testId('detail-params')).textContent()).toBe(JSON.stringify(sample.params, null, 2));
    expect(await detail.locator(testId('detail-result')).textContent()).toBe(JSON.stringify(sample.result, null, 2));
    expect(await detail.locator('[data-field="callerId"]').textContent()).toBe(sample.callerId);
    expect(await detail.locator('[data-field="command"]').textContent()).toBe(sample.command);

    await page.click('#filter-clear');
    await page.waitForSelector(`#tasks-count[data-total="${expected.tasks.length}"]`);

    await page.click(testId('tab-audit'));
    const entry = expected.audit[0]!;
    const audit = await expected.listAudit({ userId: entry.userId, action: entry.action });
    expect(audit.length).toBeLessThan(expected.audit.length);
    await page.fill(testId('audit-user'), entry.userId);
    await page.fill(testId('audit-action'), entry.action);
    await page.waitForSelector(`#audit-count[data-total="${audit.length}"]`);
    expect((await ids(page, '#audit-table tbody tr', 'data-audit-id')).map(Number)).toEqual(audit.slice(0, 500).map((a) => a.id));
    await page.click(testId('tab-tasks'));
  });

  it('follows the agent live: a new task appears without a reload, filters, selection and scroll kept, markup shown as text', async () => {
    const newest = expected.tasks[0]!;
    const from = Math.floor(newest.createdAt / HOUR) * HOUR - 6 * HOUR;
    const inRange = expected.tasks.filter((t) => t.createdAt >= from).length;
    // datetime-local takes local time: let the page's own clock format it.
    const fromValue = await page.evaluate((ms) => {
      const d = new Date(ms);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    }, from);
    await page.fill(testId('filter-from'), fromValue);
    await page.waitForSelector(`#tasks-count[data-total="${inRange}"]`);
    const selected = expected.tasks[9]!.id;
    await page.click(`#tasks-table tr[data-task-id="${selected}"]`);
    const scroller = page.locator(testId('tasks-scroll'));
    const before = await scroller.evaluate((el) => {
      el.scrollTop = 300;
      return { scrollTop: el.scrollTop, room: el.scrollHeight - el.clientHeight };
    });
    expect(before.room).toBeGreaterThan(400);
    expect(before.scrollTop).toBe(300);
    const version = Number(await page.locator(testId('source-version')).getAttribute('data-version'));
    const windowKeys = await page.evaluate(() => Object.getOwnPropertyNames(window));

    execFileSync(process.execPath, [WRITER, db, 'task-live-xss'], { stdio: 'pipe' });
    await page.waitForSelector('#tasks-table tbody tr:first-child[data-task-id="task-live-xss"]', { timeout: 15_000 });

    expect(Number(await page.locator(testId('source-version')).getAttribute('data-version'))).toBeGreaterThan(version);
    expect(await page.inputValue(testId('filter-from'))).toBe(fromValue);
    expect(await page.locator('#tasks-count').getAttribute('data-total')).toBe(String(inRange + 1));
    expect(await page.locator(testId('detail-id')).textContent()).toBe(selected);
    expect(await ids(page, '#tasks-table tbody tr.selected', 'data-task-id')).toEqual([selected]);
    // One row was added above: the view stays where it was (or moves by that row, if Chromium anchors it).
    const after = await scroller.evaluate((el) => el.scrollTop);
    expect(after).toBeGreaterThanOrEqual(300);
    expect(after).toBeLessThanOrEqual(300 + 60);

    const row = page.locator('#tasks-table tr[data-task-id="task-live-xss"]');
    expect(await row.locator('td').nth(2).textContent()).toBe(XSS_COMMAND);
    await row.click();
    await expect.poll(() => page.locator(testId('detail-id')).textContent()).toBe('task-live-xss');
    expect(await page.locator(testId('detail-params')).textContent()).toBe(JSON.stringify(XSS_PARAMS, null, 2));
    expect(await page.locator('[data-field="command"]').textContent()).toBe(XSS_COMMAND);
    // Give a broken image's onerror time to fire, had one been made.
    await page.waitForTimeout(300);
    expect(dialogs).toEqual([]);
    const dom = await page.evaluate(() => ({
      images: document.querySelectorAll('img').length,
      handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
      scripts: Array.from(document.scripts).map((s) => new URL(s.src, location.href).pathname),
    }));
    expect(dom).toEqual({ images: 0, handlers: 0, scripts: ['/app.js'] });
    const added = await page.evaluate((keys) => Object.getOwnPropertyNames(window).filter((k) => !keys.includes(k)), windowKeys);
    expect(added).toEqual([]);

    // The README's screenshot: everything, a regular task open.
    await page.click('#filter-clear');
    await page.waitForSelector(`#tasks-count[data-total="${expected.tasks.length + 1}"]`);
    await page.click(`#tasks-table tr[data-task-id="${expected.tasks.find((t) => t.status === 'completed')!.id}"]`);
    await scroller.evaluate((el) => {
      el.scrollTop = 0;
      window.scrollTo(0, 0);
    });
    mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'test-output/dashboard.png') });
  });

  it('talks to its own origin only, under its Content-Security-Policy, without errors', async () => {
    const origin = new URL(serve.url).origin;
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    const paths = requests.map((url) => new URL(url).pathname);
    for (const path of ['/', '/app.js', '/style.css', '/sql-wasm.wasm', '/api/status', '/api/events']) expect(paths, path).toContain(path);
    // Once at start and once per live update.
    expect(paths.filter((p) => p === '/api/snapshot').length).toBeGreaterThanOrEqual(2);
    expect(await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content')).toBe(
      "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'",
    );
    expect(consoleErrors).toEqual([]);
  });

  it('says when the server is gone, and is live again on its own when it is back', async () => {
    const status = page.locator(testId('source-status'));
    const { port } = new URL(serve.url);
    serve.child.kill();
    await once(serve.child, 'exit');
    await page.waitForSelector(`${testId('source-status')}[data-state="reconnecting"]`);
    expect(await status.textContent()).toBe('offline · reconnecting');
    // What was read stays on screen meanwhile.
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(String(expected.tasks.length + 1));

    serve = await startServe(db, port);
    // EventSource retries by itself (the server asks for 2 s); nothing here reloads the page.
    await page.waitForSelector(`${testId('source-status')}[data-state="live"]`, { timeout: 15_000 });
    // A restarted server numbers its snapshots from 1 again: the page loads that one too.
    const restarted = (await (await fetch(new URL('api/status', serve.url))).json()) as { version: number };
    await expect.poll(() => page.locator(testId('source-version')).getAttribute('data-version'), { timeout: 10_000 }).toBe(String(restarted.version));
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(String(expected.tasks.length + 1));
  });
});

describe('hosted elsewhere (static files)', () => {
  let site: StaticServer;
  let context: BrowserContext;
  let root: string;

  beforeAll(async () => {
    root = join(tmp, 'site');
    // Under a sub-path, as an app would host it: the page's URLs must all be relative.
    cpSync(join(repoRoot, 'dist/dashboard'), join(root, 'dashboard'), { recursive: true });
    copyFileSync(join(repoRoot, 'dist/browser.js'), join(root, 'browser.js'));
    copyFileSync(join(repoRoot, 'dist/sql-wasm.wasm'), join(root, 'sql-wasm.wasm'));
    writeFileSync(join(root, 'writer.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./writer.js"></script>');
    writeFileSync(
      join(root, 'writer.js'),
      `import { openStore, createIndexedDbAdapter } from './browser.js';
const store = await openStore({ wasm: new URL('./sql-wasm.wasm', import.meta.url), adapter: createIndexedDbAdapter({ name: 'app' }) });
const start = Date.now() - 60_000;
for (let i = 1; i <= 3; i++) await store.saveTask({ id: 'app-task-' + i, command: 'build', params: { n: i }, callerId: 'U01APP', createdAt: start + i * 1000 });
globalThis.addTask = (id) => store.saveTask({ id, command: 'ship', params: { live: true }, callerId: 'U01APP' }).then(() => undefined);
globalThis.writerReady = true;
`,
    );
    // A small database for the drop, made by the built package.
    const { openStore } = await dist<typeof Core>('index.js');
    const small = await openStore();
    for (const id of ['drop-1', 'drop-2', 'drop-3']) await small.saveTask({ id, command: 'dropped', params: { id }, createdAt: 1_000 + Number(id.at(-1)) });
    writeFileSync(join(root, 'small.db'), await small.exportImage());
    await small.close();
    site = await startStaticServer(root);
    context = await browser.newContext({ viewport: VIEWPORT });
  });

  afterAll(async () => {
    await context?.close();
    await site?.close();
  });

  it('opens a picked or dropped .db file, and shows the typed error of a bad one while keeping the previous', async () => {
    const page = await context.newPage();
    await page.goto(`${site.origin}/dashboard/index.html`);
    await ready(page);
    // No server here: the page offers the other sources.
    expect(await page.isVisible(testId('empty'))).toBe(true);
    expect(await page.locator(testId('source-status')).textContent()).toBe('no source');

    // The live test's writer checkpointed on close: the file alone now holds its task too.
    const copy = join(tmp, 'agent-copy.db');
    copyFileSync(db, copy);
    const inCopy = await readExpected(copy);
    await inCopy.close();
    await page.setInputFiles('#file-input', copy);
    await page.waitForSelector(`${testId('count-tasks')}:text-is("${inCopy.tasks.length}")`);
    let shown = await texts(page);
    expect(shown['source-label']).toBe('file · agent-copy.db');
    expect(shown['source-status']).toBe('loaded');
    expect(shown['count-approvals']).toBe(String(inCopy.approvals.length));
    for (const s of DEAD_LETTER_STATES) expect(shown[`count-dead-${s}`], s).toBe(String(inCopy.deadLetters[s].length));
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(inCopy.tasks.slice(0, 500).map((t) => t.id));

    // A real drop event, its DataTransfer holding a File as a drag from the desktop would.
    await page.evaluate(async () => {
      const bytes = await (await fetch('/small.db')).arrayBuffer();
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'small.db', { type: 'application/vnd.sqlite3' }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    await page.waitForSelector(`${testId('source-label')}:text-is("file · small.db")`);
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(['drop-3', 'drop-2', 'drop-1']);

    const garbage = Buffer.from('this is a shopping list, not a database\n'.repeat(50));
    const corrupt = await openError(garbage);
    expect(corrupt.code).toBe('CORRUPT');
    await page.setInputFiles('#file-input', { name: 'notes.db', mimeType: 'application/octet-stream', buffer: garbage });
    const banner = page.locator(testId('source-error'));
    await banner.waitFor({ state: 'visible' });
    expect(await banner.textContent()).toBe(`Cannot open "notes.db": ${corrupt.message}`);
    expect(await banner.getAttribute('data-code')).toBe('CORRUPT');
    shown = await texts(page);
    expect(shown['source-label']).toBe('file · small.db');
    expect(shown['count-tasks']).toBe('3');

    // A database from newer code: the schema version is refused, the file is not touched.
    const newer = join(tmp, 'newer.db');
    copyFileSync(join(root, 'small.db'), newer);
    const sqlite = new Database(newer);
    sqlite.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
    sqlite.close();
    const newerBytes = readFileSync(newer);
    const refused = await openError(newerBytes);
    expect(refused.code).toBe('SCHEMA_VERSION');
    await page.setInputFiles('#file-input', newer);
    await page.waitForSelector(`${testId('source-error')}[data-code="SCHEMA_VERSION"]`);
    expect(await banner.textContent()).toBe(`Cannot open "newer.db": ${refused.message}`);
    expect(await page.locator(testId('source-label')).textContent()).toBe('file · small.db');
    await page.close();
  });

  it("follows a browser app's IndexedDB store live (?idb=), and names a store that is not there", async () => {
    const writer = await context.newPage();
    await writer.goto(`${site.origin}/writer.html`);
    await writer.waitForFunction(() => (globalThis as { writerReady?: boolean }).writerReady === true);

    const page = await context.newPage();
    await page.goto(`${site.origin}/dashboard/index.html?idb=app`);
    await ready(page);
    await page.waitForSelector(`${testId('count-tasks')}:text-is("3")`);
    const shown = await texts(page);
    expect(shown['source-label']).toBe('IndexedDB · app');
    expect(shown['source-status']).toBe('live');
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(['app-task-3', 'app-task-2', 'app-task-1']);

    // A mark on the document: still there afterwards means no reload happened.
    await page.evaluate(() => document.body.setAttribute('data-mark', 'before'));
    await writer.evaluate(() => (globalThis as unknown as { addTask(id: string): Promise<void> }).addTask('app-task-4'));
    await page.waitForSelector(`${testId('count-tasks')}:text-is("4")`, { timeout: 15_000 });
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(['app-task-4', 'app-task-3', 'app-task-2', 'app-task-1']);
    expect(await page.getAttribute('body', 'data-mark')).toBe('before');

    const missing = await context.newPage();
    await missing.goto(`${site.origin}/dashboard/index.html?idb=nope`);
    await ready(missing);
    const banner = missing.locator(testId('source-error'));
    await banner.waitFor({ state: 'visible' });
    expect(await banner.getAttribute('data-code')).toBe('NOT_FOUND');
    expect(await banner.textContent()).toContain(`There is no IndexedDB store named "nope" on this origin (${site.origin}).`);
    expect(await missing.locator(testId('source-status')).textContent()).toBe('error');
  });
});
