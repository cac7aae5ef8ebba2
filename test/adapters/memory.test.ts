import { createMemoryAdapter, createMemoryVolume } from '../../adapters/memory.js';
import { defineAdapterConformance } from './conformance.js';

defineAdapterConformance(
  'memory',
  async () => {
    const volume = createMemoryVolume();
    return { open: () => createMemoryAdapter({ volume }), cleanup: async () => {} };
  },
  { noCheckpointFailure: 'impossible for memory: a checkpoint only copies bytes, and a copy fails only for a detached buffer (tested above)' },
);
