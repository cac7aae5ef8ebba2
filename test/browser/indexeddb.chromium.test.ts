/**
 * The IndexedDB adapter in real Chromium, across pages: reloads, two tabs on one database (one
 * writer, one follower that takes over), a tab closed or crashed in the middle of a write burst, a
 * real storage quota (set through the DevTools protocol), and the README's example page.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../crash/built.js';
import { repoRoot } from '../helpers/go-db.js';
import { CHROMIUM_ARGS, chromiumPath, startBrowserHarness, type BrowserHarness } from './harness.js';
import type { Outcome, Tab } from './pages/tab.js';

let harness: BrowserHarness;
beforeAll(async () => {
  harness = await startBrowserHarness({ entries: { tab: 'test/browser/pages/tab.ts' } });
}, 120_000);
afterAll(async () => {
  await harness?.close();
});

/** Calls `tab[method](...args)` in `page`. */
function call<K extends keyof Tab>(page: Page, method: K, ...args: Parameters<Tab[K]>): Promise<Awaited<ReturnType<Tab[K]>>> {
  return page.evaluate(
    ({ method, args }) => (globalThis as unknown as { tab: Record<string, (...a: unknown[]) => unknown> }).tab[method]!(...args),
    { method: method as string, args: args as unknown[] },
  ) as Promise<Awaited<ReturnType<Tab[K]>>>;
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let n = 0;
const uniqueName = (what: string): string => `${what}-${Date.now()}-${++n}`;

async function tabIn(context: BrowserContext): Promise<Page> {
  return harness.openEntry('tab', context);
}

const ids = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('IndexedDB in Chromium', () => {
  it('writes survive a page reload without close(): everything is read back (journal replay)', async () => {
    const context = await harness.newContext();
    const page = await tabIn(context);
    const name = uniqueName('reload');
    expect(await call(page, 'open', name)).toBe('owner');
    for (const id of ids('t', 40)) expect(await call(page, 'save', id)).toEqual({ ok: true });
    await page.reload();
    await harness.waitForEntry(page);
    expect(await call(page, 'open', name)).toBe('owner');
    expect(await call(page, 'ids')).toEqual(ids('t', 40).sort());
    // And after a clean close (a checkpoint), once more.
    await call(page, 'close');
    await page.reload();
    await harness.waitForEntry(page);
    await call(page, 'open', name);
    expect(await call(page, 'ids')).toEqual(ids('t', 40).sort());
    await context.close();
  });

  it('two pages: one writer, one follower that sees its commits, refuses writes, and takes over when the writer closes', async () => {
    const context = await harness.newContext();
    const name = uniqueName('two-tabs');
    const writer = await tabIn(context);
    const reader = await tabIn(context);
    expect(await call(writer, 'open', name, 'follow')).toBe('owner');
    expect(await call(writer, 'save', 'w0')).toEqual({ ok: true });
    expect(await call(reader, 'open', name, 'follow')).toBe('follower');
    expect((await call(reader, 'health')).state).toBe('following');
    for (const id of ids('w', 10)) await call(writer, 'save', id);
    await until(() => call(reader, 'ids'), (list) => list.includes('w9'), "the follower to see the writer's commits");
    const refused = await call(reader, 'save', 'r0');
    expect(refused).toMatchObject({ ok: false, name: 'LockError', code: 'LOCKED' });
    await writer.close(); // the tab goes: the browser releases its lock
    expect(await call(reader, 'owned')).toBe('owner');
    expect(await call(reader, 'save', 'r1')).toEqual({ ok: true });
    const third = await tabIn(context);
    expect(await call(third, 'open', name, 'follow')).toBe('follower');
    expect(await call(third, 'ids')).toEqual([...ids('w', 10), 'r1'].sort());
    await context.close();
  });

  it("whenLocked 'wait': the second page's write waits, and lands once the first page closes", async () => {
    const context = await harness.newContext();
    const name = uniqueName('wait');
    const first = await tabIn(context);
    const second = await tabIn(context);
    await call(first, 'open', name);
    await call(first, 'save', 'a');
    expect(await call(second, 'open', name, 'wait')).toBe('follower');
    const waiting = call(second, 'save', 'b');
    let landed = false;
    void waiting.then(() => (landed = true));
    await call(first, 'save', 'a2');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(landed).toBe(false);
    await first.close();
    expect(await waiting).toEqual({ ok: true });
    expect(await call(second, 'ids')).toEqual(['a', 'a2', 'b']);
    await context.close();
  });

  for (const how of ['closed', 'crashed'] as const) {
    it(`a page ${how} in the middle of a write burst loses nothing acknowledged; the follower takes over with all of it`, async () => {
      const context = await harness.newContext();
      const name = uniqueName(`burst-${how}`);
      const acknowledged: string[] = [];
      const writer = await harness.newPage(context);
      await writer.exposeFunction('ack', (id: string) => void acknowledged.push(id));
      await harness.gotoEntry(writer, 'tab');
      const follower = await tabIn(context);
      // A checkpoint every 16 KiB of journal: the page also goes in the middle of checkpoints.
      await call(writer, 'open', name, 'follow', { checkpointBytes: 16 * 1024 });
      await call(follower, 'open', name, 'follow');
      const burst = call(writer, 'burst', 'b', 100_000).catch(() => 0); // ends with the page
      await until(async () => acknowledged.length, (count) => count >= 150, 'acknowledged writes');
      if (how === 'closed') await writer.close();
      else {
        // The renderer dies at once; the DevTools call itself never answers, so wait for the event.
        const crashed = new Promise((resolve) => writer.once('crash', resolve));
        const cdp = await context.newCDPSession(writer);
        void cdp.send('Page.crash').catch(() => undefined);
        await crashed;
      }
      await burst;
      const seen = acknowledged.slice();
      expect(await call(follower, 'owned')).toBe('owner');
      const present = new Set(await call(follower, 'ids'));
      expect(seen.filter((id) => !present.has(id))).toEqual([]);
      // …and a fresh page, after the new owner closes, reads the same from IndexedDB.
      await call(follower, 'close');
      const check = await tabIn(context);
      await call(check, 'open', name);
      const reread = new Set(await call(check, 'ids'));
      expect(seen.filter((id) => !reread.has(id))).toEqual([]);
      expect(reread.size).toBe(present.size);
      await context.close();
    });
  }

  it('the whole browser killed (SIGKILL) mid-burst, on an on-disk profile: after a restart every acknowledged write is there', async () => {
    // The harness's contexts keep IndexedDB in memory (a private profile). Here the profile is on
    // disk, so what survives is what the strict IndexedDB commits put there.
    mkdirSync(join(repoRoot, 'test-output/browser'), { recursive: true });
    const profile = mkdtempSync(join(repoRoot, 'test-output/browser/profile-'));
    const launch = () => chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], headless: true });
    const name = uniqueName('browser-kill');
    const acknowledged: string[] = [];
    try {
      const first = await launch();
      const page = first.pages()[0] ?? (await first.newPage());
      await page.exposeFunction('ack', (id: string) => void acknowledged.push(id));
      await harness.gotoEntry(page, 'tab');
      await call(page, 'open', name, 'fail', { checkpointBytes: 16 * 1024 });
      const burst = call(page, 'burst', 'k', 100_000).catch(() => 0);
      await until(async () => acknowledged.length, (count) => count >= 200, 'acknowledged writes');
      killProcessesMentioning(profile); // every Chromium process of this profile, at once
      await burst;
      await first.close().catch(() => undefined);
      const seen = acknowledged.slice();
      const second = await launch();
      try {
        const again = second.pages()[0] ?? (await second.newPage());
        await harness.gotoEntry(again, 'tab');
        await call(again, 'open', name);
        const present = new Set(await call(again, 'ids'));
        expect(seen.filter((id) => !present.has(id))).toEqual([]);
        expect(present.size).toBeGreaterThanOrEqual(seen.length);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it('a full storage quota: the write fails with QUOTA_EXCEEDED, memory stays, and the store recovers when space returns', async () => {
    const context = await harness.newContext();
    const page = await tabIn(context);
    const name = uniqueName('quota');
    // Chromium applies a quota override to an origin's IndexedDB before its first use (a later,
    // lower override is not seen by a database already open): 2 MiB, room for the store's open.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: harness.origin, quotaSize: 2 * 1024 * 1024 });
    let failed: Outcome;
    try {
      await call(page, 'open', name);
      expect(await call(page, 'save', 'before')).toEqual({ ok: true });
      failed = await call(page, 'save', 'big', 4 * 1024 * 1024);
      expect(failed).toMatchObject({ ok: false, name: 'PersistenceError', code: 'PERSISTENCE', reason: 'QUOTA_EXCEEDED' });
      expect((await call(page, 'health')).state).toBe('degraded');
      expect(await call(page, 'save', 'refused')).toMatchObject({ ok: false, code: 'PERSISTENCE' });
      expect(await call(page, 'ids')).toEqual(['before', 'big']); // applied in memory, not acknowledged
      expect((await call(page, 'warnings')).some((w) => w.startsWith('DEGRADED'))).toBe(true);
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: harness.origin });
    }
    await until(() => call(page, 'health'), (h) => h.state === 'ok', 'the store to recover once the quota is back');
    expect(await call(page, 'save', 'after')).toEqual({ ok: true });
    await page.reload();
    await harness.waitForEntry(page);
    await call(page, 'open', name);
    expect(await call(page, 'ids')).toEqual(['after', 'before', 'big']);
    await context.close();
  });

  it('the database deleted under an open store (as clearing site data does): writes fail with DATABASE_DELETED, reads and every acknowledged write stay in memory', async () => {
    const context = await harness.newContext();
    const page = await tabIn(context);
    const name = uniqueName('deleted');
    await call(page, 'open', name);
    for (const id of ids('k', 5)) expect(await call(page, 'save', id)).toEqual({ ok: true });
    // Our store's connection closes on versionchange, so the deletion is not blocked by it.
    expect(await call(page, 'deleteDatabase', name)).toBe('deleted');
    expect(await call(page, 'save', 'lost')).toMatchObject({ ok: false, name: 'PersistenceError', reason: 'DATABASE_DELETED' });
    expect((await call(page, 'health')).state).toBe('degraded');
    expect(await call(page, 'ids')).toEqual([...ids('k', 5), 'lost'].sort());
    expect(await call(page, 'exportedTaskCount')).toBe(6);
    await context.close();
  });

  it("a database whose opening waits behind another tab's blocked deletion: DATABASE_BLOCKED, and it opens once that is over", async () => {
    const context = await harness.newContext();
    const name = uniqueName('blocked');
    const other = await tabIn(context);
    const page = await tabIn(context);
    await call(page, 'open', name);
    await call(page, 'save', 'kept');
    await call(page, 'close');
    expect(await call(other, 'blockDeletion', name)).toBe('blocked');
    const blocked = await call(page, 'tryOpen', name, 300);
    expect(blocked).toMatchObject({ ok: false, name: 'PersistenceError', reason: 'DATABASE_BLOCKED' });
    expect(blocked.message).toMatch(/close other tabs/);
    await call(other, 'releaseDeletion'); // the deletion goes through: the database is gone
    expect(await call(page, 'tryOpen', name, 300)).toEqual({ ok: true });
    expect(await call(page, 'ids')).toEqual([]);
    await context.close();
  });

  it('a writer whose lock another tab takes away (steal) is refused with OWNERSHIP_LOST and overwrites nothing', async () => {
    const context = await harness.newContext();
    const name = uniqueName('steal');
    const writer = await tabIn(context);
    const thief = await tabIn(context);
    await call(writer, 'open', name);
    expect(await call(writer, 'save', 'before')).toEqual({ ok: true });
    expect(await call(thief, 'stealLock', name)).toBe('stolen');
    // The writer's page hears of the steal a moment later (a message from the browser process; slow
    // on a busy machine). Until then its writes are still its own and land; from then on they are
    // refused. Either way, nothing it acknowledged may be missing afterwards.
    const accepted: string[] = [];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const result = await call(writer, 'save', `after-${i}`);
      if (result.ok) accepted.push(`after-${i}`);
      else refused = result;
      if (refused === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(refused).toMatchObject({ ok: false, name: 'PersistenceError', reason: 'OWNERSHIP_LOST' });
    await thief.close(); // the stolen lock goes with its page
    const check = await tabIn(context);
    await call(check, 'open', name);
    expect([...(await call(check, 'ids'))].sort()).toEqual(['before', ...accepted].sort());
    await context.close();
  });

  it("the README's example page (examples/browser, no bundler: dist/browser.js and dist/sql-wasm.wasm) writes, follows and takes over", async () => {
    ensureBuilt();
    for (const [from, to] of [
      ['dist', 'dist'],
      ['examples/browser', 'examples/browser'],
    ] as const) {
      mkdirSync(join(harness.buildDir, to), { recursive: true });
      for (const file of readdirSync(join(repoRoot, from))) {
        if (/\.(js|wasm|html)$/.test(file)) copyFileSync(join(repoRoot, from, file), join(harness.buildDir, to, file));
      }
    }
    const context = await harness.newContext();
    const open = async (): Promise<Page> => {
      const page = await harness.newPage(context);
      await page.goto(harness.url('/examples/browser/index.html'));
      await page.waitForSelector('body[data-ready="true"]');
      return page;
    };
    const first = await open();
    expect(await first.textContent('#role')).toBe('writer');
    await first.click('#add');
    await first.click('#add');
    await until(() => first.locator('#tasks li').count(), (count) => count === 2, 'two tasks listed');
    const second = await open();
    expect(await second.textContent('#role')).toMatch(/^follower/);
    expect(await second.isDisabled('#add')).toBe(true);
    expect(await second.locator('#tasks li').count()).toBe(2);
    await first.click('#add');
    await until(() => second.locator('#tasks li').count(), (count) => count === 3, 'the follower to list the new task');
    await first.close();
    await until(() => second.textContent('#role'), (role) => role === 'writer', 'the second tab to take over');
    await second.click('#add');
    await until(() => second.locator('#tasks li').count(), (count) => count === 4, 'its own write listed');
    expect(harness.consoleOf(second).filter((line) => /error/i.test(line))).toEqual([]);
    await context.close();
  });
});

/** SIGKILLs every process whose command line mentions `text` (a Chromium profile directory). */
function killProcessesMentioning(text: string): void {
  let killed = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!commandLine.includes(text) || Number(pid) === process.pid) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed++;
    } catch {
      /* gone meanwhile */
    }
  }
  if (killed === 0) throw new Error(`no process mentions ${text}`);
}
