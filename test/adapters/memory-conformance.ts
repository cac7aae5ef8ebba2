// The conformance suite on the memory adapter, defined once for Node (memory.test.ts) and Chromium
// (test/browser/entries/conformance-memory.ts). Imports nothing from Node.
import { createMemoryAdapter, createMemoryVolume } from '../../adapters/memory.js';
import { defineAdapterConformance } from './conformance.js';

export function defineMemoryConformance(name: string): void {
  defineAdapterConformance(
    name,
    async () => {
      const volume = createMemoryVolume();
      return { open: () => createMemoryAdapter({ volume }), cleanup: async () => {} };
    },
    { noCheckpointFailure: 'impossible for memory: a checkpoint only copies bytes, and a copy fails only for a detached buffer (tested above)' },
  );
}
