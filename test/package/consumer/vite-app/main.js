// A tiny app as users write it, built by `vite build` (production: minified). It opens a store in
// IndexedDB, writes, and prints the error of a bad write; then loads the package's ./browser bundle
// beside its own bundled copy and checks instanceof between the two.
import * as store from '@platform-agent/store';
import { createIndexedDbAdapter } from '@platform-agent/store/adapters/indexeddb';
import wasmUrl from '@platform-agent/store/sql-wasm.wasm?url';
import { apiValidationError, crossInstanceof, describeErrors } from '../error-checks.mjs';

const report = { done: false };
globalThis.report = report;
try {
  const error = await apiValidationError(store, { wasm: wasmUrl, adapter: createIndexedDbAdapter({ name: 'vite-app' }) });
  console.log(String(error));
  report.printed = String(error);
  report.errors = describeErrors(store);
  const browser = await import(/* @vite-ignore */ new URL('/vendor/browser.js', location.href).href);
  report.cross = { appToBrowser: crossInstanceof(store, browser), browserToApp: crossInstanceof(browser, store) };
} catch (e) {
  report.failure = String((e && e.stack) || e);
}
report.done = true;
