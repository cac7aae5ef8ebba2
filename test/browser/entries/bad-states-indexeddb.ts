// The bad-state suite on the IndexedDB adapter in real Chromium (real IndexedDB, real Web Locks):
// bad images and journals put there through the adapter, refused with typed errors, untouched.
import { beforeAll } from 'vitest';
import { createIndexedDbAdapter } from '../../../adapters/indexeddb.js';
import { loadSqlJs } from '../../../src/index.js';
import { defineBadStateSuite } from '../../adapters/bad-states.js';
import { deleteIndexedDb } from '../../helpers/indexeddb.js';

beforeAll(async () => {
  await loadSqlJs('/sql-wasm.wasm');
});

let n = 0;
defineBadStateSuite('indexeddb, in Chromium', async () => {
  const name = `bad-states-${Date.now()}-${++n}`;
  return { open: () => createIndexedDbAdapter({ name }), cleanup: () => deleteIndexedDb(name) };
});
