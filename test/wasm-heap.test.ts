// Its own file, so its process loads sql.js from a compiled module (the store then sees the heap).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';
import { openStore, wasmHeapBytes } from '../src/index.js';

const require = createRequire(import.meta.url);

it('a long run of operations does not grow the WASM heap (statements are cached, not leaked)', async () => {
  const module = new WebAssembly.Module(readFileSync(require.resolve('sql.js/dist/sql-wasm.wasm')));
  const store = await openStore({ wasm: module });
  const round = async (from: number, n: number): Promise<void> => {
    for (let i = from; i < from + n; i++) {
      await store.saveTask({ id: `t${i % 500}`, command: 'c', params: { i } });
      await store.getTask(`t${(i * 7) % 500}`);
      await store.updateTaskStatus(`t${i % 500}`, 'running');
      await store.listTasks({ status: 'running', limit: 10 });
      await store.saveThreadSession({ channel: 'C', threadTs: String(i % 100) });
      await store.touchThreadSession('C', String(i % 100));
    }
  };
  await round(0, 2_000);
  const warm = wasmHeapBytes();
  expect(warm).toBeGreaterThan(0);
  await round(2_000, 8_000);
  expect(wasmHeapBytes()).toBe(warm);
  await store.close();
});
