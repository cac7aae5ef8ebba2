import { statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './crash/built.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

// The core, the browser and edge adapters, and the dashboard page must bundle for a browser with
// nothing from Node in them.
describe('browser bundles', () => {
  it.each(['src/index.ts', 'adapters/memory.ts', 'adapters/indexeddb.ts', 'adapters/kv.ts', 'engines/d1.ts', 'dashboard/app.ts'])('%s bundles for the browser without Node built-ins', async (entry) => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(imports.filter((path) => nodeBuiltins.has(path))).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    if (entry === 'src/index.ts') expect(inputs).toContain('node_modules/sql.js/dist/sql-wasm-browser.js');
    expect(inputs.filter((path) => path.includes('node_modules') && !/node_modules\/(sql\.js|zod|idb-keyval)\//.test(path))).toEqual([]);
    if (entry === 'adapters/indexeddb.ts') expect(inputs.some((path) => path.startsWith('node_modules/idb-keyval/'))).toBe(true);
    // The page uses the core, never the command (which is Node).
    expect(inputs.filter((path) => path.startsWith('cli/'))).toEqual([]);
    if (entry === 'dashboard/app.ts') expect(inputs).toContain('src/store.ts');
    // `import { z } from 'zod'` keeps every locale zod has in the bundle; the namespace import only English.
    const [output] = Object.values(result.metafile.outputs);
    const bundled = Object.entries(output?.inputs ?? {}).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path);
    if (entry === 'src/index.ts' || entry === 'dashboard/app.ts') expect(bundled).toContain('node_modules/zod/v4/locales/en.js');
    expect(bundled.filter((path) => /zod\/.*\/locales\/(?!en\.js$)/.test(path))).toEqual([]);
  });
});

// What a page downloads: the built bundles (minified, zod and sql.js's glue inside; the WASM apart).
const MAX_BROWSER_BUNDLE_BYTES = 260_000;

describe('browser bundle sizes', () => {
  it.each(['dist/browser.js', 'dist/dashboard/app.js'])(`%s is under ${MAX_BROWSER_BUNDLE_BYTES / 1000} kB of JavaScript`, (file) => {
    ensureBuilt();
    const bytes = statSync(join(root, file)).size;
    expect(bytes, `${file}: ${bytes} bytes`).toBeGreaterThan(50_000); // it is the whole bundle
    expect(bytes, `${file}: ${bytes} bytes`).toBeLessThan(MAX_BROWSER_BUNDLE_BYTES);
  });
});
