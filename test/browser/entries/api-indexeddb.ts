// The API suite on sql.js in Chromium, each store on a new IndexedDB database (real IndexedDB,
// real Web Locks), with durable writes: every write the suite makes goes through the journal.
import { createIndexedDbAdapter } from '../../../adapters/indexeddb.js';
import { openStore } from '../../../src/index.js';
import { defineApiSuite } from '../../api/suite.js';

let n = 0;
defineApiSuite('sql.js in Chromium (indexeddb adapter)', (clock) =>
  openStore({ clock, wasm: '/sql-wasm.wasm', adapter: createIndexedDbAdapter({ name: `api-${Date.now()}-${++n}` }) }),
);
