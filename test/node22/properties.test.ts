/**
 * The property tests on the node:sqlite engine: every record round-trips exactly (also in a second
 * node:sqlite store opened on the same file while the first is open), and every invalid input is
 * refused leaving the exported image byte for byte the same.
 */
import { afterAll } from 'vitest';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { openStore, type Store } from '../../src/index.js';
import { tempDir } from '../helpers/go-schema.js';
import { defineQueueProperties } from '../properties/queue.js';
import { definePropertySuite } from '../properties/suite.js';

const dir = tempDir('pa-properties-node-sqlite-');
afterAll(() => dir.remove());
const files = new WeakMap<Store, string>();
let n = 0;

definePropertySuite('node:sqlite (a file in WAL mode)', {
  async open(now) {
    const path = dir.file(`db-${n++}.db`);
    const store = await openStore({ clock: now, engine: createNodeSqliteEngine({ path }) });
    files.set(store, path);
    return store;
  },
  // Another connection on the same file, reading what the first one committed to the WAL.
  reopen: (store, now) => openStore({ clock: now, engine: createNodeSqliteEngine({ path: files.get(store) as string }) }),
});

defineQueueProperties('node:sqlite (a file in WAL mode)', (now) => openStore({ clock: now, engine: createNodeSqliteEngine({ path: dir.file(`queue-${n++}.db`) }) }), 25);
