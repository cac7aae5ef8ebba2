/**
 * Workers for the edge tests: bundled from a Worker's entry as a Worker's bundler does (the package
 * by its name, so through its exports map and dist; browser builds of dependencies; the `.wasm`
 * import left to the runtime, next to the bundle), and run in workerd through miniflare.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { repoRoot } from '../helpers/go-db.js';

/** The compatibility date of the tests and the examples (wrangler 4.86 on Node 20 supports it). */
export const COMPATIBILITY_DATE = '2026-04-26';

// Every `.wasm` import is the SQLite binary, a CompiledWasm module beside the bundle.
const wasmBeside: Plugin = {
  name: 'wasm-beside',
  setup(b) {
    b.onResolve({ filter: /\.wasm$/ }, () => ({ path: './sql-wasm.wasm', external: true }));
  },
};

/** Bundles `entry` (relative to the repository) into `outDir`, with `sql-wasm.wasm` beside it. */
export async function bundleWorker(entry: string, outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    absWorkingDir: repoRoot,
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['browser', 'module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    plugins: [wasmBeside],
    outfile: join(outDir, 'worker.js'),
    logLevel: 'silent',
  });
  copyFileSync(join(repoRoot, 'dist/sql-wasm.wasm'), join(outDir, 'sql-wasm.wasm'));
  return outDir;
}

/** A Miniflare running the Worker bundled in `outDir`, with `bindings` (KV namespaces, D1 databases…). */
export function startWorker(outDir: string, bindings: Omit<MiniflareOptions, 'modules' | 'script' | 'scriptPath'> = {}): Miniflare {
  return new Miniflare({
    modules: [
      { type: 'ESModule', path: join(outDir, 'worker.js') },
      { type: 'CompiledWasm', path: join(outDir, 'sql-wasm.wasm') },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    ...bindings,
  } as MiniflareOptions);
}
