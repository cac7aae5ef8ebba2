/**
 * The store on a page whose Content-Security-Policy forbids `eval` (csp.chromium.test.ts): opens an
 * IndexedDB store, writes and reads back, has zod refuse a bad record, and reports on `globalThis.cspRun`.
 * Built from the sources; test/package/ runs the same under the built package.
 */
import { createIndexedDbAdapter } from '../../../adapters/indexeddb.js';
import { openStore, ValidationError } from '../../../src/index.js';

interface CspRun {
  done: boolean;
  tasks?: string[];
  refused?: string;
  error?: string;
}
const run: CspRun = { done: false };
(globalThis as unknown as { cspRun: CspRun }).cspRun = run;

try {
  const store = await openStore({ wasm: '/sql-wasm.wasm', adapter: createIndexedDbAdapter({ name: `csp-${Date.now()}` }) });
  await store.saveTask({ id: 't1', command: 'deploy', params: { service: 'api' }, callerId: 'U07' });
  await store.saveTask({ id: 't2', command: 'build', params: {} });
  await store.completeTask('t1', { result: { pods: 12 } });
  run.refused = await store.saveTask({ id: '', command: 'x', params: {} }).then(
    () => 'accepted',
    (e: unknown) => (e instanceof ValidationError ? String(e) : `not a ValidationError: ${String(e)}`),
  );
  run.tasks = (await store.listTasks()).map((t) => `${t.id}:${t.status}`).sort();
  await store.close();
} catch (e) {
  run.error = e instanceof Error ? (e.stack ?? String(e)) : String(e);
}
run.done = true;
