// The README's page without a bundler: dist/browser.js and dist/sql-wasm.wasm copied beside it.
import * as store from './browser.js';
import { apiValidationError, describeErrors } from './error-checks.mjs';

const report = { done: false };
globalThis.report = report;
try {
  const error = await apiValidationError(store, { wasm: new URL('./sql-wasm.wasm', import.meta.url), adapter: store.createIndexedDbAdapter({ name: 'browser-page' }) });
  console.log(String(error));
  report.printed = String(error);
  report.errors = describeErrors(store);
} catch (e) {
  report.failure = String((e && e.stack) || e);
}
report.done = true;
