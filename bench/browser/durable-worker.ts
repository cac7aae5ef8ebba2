/**
 * The store in a dedicated Worker, as a page that must stay responsive runs it (the IndexedDB
 * adapter works in workers): the page of the browser-durable benchmark posts one request per
 * operation and awaits the answer (bench/browser/durable-page.ts, `measureStallsInWorker`). Its
 * IndexedDB transactions, sql.js and their garbage collections then run on this thread, not the page's.
 *
 * Requests `{ id, op, ... }`, answers `{ id, result }` or `{ id, error }`:
 * - `open { name, checkpointBytes? }`: opens the store, checkpoints once; `{ openMs, imageBytes, checkpointThresholdBytes, lastCheckpointAt, lastCheckpointMs }`;
 * - `save`: saves the next task of the sequence; `{ lastCheckpointAt, lastCheckpointMs }`;
 * - `checkpoint`: an explicit checkpoint; `{ lastCheckpointAt, lastCheckpointMs }`;
 * - `close`: closes the store; `{ closeMs }`.
 */
import { createIndexedDbAdapter } from '../../adapters/indexeddb.js';
import { openStore, type Store } from '../../src/index.js';
import { SAVES_SEED, Tasks } from './tasks.js';

let store: Store | undefined;
let tasks = new Tasks(SAVES_SEED);

const open = (): Store => {
  if (!store) throw new Error('no store is open in the worker');
  return store;
};

const checkpointed = (s: Store) => ({ lastCheckpointAt: s.health().lastCheckpointAt, lastCheckpointMs: s.health().lastCheckpointMs });

const ops: Record<string, (request: { name?: string; checkpointBytes?: number }) => Promise<unknown>> = {
  async open({ name, checkpointBytes }) {
    const t0 = performance.now();
    store = await openStore({ wasm: '/sql-wasm.wasm', adapter: createIndexedDbAdapter({ name: name as string }), ...(checkpointBytes ? { checkpointBytes } : {}) });
    await store.listTasks({ limit: 1 });
    const openMs = performance.now() - t0;
    await store.checkpoint();
    tasks = new Tasks(SAVES_SEED);
    const { imageBytes, checkpointThresholdBytes } = store.health();
    return { openMs, imageBytes, checkpointThresholdBytes, ...checkpointed(store) };
  },
  async save() {
    const s = open();
    await s.saveTask(tasks.newTask());
    return checkpointed(s);
  },
  async checkpoint() {
    const s = open();
    await s.checkpoint();
    return checkpointed(s);
  },
  async close() {
    const t0 = performance.now();
    await open().close();
    store = undefined;
    return { closeMs: performance.now() - t0 };
  },
};

addEventListener('message', (event: MessageEvent<{ id: number; op: string; name?: string; checkpointBytes?: number }>) => {
  const { id, op } = event.data;
  const run = ops[op];
  (run ? run(event.data) : Promise.reject(new Error(`unknown op ${op}`))).then(
    (result) => postMessage({ id, result }),
    (e: unknown) => postMessage({ id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
  );
});
