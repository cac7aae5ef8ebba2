/**
 * The memory adapter (`@platform-agent/store/adapters/memory`): the core's own default, kept in
 * `src/memory-adapter.ts` (the core never imports `adapters/`), re-exported here as an adapter like
 * the others.
 */
export { createMemoryAdapter, createMemoryVolume, type MemoryAdapterOptions, type MemoryVolume } from '../src/memory-adapter.js';
