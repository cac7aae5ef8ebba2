// Node, three copies of the package in one process: the ESM entry, the CJS entry (a dual-package
// install) and the ./browser bundle. instanceof must hold across them; a LockError thrown by the CJS
// copy's store for a file the ESM copy's store owns is an ESM LockError.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crossInstanceof } from './error-checks.mjs';

const require = createRequire(import.meta.url);
const esm = await import('@platform-agent/store');
const cjs = require('@platform-agent/store');
const browser = await import('@platform-agent/store/browser');
const copies = { esm, cjs, browser };
const cross = {};
for (const [a, from] of Object.entries(copies)) {
  for (const [b, to] of Object.entries(copies)) if (a !== b) cross[`${a}->${b}`] = crossInstanceof(from, to);
}

const dir = mkdtempSync(join(tmpdir(), 'pa-package-'));
const path = join(dir, 'agent.db');
const owner = await esm.openStore({ adapter: (await import('@platform-agent/store/adapters/fs')).createFileAdapter({ path }) });
let locked;
try {
  await cjs.openStore({ adapter: require('@platform-agent/store/adapters/fs').createFileAdapter({ path }) });
} catch (e) {
  const narrowed = esm.isStoreError(e) && e.code === 'LOCKED' ? e.holder : undefined;
  locked = { printed: String(e), sameClassInCjs: e instanceof cjs.LockError, esmLockError: e instanceof esm.LockError, esmStoreError: e instanceof esm.StoreError, browserLockError: e instanceof browser.LockError, notValidation: !(e instanceof esm.ValidationError), holderPid: narrowed?.pid };
}
await owner.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ distinct: esm.StoreError !== cjs.StoreError && esm.StoreError !== browser.StoreError, cross, locked, pid: process.pid }));
