// The adapter conformance suite on the IndexedDB adapter in real Chromium: real IndexedDB, real Web
// Locks (each adapter instance is a lock holder of its own, as two tabs are), and a put refused in
// the middle of a checkpoint's transaction for the atomicity test.
import { beforeAll } from 'vitest';
import { createIndexedDbAdapter } from '../../../adapters/indexeddb.js';
import { loadSqlJs } from '../../../src/index.js';
import { defineAdapterConformance } from '../../adapters/conformance.js';
import { deleteIndexedDb, failEveryPut, failPutOf } from '../../helpers/indexeddb.js';

beforeAll(async () => {
  await loadSqlJs('/sql-wasm.wasm');
});

let n = 0;
defineAdapterConformance(
  'indexeddb, in Chromium',
  async () => {
    const name = `conformance-${Date.now()}-${++n}`;
    return { open: () => createIndexedDbAdapter({ name }), cleanup: () => deleteIndexedDb(name) };
  },
  {
    checkpointFailures: [
      {
        // Every put throws mid-transaction, so the checkpoint's transaction aborts half built. A real
        // quota (set through the DevTools protocol) is tested from outside the page, in
        // test/browser/indexeddb.chromium.test.ts.
        how: 'IndexedDB refused a put in the middle of the transaction (QuotaExceededError)',
        arrange: async () => failEveryPut(),
      },
      {
        // The image chunks are put and the old ones deleted by then: only one transaction undoes that.
        how: 'its last put (the meta) failed after the image chunks were written',
        arrange: async () => failPutOf('meta'),
      },
    ],
  },
);
