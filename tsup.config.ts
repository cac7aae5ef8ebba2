import { copyFile, mkdir } from 'node:fs/promises';
import { defineConfig } from 'tsup';

// `npm run build` empties dist/ first: the builds below run side by side, so none cleans.
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
      'engines/node-sqlite': 'engines/node-sqlite.ts',
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
  {
    // The `agent-store` command (package `bin`): Node only, one ES module; sql.js and zod stay
    // dependencies, loaded from node_modules at run time.
    entry: { 'cli/agent-store': 'cli/main.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    splitting: false,
    treeshake: true,
  },
  {
    // The dashboard: a static page (`dist/dashboard/`) that `agent-store serve` serves and an app can
    // host on its own origin. One browser bundle with everything inside, no Node code, no CDN; its WASM
    // is the package's one copy, dist/sql-wasm.wasm (the page loads ../sql-wasm.wasm).
    entry: { 'dashboard/app': 'dashboard/app.ts' },
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    splitting: false,
    treeshake: true,
    noExternal: [/.*/],
    minify: true,
    async onSuccess() {
      await mkdir('dist/dashboard', { recursive: true });
      await Promise.all([
        copyFile('dashboard/index.html', 'dist/dashboard/index.html'),
        copyFile('dashboard/style.css', 'dist/dashboard/style.css'),
      ]);
    },
  },
]);
