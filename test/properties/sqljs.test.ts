import { createMemoryAdapter } from '../../adapters/memory.js';
import { openStore } from '../../src/index.js';
import { defineQueueProperties } from './queue.js';
import { definePropertySuite } from './suite.js';

definePropertySuite('sql.js (memory adapter)', {
  open: (now) => openStore({ clock: now }),
  // The exported image, opened in a new store.
  reopen: async (store, now) => openStore({ adapter: createMemoryAdapter({ image: await store.exportImage() }), clock: now }),
});

defineQueueProperties('sql.js (memory adapter)', (now) => openStore({ clock: now }));
