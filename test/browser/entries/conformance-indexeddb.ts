// The adapter conformance suite on the IndexedDB adapter in real Chromium: real IndexedDB, real Web
// Locks (each adapter instance is a lock holder of its own, as two tabs are), and a real quota
// error for the atomicity test.
import { beforeAll } from 'vitest';
import { createIndexedDbAdapter, indexedDbNames } from '../../../adapters/indexeddb.js';
import { loadSqlJs } from '../../../src/index.js';
import { defineAdapterConformance } from '../../adapters/conformance.js';

beforeAll(async () => {
  await loadSqlJs('/sql-wasm.wasm');
});

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(indexedDbNames(name).database);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

let n = 0;
defineAdapterConformance(
  'indexeddb, in Chromium',
  async () => {
    const name = `conformance-${Date.now()}-${++n}`;
    return { open: () => createIndexedDbAdapter({ name }), cleanup: () => deleteDatabase(name) };
  },
  {
    checkpointFailures: [
      {
        // Every put throws mid-transaction, so the checkpoint's transaction aborts half built. A real
        // quota (set through the DevTools protocol) is tested from outside the page, in
        // test/browser/indexeddb.chromium.test.ts.
        how: 'IndexedDB refused a put in the middle of the transaction (QuotaExceededError)',
        arrange: async () => {
          const put = IDBObjectStore.prototype.put;
          IDBObjectStore.prototype.put = function refused(): IDBRequest<IDBValidKey> {
            throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
          };
          return async () => {
            IDBObjectStore.prototype.put = put;
          };
        },
      },
    ],
  },
);
