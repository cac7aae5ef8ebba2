/**
 * A page with a strict Content-Security-Policy (no 'unsafe-eval', only 'wasm-unsafe-eval' so SQLite
 * compiles) opens the store and writes: nothing may be reported as a violation. zod would probe
 * `new Function` while building its schemas; the store runs it jitless.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserHarness, type BrowserHarness } from './harness.js';
import { startStaticServer, type StaticServer } from './server.js';

const STRICT_CSP = "script-src 'self' 'wasm-unsafe-eval'";

let harness: BrowserHarness;
let site: StaticServer;
beforeAll(async () => {
  harness = await startBrowserHarness({ entries: { 'csp-store': 'test/browser/pages/csp-store.ts' } });
  // No inline script under this policy: a classic script listens for violations before the module
  // (and everything it imports) runs; the probe is a control that the listener hears one.
  writeFileSync(
    join(harness.buildDir, 'csp-listen.js'),
    "globalThis.violations = [];\ndocument.addEventListener('securitypolicyviolation', (e) => globalThis.violations.push(e.violatedDirective + ' ' + e.blockedURI));\n",
  );
  writeFileSync(join(harness.buildDir, 'csp-probe.js'), "try { new Function('return 1'); } catch { /* refused, and reported */ }\n");
  writeFileSync(
    join(harness.buildDir, 'csp.html'),
    '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script src="./csp-listen.js"></script><script type="module" src="./csp-store.js"></script>',
  );
  site = await startStaticServer(harness.buildDir, { headers: { 'content-security-policy': STRICT_CSP } });
}, 120_000);
afterAll(async () => {
  await site?.close();
  await harness?.close();
});

const violations = (page: Page) => page.evaluate(() => (globalThis as unknown as { violations: string[] }).violations);

/**
 * The CSP issues Chromium's DevTools would show for the page: Chromium reports a refusal as an
 * issue (the DevTools protocol's Audits domain), not through the console that playwright hears.
 */
async function cspIssues(page: Page): Promise<string[]> {
  const issues: string[] = [];
  const session = await page.context().newCDPSession(page);
  session.on('Audits.issueAdded', ({ issue }) => {
    const details = issue.details.contentSecurityPolicyIssueDetails;
    if (issue.code === 'ContentSecurityPolicyIssue') issues.push(`${details?.contentSecurityPolicyViolationType} ${details?.violatedDirective} at ${details?.sourceCodeLocation?.url ?? '?'}`);
  });
  await session.send('Audits.enable');
  return issues;
}

describe(`a page under Content-Security-Policy: ${STRICT_CSP}`, () => {
  it('opens an IndexedDB store, writes, refuses a bad record, reads back: no violation event, no CSP issue in DevTools', async () => {
    const page = await harness.newPage();
    const issues = await cspIssues(page);
    const response = await page.goto(`${site.origin}/csp.html`);
    expect(response?.headers()['content-security-policy']).toBe(STRICT_CSP);
    await page.waitForFunction(() => (globalThis as unknown as { cspRun?: { done: boolean } }).cspRun?.done === true, undefined, { timeout: 30_000 });
    const run = await page.evaluate(() => (globalThis as unknown as { cspRun: unknown }).cspRun);
    expect(run).toEqual({ done: true, tasks: ['t1:completed', 't2:pending'], refused: expect.stringMatching(/^ValidationError: \[@platform-agent\/store\] invalid task: id: /) });
    expect(await violations(page)).toEqual([]);
    expect(issues).toEqual([]);
    expect(harness.consoleOf(page).filter((line) => /error/i.test(line))).toEqual([]);

    // The control: code that does use eval on this page is refused and heard.
    await page.addScriptTag({ url: './csp-probe.js' });
    await expect.poll(() => violations(page)).toEqual([expect.stringMatching(/^script-src eval$/)]);
    await expect.poll(() => issues).toEqual([expect.stringMatching(/^kEvalViolation script-src at .*\/csp-probe\.js$/)]);
    await page.close();
  });
});
