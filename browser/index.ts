/**
 * The browser bundle (`@platform-agent/store/browser`, `dist/browser.js`): the core, the IndexedDB
 * adapter and the memory adapter in one ES module with sql.js, zod and idb-keyval inside, for pages
 * that load it with a plain `<script type="module">` and no bundler. The SQLite WebAssembly binary
 * ships beside it (`dist/sql-wasm.wasm`); pass its URL as `wasm`:
 *
 * ```html
 * <script type="module">
 *   import { openStore, createIndexedDbAdapter } from './vendor/store/browser.js';
 *   const store = await openStore({
 *     wasm: new URL('./vendor/store/sql-wasm.wasm', import.meta.url),
 *     adapter: createIndexedDbAdapter({ name: 'agent' }),
 *     whenLocked: 'follow',
 *   });
 * </script>
 * ```
 *
 * With a bundler (Vite, esbuild, webpack), import the package's own subpaths instead.
 */
export * from '../src/index.js';
export { createIndexedDbAdapter, indexedDbNames, IMAGE_CHUNK_BYTES, type IndexedDbAdapterOptions } from '../adapters/indexeddb.js';
export { createMemoryAdapter, createMemoryVolume, type MemoryAdapterOptions, type MemoryVolume } from '../adapters/memory.js';
