/**
 * The harness checked against browser tests with known outcomes (`fixtures/shim-cases.ts`): a
 * failing browser test must fail here with its message, so `suites.chromium.test.ts` cannot pass
 * while the browser's tests do not.
 */
import { request } from 'node:http';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserHarness, type BrowserHarness, type BrowserSuite } from './harness.js';
import { resolveInside } from './server.js';

const FIXTURE = 'test/browser/fixtures/shim-cases.ts';

describe('browser harness', () => {
  let harness: BrowserHarness | undefined;
  let suite: BrowserSuite;
  const started = (): BrowserHarness => harness ?? expect.fail('the harness did not start');

  beforeAll(async () => {
    harness = await startBrowserHarness({ entries: { 'shim-cases': FIXTURE, 'broken-entry': 'test/browser/fixtures/broken-entry.ts' } });
    suite = await harness.openSuite('shim-cases');
  });
  afterAll(() => harness?.close());

  const events = (): Promise<string[] | undefined> => suite.page.evaluate(() => (globalThis as { __events?: string[] }).__events);

  it('lists the tests by full name, in registration order', () => {
    expect(suite.tests).toEqual([
      'outer > inner > passes',
      'outer > fails with a message',
      'matchers > toBe, toEqual and messages',
      'matchers > toMatchObject',
      'matchers > asymmetric matchers',
      'matchers > toBeInstanceOf',
      'matchers > toThrow',
      'matchers > resolves and rejects',
      'matchers > expect.fail',
      'matchers > toHaveLength, toContain, toBeUndefined, toBeGreaterThan, toMatch',
      'each > adds 1 + 2 = 3',
      'each > adds 2 + 3 = 5',
      "each > names 'ann' (3)",
      'failures > times out',
      'failures > throws with a cause',
      'failures > leaves an unhandled rejection',
      'failures > counts assertions',
      'failures > with a failing afterEach > passes by itself',
      'failures > with a failing beforeAll > never starts',
    ]);
  });

  it("runs the hooks in vitest's order (as vitest itself ran this file)", async () => {
    const results = [await suite.run('outer > inner > passes'), await suite.run('outer > fails with a message')];
    expect(results.map((r) => r.ok)).toEqual([true, false]);
    expect(await events()).toEqual([
      'beforeAll file',
      'beforeAll outer',
      'beforeEach file',
      'beforeEach outer 1',
      'beforeEach outer 2',
      'beforeEach inner',
      'test inner passes',
      'afterEach inner',
      'afterEach outer 2',
      'afterEach outer 1',
      'afterEach file',
      'beforeEach file',
      'beforeEach outer 1',
      'beforeEach outer 2',
      'test outer fails',
      'afterEach outer 2',
      'afterEach outer 1',
      'afterEach file',
      'afterAll outer 2',
      'afterAll outer 1',
      'beforeAll outer cleanup',
    ]);
  });

  it('a failing browser test fails here, with its message, diff, source-mapped stack and console output', async () => {
    const result = await suite.run('outer > fails with a message');
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ name: 'AssertionError', message: expect.stringContaining('the message of the failing test') });

    const error = await suite.check('outer > fails with a message').then(
      () => expect.fail('check() passed a failing browser test'),
      (e: unknown) => e as Error & { diff?: string },
    );
    expect(error.name).toBe('AssertionError');
    expect(error.message).toContain("the message of the failing test: expected { id: 1, tags: [ 'a' ] } to deeply equal { id: 2, tags: [ 'a' ] }");
    expect(error.message).toContain('[console.error] a clue from the page');
    expect(error.diff).toMatch(/- Expected[\s\S]*\+ Received[\s\S]*- {3}"id": 2,[\s\S]*\+ {3}"id": 1,/);
    expect(error.stack).toMatch(/test\/browser\/fixtures\/shim-cases\.ts:\d+:\d+/);
  });

  it('the matchers pass and fail as in vitest (each browser test checks both)', async () => {
    const names = suite.tests.filter((name) => name.startsWith('matchers > ') || name.startsWith('each > '));
    expect(names).toHaveLength(11);
    const failed: string[] = [];
    for (const name of names) {
      const result = await suite.run(name);
      if (!result.ok) failed.push(`${name}: ${result.errors.map((e) => e.message).join('; ')}`);
    }
    expect(failed).toEqual([]);
  });

  it.each([
    ['failures > times out', 'test "failures > times out" timed out after 100 ms'],
    ['failures > throws with a cause', 'the outer error\n  caused by TypeError: the inner error'],
    ['failures > leaves an unhandled rejection', 'unhandled error during this test: nobody caught me'],
    ['failures > counts assertions', 'expected number of assertions to be 2, but got 1'],
    ['failures > with a failing afterEach > passes by itself', 'afterEach: afterEach broke'],
    ['failures > with a failing beforeAll > never starts', 'beforeAll hook of "failures > with a failing beforeAll": beforeAll broke'],
    ['no such test', 'no browser test is named "no such test"'],
  ])('reports "%s" as failed: %s', async (name, message) => {
    const result = await suite.run(name);
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => e.message)).toEqual([message]);
  });

  it('a test after a failed beforeAll never starts', async () => {
    expect(await events()).not.toContain('test never starts');
  });

  it('finish() runs the afterAll hooks still due, once', async () => {
    const count = async (event: string) => (await events())?.filter((e) => e === event).length;
    // Every test has run by now, so the file's suite has ended; one more run starts it again.
    expect(await count('beforeAll file')).toBe(await count('afterAll file'));
    await suite.check('outer > inner > passes');
    const ended = await count('afterAll file');
    expect(await count('beforeAll file')).toBe(ended! + 1);
    await suite.finish();
    await suite.finish();
    expect(await count('afterAll file')).toBe(ended! + 1);
    expect((await events())?.slice(-4)).toEqual(['afterAll outer 2', 'afterAll outer 1', 'beforeAll outer cleanup', 'afterAll file']);
  });

  it('an entry that throws while loading fails with its error, mapped to its source', async () => {
    const error = await started()
      .openEntry('broken-entry')
      .then(
        () => expect.fail('the broken entry loaded'),
        (e: unknown) => e as Error,
      );
    expect(error.message).toMatch(/this entry fails to load[\s\S]*test\/browser\/fixtures\/broken-entry\.ts:\d+/);
  });

  it('pages of one context share IndexedDB and Web Locks; another context starts empty', async () => {
    const h = started();
    const context = await h.newContext();
    const first = await h.openEntry('shim-cases', context);
    const second = await h.openEntry('shim-cases', context);
    const elsewhere = await h.openEntry('shim-cases');
    await first.evaluate(async () => {
      await new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('harness-probe');
        open.onsuccess = () => {
          open.result.close();
          resolve();
        };
        open.onerror = () => reject(open.error);
      });
      await new Promise<void>((granted) => {
        void navigator.locks.request('harness-probe', () => {
          granted();
          return new Promise(() => {}); // held until the page goes away
        });
      });
    });
    const seen = (page: Page) =>
      page.evaluate(async () => ({
        databases: (await indexedDB.databases()).map((d) => d.name),
        locks: ((await navigator.locks.query()).held ?? []).map((l) => l.name),
      }));
    expect(await seen(second)).toEqual({ databases: ['harness-probe'], locks: ['harness-probe'] });
    expect(await seen(elsewhere)).toEqual({ databases: [], locks: [] });
  });

  it('serves the build with its MIME types and refuses paths outside it', async () => {
    const { port } = new URL(started().origin);
    const get = (path: string) =>
      new Promise<{ status?: number; type?: string }>((resolve, reject) => {
        // node:http sends the path as given; fetch would normalise the dot segments away.
        request({ host: '127.0.0.1', port, path }, (res) => {
          res.resume();
          resolve({ status: res.statusCode, type: res.headers['content-type'] });
        })
          .on('error', reject)
          .end();
      });
    expect(await get('/sql-wasm.wasm')).toEqual({ status: 200, type: 'application/wasm' });
    expect(await get('/shim-cases.js')).toEqual({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await get('/shim-cases.html?x=1')).toEqual({ status: 200, type: 'text/html; charset=utf-8' });
    expect((await get('/missing.js')).status).toBe(404);
    expect((await get('/')).status).toBe(404);
    for (const outside of ['/../package.json', '/../../package.json', '/%2e%2e/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/..%5c..%5cpackage.json']) {
      expect((await get(outside)).status, outside).toBe(403);
    }
  });

  it('resolveInside keeps paths under the root', () => {
    expect(resolveInside('/srv/root', '/a/../b.js')).toBe('/srv/root/b.js');
    expect(resolveInside('/srv/root', '/a%20b.js?v=1#x')).toBe('/srv/root/a b.js');
    expect(resolveInside('/srv/root', '/../root-sibling/x')).toBeUndefined();
    expect(resolveInside('/srv/root', '/a/../../x')).toBeUndefined();
    expect(resolveInside('/srv/root', '/%2e%2e/x')).toBeUndefined();
    expect(resolveInside('/srv/root', '/x%00.js')).toBeUndefined();
    expect(resolveInside('/srv/root', '/%E0%A4%A')).toBeUndefined();
  });

  it('a missing Chromium fails with how to install it', async () => {
    await expect(startBrowserHarness({ entries: { 'shim-cases': FIXTURE }, executablePath: '/nonexistent/chromium' })).rejects.toThrow(
      /Chromium is not installed \(no \/nonexistent\/chromium\)[\s\S]*apt-get install -y chromium/,
    );
  });
});
