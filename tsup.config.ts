import { defineConfig } from 'tsup';

// One entry per package subpath, mirrored 1:1 by the `exports` map in package.json.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'adapters/memory': 'adapters/memory.ts',
    'adapters/fs': 'adapters/fs.ts',
    'adapters/indexeddb': 'adapters/indexeddb.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  splitting: false,
  treeshake: true,
});
