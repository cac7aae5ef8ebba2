/**
 * A store in a dedicated Worker, on the IndexedDB adapter, as a page that must stay responsive runs
 * it (docs/browser.md): the page posts `{ id, op, ... }` and gets `{ id, result }` or
 * `{ id, error: { name, code, message } }` back. Ops: `open { name }`, `save { task }`,
 * `list`, `close`. Used by test/browser/entries/worker-indexeddb.ts.
 */
import { createIndexedDbAdapter } from '../../../adapters/indexeddb.js';
import { openStore, type Store, type TaskInput } from '../../../src/index.js';

let store: Store | undefined;

const opened = (): Store => {
  if (!store) throw new Error('no store is open in this worker');
  return store;
};

const ops: Record<string, (request: { name?: string; task?: TaskInput }) => Promise<unknown>> = {
  async open({ name }) {
    store = await openStore({ wasm: '/sql-wasm.wasm', adapter: createIndexedDbAdapter({ name: name as string }) });
    return null;
  },
  save: async ({ task }) => opened().saveTask(task as TaskInput),
  list: async () => opened().listTasks(),
  async close() {
    await opened().close();
    store = undefined;
    return null;
  },
};

addEventListener('message', (event: MessageEvent<{ id: number; op: string; name?: string; task?: TaskInput }>) => {
  const { id, op } = event.data;
  const run = ops[op];
  (run ? run(event.data) : Promise.reject(new Error(`unknown op ${op}`))).then(
    (result) => postMessage({ id, result }),
    (e: unknown) => postMessage({ id, error: { name: (e as Error)?.name, code: (e as { code?: unknown })?.code, message: (e as Error)?.message ?? String(e) } }),
  );
});
