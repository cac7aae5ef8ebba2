import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SQLJS_WASM_EXPORTS, wasmExports } from '../src/sqljs-loader.js';

const fixture = fileURLToPath(new URL('./fixtures/open-with-wasm.ts', import.meta.url));

// sql.js loads once per realm, so every case runs in a process of its own.
function run(kind: string): { results: string[]; heapBytes: number | null } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fixture, kind], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { results: string[]; heapBytes: number | null };
}

describe('the wasm option, each in a fresh process', () => {
  it('no option: the installed sql.js binary (Node)', () => {
    expect(run('default')).toEqual({ results: ['ok {"ok":true}'], heapBytes: null });
  });

  it.each(['arraybuffer', 'module'])('%s: instantiated by the store, which then knows the heap size', (kind) => {
    const { results, heapBytes } = run(kind);
    expect(results).toEqual(['ok {"ok":true}']);
    expect(heapBytes).toBeGreaterThan(1024 * 1024);
  });

  it.each(['path', 'file-url'])('a %s in Node is read from that place and instantiated by the store', (kind) => {
    const { results, heapBytes } = run(kind);
    expect(results).toEqual(['ok {"ok":true}']);
    expect(heapBytes).toBeGreaterThan(1024 * 1024);
  });

  it('bytes that are no WASM fail with a typed error, and a later good load still works', () => {
    const { results } = run('bytes-retry');
    expect(results[0]).toMatch(/^error UNSUPPORTED UnsupportedError: \[@platform-agent\/store\] cannot load the SQLite WebAssembly binary/);
    expect(results[1]).toBe('ok {"ok":true}');
  });

  it('an http URL is fetched by the store; a 404 is a typed error and can be retried', () => {
    const { results } = run('http-retry');
    expect(results[0]).toMatch(/^error UNSUPPORTED UnsupportedError: .*answered 404/);
    expect(results[1]).toBe('ok {"ok":true}');
  });

  it('a missing file is a typed error naming it, and a later good path still works', () => {
    const { results } = run('bad-path-retry');
    expect(results[0]).toMatch(/^error UNSUPPORTED UnsupportedError: .*cannot load the SQLite WebAssembly binary.*ENOENT.*missing\.wasm/);
    expect(results[1]).toBe('ok {"ok":true}');
  });

  it('valid WASM that is not sql.js\'s binary is a typed error before sql.js sees it, and a later good binary still works', () => {
    const { results } = run('wrong-wasm');
    expect(results[0]).toMatch(/^error UNSUPPORTED UnsupportedError: .*cannot load the SQLite WebAssembly binary.*not the SQLite binary.*exports differ/);
    expect(results[1]).toBe('ok {"ok":true}');
  });

  it("another sql.js build's binary (other export names) is refused up front instead of hanging the open", () => {
    const { results } = run('other-sqljs-build');
    expect(results[0]).toMatch(/^error UNSUPPORTED UnsupportedError: .*exports differ.*@platform-agent\/store\/sql-wasm\.wasm/);
    expect(results[1]).toBe('ok {"ok":true}');
  });

  it('the expected exports are those of the installed sql.js binary (update SQLJS_WASM_EXPORTS with sql.js)', () => {
    const wasmFile = createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm');
    expect(wasmExports(new WebAssembly.Module(readFileSync(wasmFile)))).toBe(SQLJS_WASM_EXPORTS);
    const sqlJs = JSON.parse(readFileSync(new URL('../package.json', pathToFileURL(wasmFile)), 'utf8')) as { version: string };
    expect(sqlJs.version).toBe('1.16.0');
  });

  it('a store opened while another one loads the WASM joins that load (the first call decides)', () => {
    const { results, heapBytes } = run('concurrent-load');
    expect(results).toEqual(['ok {"ok":true}', 'ok {"ok":true}']);
    expect(heapBytes).toBeGreaterThan(1024 * 1024);
  });

  it('in Node a drive-letter path is read as a file, not fetched as a URL', () => {
    expect(run('windows-path').results[0]).toMatch(/^error UNSUPPORTED UnsupportedError: .*ENOENT/);
  });

  it.each(['bom-store-only', 'bom-default-then-store'])(
    '%s: text starting with U+FEFF reads back whole, whoever initialised sql.js',
    (kind) => {
      const expected = JSON.stringify(['\uFEFFbom', '\uFEFFbom', '\uFEFFbom', '\uFEFF', '\uFEFFbom', '\uFEFFblob']);
      expect(run(kind).results).toEqual([expected]);
    },
  );
});
