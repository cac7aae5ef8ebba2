/**
 * The devtools dashboard (dist/dashboard/) in real Chromium: served by the real `agent-store serve`
 * on a `demo` database (and followed live while another process writes), hosted statically (a
 * picked or dropped `.db` file), and on a browser app's origin (its IndexedDB store). The numbers
 * the page must show come from opening the same file in Node with the built package, not from the
 * page's own code.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
import { openGoDatabase, repoRoot } from '../helpers/go-db.js';
import { goTasks, writeGoFixture } from '../helpers/go-fixture.js';

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

/**
 * The served page runs in India's time zone (UTC+5:30, no DST): a local hour there is not a UTC
 * hour, so charts that bucketed by UTC hour while labelling local hours would fail the checks.
 */
const TIMEZONE = 'Asia/Kolkata';
const TZ_OFFSET = 5.5 * HOUR;
/** The start of the Kolkata hour `ms` falls in. */
const localHour = (ms: number) => Math.floor((ms + TZ_OFFSET) / HOUR) * HOUR - TZ_OFFSET;
/** The start of the minute `ms` falls in (whole-minute offsets: the same in every zone used here). */
const minuteOf = (ms: number) => Math.floor(ms / 60_000) * 60_000;

/** `ms` as a `datetime-local` value in the page's own time zone. */
const localInput = (page: Page, ms: number) =>
  page.evaluate((t) => {
    const d = new Date(t);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }, ms);

/** How many stores the page holds open (`html[data-open-stores]`). */
const openStores = async (page: Page) => Number(await page.getAttribute('html', 'data-open-stores'));

const ids = (page: Page, rows: string, attr: string) => page.$$eval(rows, (trs, a) => trs.map((tr) => tr.getAttribute(a) ?? ''), attr);
const ready = (page: Page) => page.waitForSelector('html[data-ready="true"]');

/** Rows of `sql` on the database file, read by better-sqlite3 (not by the page's code). */
function sqlRows<T>(file: string, sql: string, ...params: unknown[]): T[] {
  const sqlite = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return sqlite.prepare(sql).all(...params) as T[];
  } finally {
    sqlite.close();
  }
}

/** The queue chart's series: its CSS class names the state a task is in. */
const QUEUE_STATES = ['pending', 'retrying', 'running', 'awaiting_approval'] as const;

/**
 * How many tasks were in each queue state at `at`, from task_history alone: each task is in the
 * state its latest transition by then (the latest time; of equal times, the latest row) left it in;
 * pending after an attempt (attempt > 0) is "retrying".
 */
function queueAt(file: string, at: number): Record<(typeof QUEUE_STATES)[number], number> {
  const rows = sqlRows<{ state: string; n: number }>(
    file,
    `SELECT CASE WHEN h.to_status = 'pending' AND coalesce(h.attempt, 0) > 0 THEN 'retrying' ELSE h.to_status END AS state, count(*) AS n
     FROM task_history h
     WHERE h.id = (SELECT x.id FROM task_history x WHERE x.task_id = h.task_id AND x.at <= ? ORDER BY x.at DESC, x.id DESC LIMIT 1)
     GROUP BY state`,
    at,
  );
  return Object.fromEntries(QUEUE_STATES.map((s) => [s, rows.find((r) => r.state === s)?.n ?? 0])) as Record<(typeof QUEUE_STATES)[number], number>;
}

/** A task's transitions as task_history holds them, oldest first. */
function historyOf(file: string, id: string) {
  return sqlRows<{ from_status: string | null; to_status: string; at: number; attempt: number | null; worker_id: string | null; error: string | null }>(
    file,
    'SELECT from_status, to_status, at, attempt, worker_id, error FROM task_history WHERE task_id = ? ORDER BY id',
    id,
  );
}

/** The timeline the detail panel shows: one entry per transition, its data attributes and texts. */
const shownTimeline = (page: Page) =>
  page.$$eval(`[data-testid="task-detail"] [data-testid="detail-timeline"] li`, (items) =>
    items.map((li) => ({
      from: li.getAttribute('data-from'),
      to: li.getAttribute('data-to'),
      at: Number(li.getAttribute('data-at')),
      attempt: li.getAttribute('data-attempt'),
      worker: li.getAttribute('data-worker'),
      workerText: li.querySelector('[data-part="worker"]')?.textContent ?? null,
      error: li.querySelector('[data-part="error"]')?.textContent ?? null,
      statuses: Array.from(li.querySelectorAll('.transition [data-status]')).map((b) => b.getAttribute('data-status')),
    })),
  );
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
  // A fixed end (a weekday afternoon): the same history whatever the hour the tests run at.
  execFileSync(process.execPath, [CLI, 'demo', db, '--end', '2026-11-04T15:00Z'], { stdio: 'pipe' });
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
    context = await browser.newContext({ viewport: VIEWPORT, timezoneId: TIMEZONE });
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

    // Stacked bars: every task of the 48 local hours ending with the newest task's hour, once, in
    // the bar of its own local hour (Kolkata hours start at :30 UTC).
    const first = localHour(tasks[0]!.createdAt) - 47 * HOUR;
    const inWindow = tasks.filter((t) => t.createdAt >= first);
    const bars = await page.$$eval('[data-testid="chart-tasks"] rect[data-count]', (rects) =>
      rects.map((r) => [r.getAttribute('data-status'), Number(r.getAttribute('data-hour')), Number(r.getAttribute('data-count'))] as const),
    );
    expect(bars.length).toBeGreaterThan(0);
    for (const [status, hour, n] of bars) {
      expect(localHour(hour), `${status} bar at ${hour}`).toBe(hour);
      expect(n, `${status} bar at ${hour}`).toBe(inWindow.filter((t) => t.status === status && localHour(t.createdAt) === hour).length);
    }
    for (const s of STATUSES) {
      const drawn = bars.filter(([status]) => status === s).reduce((sum, [, , n]) => sum + n, 0);
      expect(drawn, s).toBe(inWindow.filter((t) => t.status === s).length);
    }
    // Hour labels on the axis are local and whole ("00:00", "12:00").
    const labels = await page.$$eval('[data-testid="chart-tasks"] text.axis', (ts) => ts.map((t) => t.textContent ?? ''));
    const hourLabels = labels.filter((l) => / \d\d:\d\d$/.test(l));
    expect(hourLabels.length).toBeGreaterThan(2);
    for (const l of hourLabels) expect(l).toMatch(/ (00|12):00$/);
    // Backlog: its last point is the end of the newest local hour with activity.
    const letters = DEAD_LETTER_STATES.flatMap((s) => deadLetters[s]);
    let latest = tasks[0]!.createdAt;
    for (const d of letters) latest = Math.max(latest, d.createdAt, d.resolvedAt ?? 0);
    const end = localHour(latest) + HOUR;
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

  it('charts the queue over time: per state, the tasks task_history puts in it at the end of each hour', async () => {
    // The window of the tasks chart: 48 local hours ending with the newest task's hour.
    const lastHour = localHour(expected.tasks[0]!.createdAt);
    const at = Array.from({ length: 48 }, (_, i) => lastHour - (47 - i) * HOUR + HOUR);
    const markers = await page.$$eval('[data-testid="chart-queue"] circle[data-count]', (cs) =>
      cs.map((c) => ({ cls: c.getAttribute('class') ?? '', at: Number(c.getAttribute('data-at')), count: Number(c.getAttribute('data-count')) })),
    );
    expect(markers).toHaveLength(4 * 48);
    const drawn = Object.fromEntries(QUEUE_STATES.map((s) => [s, markers.filter((m) => m.cls.split(' ').includes(`s-${s}`))]));
    for (const s of QUEUE_STATES) expect(drawn[s]!.map((m) => m.at), s).toEqual(at);
    let busy = 0;
    at.forEach((t, i) => {
      const want = queueAt(db, t);
      for (const s of QUEUE_STATES) expect(drawn[s]![i]!.count, `${s} at ${new Date(t).toISOString()}`).toBe(want[s]);
      busy += want.running + want.pending + want.retrying;
    });
    // The demo's workers were busy at some of those hours, and approvals waited at the last.
    expect(busy).toBeGreaterThan(0);
    expect(drawn.awaiting_approval!.at(-1)!.count).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="chart-queue"] path.line').count()).toBe(4);
    const legend = await page.$$eval('[data-testid="chart-queue"] .legend li', (lis) => lis.map((li) => li.textContent));
    expect(legend).toEqual(QUEUE_STATES.map((s) => `${s.replace('_', ' ')} ${drawn[s]!.at(-1)!.count}`));
  });

  it("shows a selected task's queue entry and its timeline, as task_history holds it", async () => {
    // The task with the most transitions among those the table shows (retried, or taken over).
    const shown = new Set(expected.tasks.slice(0, 500).map((t) => t.id));
    const counted = sqlRows<{ task_id: string; n: number }>(db, 'SELECT task_id, count(*) AS n FROM task_history GROUP BY task_id ORDER BY n DESC, task_id DESC');
    const id = counted.find((r) => shown.has(r.task_id))!.task_id;
    const rows = historyOf(db, id);
    expect(rows.length).toBeGreaterThanOrEqual(5);
    await page.click(testId('tab-tasks'));
    await page.click(`#tasks-table tr[data-task-id="${id}"]`);
    const detail = page.locator(testId('task-detail'));
    await expect.poll(() => detail.locator(testId('detail-id')).textContent()).toBe(id);
    await detail.locator(testId('detail-timeline')).waitFor();
    expect(await detail.locator('h4', { hasText: 'timeline' }).textContent()).toBe(`timeline (${rows.length} transitions)`);
    expect(await shownTimeline(page)).toEqual(
      rows.map((r) => ({
        from: r.from_status,
        to: r.to_status,
        at: r.at,
        attempt: r.attempt === null ? null : String(r.attempt),
        worker: r.worker_id,
        workerText: r.worker_id,
        error: r.error,
        statuses: r.from_status === null ? [r.to_status] : [r.from_status, r.to_status],
      })),
    );
    const [queue] = sqlRows<{ attempts: number; max_attempts: number; worker_id: string | null; replay_of: string | null; last_error: string | null }>(db, 'SELECT * FROM task_queue WHERE task_id = ?', id);
    const field = (name: string) => detail.locator(`[data-queue-field="${name}"]`).textContent();
    expect(await field('attempts')).toBe(`${queue!.attempts} of ${queue!.max_attempts}`);
    expect(await field('held by')).toBe(queue!.worker_id ?? 'nobody');
    expect(await field('replay of')).toBe(queue!.replay_of ?? '—');
    expect(await field('last error')).toBe(queue!.last_error ?? '—');
    await detail.locator('[data-action="close-detail"]').click();
    await detail.waitFor({ state: 'hidden' });
  });

  it('filters tasks (status + caller + command, from/to) and audit entries (user + action, since/until) as the store does', async () => {
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

    // To: a task created within a minute (not on its first millisecond) is in when "To" names that
    // minute, as the rest of the minute is: the input has minute precision.
    const edge = expected.tasks.slice(600).find((t) => t.createdAt % 60_000 !== 0 && t.createdAt - minuteOf(t.createdAt) > 1000)!;
    const edgeMinute = minuteOf(edge.createdAt);
    const upTo = expected.tasks.filter((t) => t.createdAt < edgeMinute + 60_000);
    expect(upTo.length).toBeLessThan(expected.tasks.length);
    await page.fill(testId('filter-to'), await localInput(page, edge.createdAt));
    await page.waitForSelector(`#tasks-count[data-total="${upTo.length}"]`);
    const shownUpTo = await ids(page, '#tasks-table tbody tr', 'data-task-id');
    expect(shownUpTo).toEqual(upTo.slice(0, 500).map((t) => t.id));
    expect(shownUpTo).toContain(edge.id);
    // From and To on the same minute: that minute's tasks exactly, the edge task among them.
    const sameMinute = expected.tasks.filter((t) => minuteOf(t.createdAt) === edgeMinute);
    await page.fill(testId('filter-from'), await localInput(page, edge.createdAt));
    await page.waitForSelector(`#tasks-count[data-total="${sameMinute.length}"]`);
    expect(await ids(page, '#tasks-table tbody tr', 'data-task-id')).toEqual(sameMinute.map((t) => t.id));
    await page.click('#filter-clear');
    await page.waitForSelector(`#tasks-count[data-total="${expected.tasks.length}"]`);

    await page.click(testId('tab-audit'));
    // Since/until on one minute: the store's [since, until) with until at the minute's end.
    const auditEdge = expected.audit.slice(100).find((a) => a.createdAt - minuteOf(a.createdAt) > 1000)!;
    const auditMinute = minuteOf(auditEdge.createdAt);
    const inMinute = await expected.listAudit({ since: auditMinute, until: auditMinute + 60_000 });
    expect(inMinute.map((a) => a.id)).toContain(auditEdge.id);
    const auditValue = await localInput(page, auditEdge.createdAt);
    await page.fill(testId('audit-since'), auditValue);
    await page.fill(testId('audit-until'), auditValue);
    await page.waitForSelector(`#audit-count[data-total="${inMinute.length}"]`);
    expect((await ids(page, '#audit-table tbody tr', 'data-audit-id')).map(Number)).toEqual(inMinute.map((a) => a.id));
    // Until alone: everything up to the end of that minute.
    const untilOnly = await expected.listAudit({ until: auditMinute + 60_000 });
    expect(untilOnly.length).toBeLessThan(expected.audit.length);
    await page.fill(testId('audit-since'), '');
    await page.waitForSelector(`#audit-count[data-total="${untilOnly.length}"]`);
    expect((await ids(page, '#audit-table tbody tr', 'data-audit-id')).map(Number)).toEqual(untilOnly.slice(0, 500).map((a) => a.id));
    await page.click('#view-audit button[type="reset"]');
    await page.waitForSelector(`#audit-count[data-total="${expected.audit.length}"]`);

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
    // The snapshot it replaced was closed: one store open, the one shown (a leak holds a whole image).
    await expect.poll(() => openStores(page)).toBe(1);
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

  it("says when the server is gone, retries a refused event stream, and loads a restarted server's snapshot even when its version number is the one shown", async () => {
    const status = page.locator(testId('source-status'));
    const { port } = new URL(serve.url);
    const stop = async () => {
      serve.child.kill();
      await once(serve.child, 'exit');
      await page.waitForSelector(`${testId('source-status')}[data-state="reconnecting"]`);
    };
    await stop();
    expect(await status.textContent()).toBe('offline · reconnecting');
    // What was read stays on screen meanwhile.
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(String(expected.tasks.length + 1));

    // The server is back but refuses the event stream (as a 503 or 401 does): EventSource gives up
    // on such an answer (CLOSED); the page tries again with backoff, asking ./api/status first.
    await page.route('**/api/events', (route) => route.fulfill({ status: 503, body: 'too many open event streams' }));
    serve = await startServe(db, port);
    await expect.poll(() => status.getAttribute('title'), { timeout: 15_000 }).toContain('the server refused the event stream');
    expect(await status.getAttribute('data-state')).toBe('reconnecting');
    await page.unroute('**/api/events');
    await page.waitForSelector(`${testId('source-status')}[data-state="live"]`, { timeout: 15_000 });
    // A restarted server numbers its snapshots from 1 again: the page loads that one too.
    const restarted = (await (await fetch(new URL('api/status', serve.url))).json()) as { version: number; instance: string };
    expect(restarted.version).toBe(1);
    await expect.poll(() => page.locator(testId('source-version')).getAttribute('data-version'), { timeout: 10_000 }).toBe('1');
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(String(expected.tasks.length + 1));

    // The page shows version 1; the agent writes while the server is down; the next server process
    // also calls its first snapshot version 1. Only the instance tells them apart.
    await stop();
    execFileSync(process.execPath, [WRITER, db, 'task-while-down'], { stdio: 'pipe' });
    serve = await startServe(db, port);
    const again = (await (await fetch(new URL('api/status', serve.url))).json()) as { version: number; instance: string };
    expect(again.version).toBe(1);
    expect(again.instance).not.toBe(restarted.instance);
    await page.waitForSelector('#tasks-table tbody tr:first-child[data-task-id="task-while-down"]', { timeout: 15_000 });
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(String(expected.tasks.length + 2));
    expect(await status.getAttribute('data-state')).toBe('live');
    await expect.poll(() => openStores(page)).toBe(1);
  });

  it('retries a snapshot it could not load, closes what a failed load opened, and clears a read error once a read works', async () => {
    const status = page.locator(testId('source-status'));
    const problem = page.locator(testId('source-problem'));
    const banner = page.locator(testId('source-error'));
    // The status request fails while the snapshot downloads: the page must close the store it opened
    // for that snapshot, stay on the one shown (saying why), and try again until it works.
    await page.route('**/api/status', (route) => route.fulfill({ status: 500, body: 'broken' }));
    execFileSync(process.execPath, [WRITER, db, 'task-after-failure'], { stdio: 'pipe' });
    await expect.poll(() => problem.textContent(), { timeout: 15_000 }).toContain('GET ./api/status: HTTP 500');
    expect(await problem.isVisible()).toBe(true);
    expect(await status.getAttribute('data-state')).toBe('stale');
    // Let it retry a few times (0.5 s, 1 s…): every attempt's snapshot is closed again.
    await page.waitForTimeout(1_800);
    expect(await openStores(page)).toBe(1);
    expect(await page.locator('tr[data-task-id="task-after-failure"]').count()).toBe(0);
    await page.unroute('**/api/status');
    await page.waitForSelector('#tasks-table tbody tr:first-child[data-task-id="task-after-failure"]', { timeout: 15_000 });
    await problem.waitFor({ state: 'hidden' });
    expect(await status.getAttribute('data-state')).toBe('live');
    await expect.poll(() => openStores(page)).toBe(1);

    // A snapshot the page cannot read (its tasks table lacks a column): the read error shows; the
    // next snapshot reads fine, and the banner goes.
    const broken = join(tmp, 'broken.db');
    copyFileSync(db, broken);
    const sqlite = new Database(broken);
    sqlite.exec('ALTER TABLE tasks RENAME COLUMN command TO cmd');
    sqlite.close();
    const brokenBytes = readFileSync(broken);
    await page.route('**/api/snapshot', async (route) => {
      const real = await route.fetch();
      await route.fulfill({ response: real, headers: { ...real.headers(), 'content-length': String(brokenBytes.byteLength) }, body: brokenBytes });
    });
    execFileSync(process.execPath, [WRITER, db, 'task-unreadable'], { stdio: 'pipe' });
    await expect.poll(() => banner.textContent(), { timeout: 15_000 }).toMatch(/^Cannot read server · agent\.db: .*no such column: command/);
    // The writer's close may announce one more snapshot, whose download may be in the handler now:
    // it finishes (the same broken bytes), rather than fulfil a request the unroute let through.
    await page.unrouteAll({ behavior: 'wait' });
    execFileSync(process.execPath, [WRITER, db, 'task-readable'], { stdio: 'pipe' });
    await page.waitForSelector('#tasks-table tbody tr:first-child[data-task-id="task-readable"]', { timeout: 15_000 });
    await banner.waitFor({ state: 'hidden' });
    expect(await openStores(page)).toBe(1);
  });

  it("shows the server's problem while it serves its last good snapshot, and a selected task that is gone", async () => {
    const status = page.locator(testId('source-status'));
    const problem = page.locator(testId('source-problem'));
    // The newest task, whichever it is (this test does not depend on the previous one's rows).
    const selected = (await page.getAttribute('#tasks-table tbody tr:first-child', 'data-task-id'))!;
    await page.click(`#tasks-table tr[data-task-id="${selected}"]`);
    await expect.poll(() => page.locator(testId('detail-id')).textContent()).toBe(selected);
    const shownBefore = await page.locator(testId('count-tasks')).textContent();

    // The good database to put back later: without the selected task, with a new one.
    const good = join(tmp, 'good.db');
    copyFileSync(db, good);
    execFileSync(process.execPath, [WRITER, good, 'task-after-problem'], { stdio: 'pipe' });
    const sqlite = new Database(good);
    sqlite.prepare('DELETE FROM tasks WHERE id = ?').run(selected);
    sqlite.close();
    const inGood = await readExpected(good);
    await inGood.close();

    // Garbage where the database was (renamed in, as a careless copy would): the server keeps its
    // last good snapshot and reports why it has no newer one.
    const garbage = join(tmp, 'garbage.db');
    writeFileSync(garbage, 'this is a shopping list, not a database\n'.repeat(100));
    renameSync(garbage, db);
    let reported: string | undefined;
    await expect.poll(async () => (reported = ((await (await fetch(new URL('api/status', serve.url))).json()) as { problem?: string }).problem), { timeout: 15_000 }).toBeDefined();
    await expect.poll(() => problem.textContent(), { timeout: 15_000 }).toContain(reported!);
    expect(await problem.textContent()).toMatch(/^The server cannot take a new snapshot of agent\.db: /);
    expect(await status.getAttribute('data-state')).toBe('stale');
    expect(await status.textContent()).toBe('stale');
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(shownBefore);

    // A good database back: the problem goes, the data is the new file's.
    renameSync(good, db);
    await page.waitForSelector('#tasks-table tbody tr:first-child[data-task-id="task-after-problem"]', { timeout: 15_000 });
    await problem.waitFor({ state: 'hidden' });
    expect(await status.getAttribute('data-state')).toBe('live');
    expect(await page.locator(testId('count-tasks')).textContent()).toBe(String(inGood.tasks.length));
    // The open task is not in it any more: the panel says so, and its close button closes it.
    const detail = page.locator(testId('task-detail'));
    expect(await detail.locator('h3').textContent()).toBe(selected);
    expect(await detail.locator('p').textContent()).toBe('This task is no longer in the database.');
    await detail.locator('[data-action="close-detail"]').click();
    await detail.waitFor({ state: 'hidden' });
    expect(await page.locator('#tasks-table tbody tr.selected').count()).toBe(0);
    await expect.poll(() => openStores(page)).toBe(1);
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
    // Playwright's clock: time flows as usual until the test jumps it forward (dead letters below).
    await page.clock.install();
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

    // Files the store would open as an empty agent database, or refuse with a confusing message:
    // an empty file, and another program's SQLite database. The page refuses both itself.
    await page.setInputFiles('#file-input', { name: 'zero.db', mimeType: 'application/octet-stream', buffer: Buffer.alloc(0) });
    await page.waitForSelector(`${testId('source-error')}[data-code="EMPTY"]`);
    expect(await banner.textContent()).toBe('Cannot open "zero.db": the file is empty (0 bytes): it is not an agent database');
    const notes = join(tmp, 'notes.sqlite');
    const other = new Database(notes);
    other.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('buy milk')");
    other.close();
    await page.setInputFiles('#file-input', notes);
    await page.waitForSelector(`${testId('source-error')}[data-code="NOT_AGENT_DATABASE"]`);
    expect(await banner.textContent()).toBe('Cannot open "notes.sqlite": it is a SQLite file but not an agent database (it has no meta.schema_version)');
    shown = await texts(page);
    expect(shown['source-label']).toBe('file · small.db');
    expect(shown['count-tasks']).toBe('3');
    expect(await openStores(page)).toBe(1);

    // A queue of 70 000 dead letters (a spread of their times into Math.max overflowed the stack),
    // and one letter whose retry is due in a minute.
    const big = join(tmp, 'big.db');
    copyFileSync(join(root, 'small.db'), big);
    const now = Date.now();
    const bigDb = new Database(big);
    const insert = bigDb.prepare('INSERT INTO dead_letters (id, target_channel, message, error, created_at, retry_count, next_retry_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    bigDb.transaction(() => {
      for (let i = 0; i < 70_000; i++) insert.run(`dl-${i}`, 'C01', 'hello', 'channel_not_found', now - 3 * HOUR + i, 5, null);
      insert.run('dl-soon', 'C01', 'retry me', 'ratelimited', now - 60_000, 1, now + 60_000);
    })();
    bigDb.close();
    await page.setInputFiles('#file-input', big);
    await page.waitForSelector(`${testId('source-label')}:text-is("file · big.db")`);
    shown = await texts(page);
    expect(shown['count-dead-given_up']).toBe('70000');
    expect(await banner.isHidden()).toBe(true);
    expect(await page.locator('[data-testid="chart-backlog"] circle[data-count]').last().getAttribute('data-count')).toBe('70001');
    expect(shown['count-dead-waiting']).toBe('1');
    expect(shown['count-dead-due']).toBe('0');
    await page.click(testId('tab-dead-letters'));
    expect(await ids(page, `${testId('dead-letters-waiting')} tbody tr[data-dead-letter-id]`, 'data-dead-letter-id')).toEqual(['dl-soon']);
    // The file does not change, yet the letter is due once its retry time passes: the page moves it
    // on its own clock, without a new read.
    await page.clock.fastForward(90_000);
    await page.waitForSelector(`${testId('count-dead-due')}:text-is("1")`);
    expect(await page.locator(testId('count-dead-waiting')).textContent()).toBe('0');
    expect(await ids(page, `${testId('dead-letters-due')} tbody tr[data-dead-letter-id]`, 'data-dead-letter-id')).toEqual(['dl-soon']);
    expect(await page.locator(`${testId('dead-letters-waiting')} tbody tr[data-dead-letter-id]`).count()).toBe(0);
    expect(await openStores(page)).toBe(1);
    await page.close();
  });

  it("opens the Go agent's database (schema v1) without a timeline: a note in the detail panel and in the queue chart", async () => {
    const go = join(tmp, 'go-agent.db');
    const sqlite = openGoDatabase(go);
    writeGoFixture(sqlite);
    sqlite.close();
    const page = await context.newPage();
    await page.goto(`${site.origin}/dashboard/index.html`);
    await ready(page);
    await page.setInputFiles('#file-input', go);
    await page.waitForSelector(`${testId('count-tasks')}:text-is("${Object.keys(goTasks).length}")`);
    expect(await page.locator(testId('source-error')).isHidden()).toBe(true);
    expect(await page.locator('[data-testid="chart-queue"] svg').count()).toBe(0);
    expect(await page.locator('[data-testid="chart-queue"] .chart-empty').textContent()).toBe('No transitions recorded: the tasks were written before schema v2 (by an agent at v1).');
    const id = Object.keys(goTasks)[0]!;
    await page.click(`#tasks-table tr[data-task-id="${id}"]`);
    const detail = page.locator(testId('task-detail'));
    await expect.poll(() => detail.locator(testId('detail-timeline-note')).textContent()).toBe('No transitions recorded: the task was written before schema v2 (by an agent at v1).');
    expect(await detail.locator(testId('detail-timeline')).count()).toBe(0);
    // The page reads the file upgraded in memory (never written back): a queue row per task.
    expect(await detail.locator('[data-queue-field="attempts"]').textContent()).toBe('0 of 1');
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

    // "live" is what the store can do, not a label: without BroadcastChannel a read-only store
    // cannot hear the owner's commits, and the page says "loaded" instead.
    const deaf = await context.newPage();
    await deaf.addInitScript(() => {
      delete (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel;
    });
    await deaf.goto(`${site.origin}/dashboard/index.html?idb=app`);
    await ready(deaf);
    await deaf.waitForSelector(`${testId('count-tasks')}:text-is("4")`);
    expect(await deaf.locator(testId('source-status')).getAttribute('data-state')).toBe('loaded');
    expect(await deaf.locator(testId('source-status')).getAttribute('title')).toContain('BroadcastChannel');
    await writer.evaluate(() => (globalThis as unknown as { addTask(id: string): Promise<void> }).addTask('app-task-5'));
    // The following page gets it; the one that said "loaded" does not (checked after, so it had the time).
    await page.waitForSelector(`${testId('count-tasks')}:text-is("5")`, { timeout: 15_000 });
    expect(await page.locator(testId('source-status')).getAttribute('data-state')).toBe('live');
    expect(await deaf.locator(testId('count-tasks')).textContent()).toBe('4');
  });
});
