// The store in a dedicated Worker (test/browser/workers/store-worker.ts) on real IndexedDB, driven
// from the page as docs/browser.md shows: its writes are durable, one writer holds the database
// across the page and its workers, and a worker that dies without closing loses nothing acknowledged.
import { describe, expect, it } from 'vitest';
import { createIndexedDbAdapter } from '../../../adapters/indexeddb.js';
import { LockError, openStore, type Task } from '../../../src/index.js';
import { deleteIndexedDb } from '../../helpers/indexeddb.js';

/** A worker running the store, and a call into it that resolves with its answer. */
function storeWorker(): { call<T>(op: string, extra?: Record<string, unknown>): Promise<T>; terminate(): void } {
  const worker = new Worker('/store-worker.js', { type: 'module' });
  let ids = 0;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (e: unknown) => void }>();
  worker.onmessage = (event: MessageEvent<{ id: number; result?: unknown; error?: { name?: string; code?: unknown; message: string } }>) => {
    const pending = waiting.get(event.data.id);
    waiting.delete(event.data.id);
    if (event.data.error) pending?.reject(Object.assign(new Error(event.data.error.message), event.data.error));
    else pending?.resolve(event.data.result);
  };
  worker.onerror = (event) => {
    for (const pending of waiting.values()) pending.reject(new Error(`the worker failed: ${event.message}`));
    waiting.clear();
  };
  return {
    call: <T>(op: string, extra: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = ++ids;
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        worker.postMessage({ id, op, ...extra });
      }),
    terminate: () => worker.terminate(),
  };
}

describe('the store in a dedicated Worker (IndexedDB)', () => {
  it("keeps every save the page awaited through a worker that dies without closing, and holds the database's one writer lock meanwhile", async () => {
    const name = `worker-${Date.now()}`;
    const first = storeWorker();
    try {
      await first.call('open', { name });
      for (let i = 0; i < 40; i++) await first.call('save', { task: { id: `w-${i}`, command: 'deploy', params: { i } } });
      // The worker owns the database: a store in the page cannot open it for writing.
      const refused = await openStore({ wasm: '/sql-wasm.wasm', adapter: createIndexedDbAdapter({ name }) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(LockError);
    } finally {
      // Terminated, not closed: as a crashed worker (its lock goes with it).
      first.terminate();
    }
    const second = storeWorker();
    try {
      await second.call('open', { name });
      const tasks = await second.call<Task[]>('list');
      expect(tasks.map((t) => t.id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `w-${i}`).sort());
      await second.call('close');
    } finally {
      second.terminate();
    }
    await deleteIndexedDb(name);
  });
});
