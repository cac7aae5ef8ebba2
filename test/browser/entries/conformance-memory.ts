// The adapter conformance suite on the memory adapter, in Chromium.
import { beforeAll } from 'vitest';
import { createMemoryAdapter, createMemoryVolume } from '../../../adapters/memory.js';
import { loadSqlJs } from '../../../src/index.js';
import { defineAdapterConformance } from '../../adapters/conformance.js';

// The suite makes its SQLite images with createSqlJsEngine(), which takes no wasm option: sql.js
// loads once per page, so loading it from the server first is what makes those calls work here.
beforeAll(async () => {
  await loadSqlJs('/sql-wasm.wasm');
});

defineAdapterConformance(
  'memory, in Chromium',
  async () => {
    const volume = createMemoryVolume();
    return { open: () => createMemoryAdapter({ volume }), cleanup: async () => {} };
  },
  { noCheckpointFailure: 'impossible for memory: a checkpoint only copies bytes, and a copy fails only for a detached buffer (tested above)' },
);
