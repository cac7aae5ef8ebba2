import { copyFile } from 'node:fs/promises';
import { defineConfig } from 'tsup';

// `npm run build` empties dist/ first: the two builds below run side by side, so neither cleans.
export default defineConfig([
  {
    // One entry per package subpath, mirrored 1:1 by the `exports` map in package.json.
    entry: {
      index: 'src/index.ts',
      'adapters/memory': 'adapters/memory.ts',
      'adapters/fs': 'adapters/fs.ts',
      'adapters/indexeddb': 'adapters/indexeddb.ts',
      'adapters/kv': 'adapters/kv.ts',
      'engines/d1': 'engines/d1.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    splitting: false,
    treeshake: true,
  },
  {
    // The browser bundle (`./browser`): one ES module with every dependency inside, for pages
    // without a bundler, and the SQLite WebAssembly binary beside it (`./sql-wasm.wasm`).
    entry: { browser: 'browser/index.ts' },
    format: ['esm'],
    platform: 'browser',
    dts: true,
    sourcemap: true,
    target: 'es2022',
    splitting: false,
    treeshake: true,
    noExternal: [/.*/],
    minify: true,
    async onSuccess() {
      await copyFile('node_modules/sql.js/dist/sql-wasm.wasm', 'dist/sql-wasm.wasm');
    },
  },
]);
