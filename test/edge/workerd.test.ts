/**
 * The store in Cloudflare's workerd (through miniflare): a Worker bundled from the package's own
 * dist, the SQLite binary imported as a compiled WebAssembly.Module, as Workers import `.wasm`.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../crash/built.js';
import { repoRoot } from '../helpers/go-db.js';
import { bundleWorker, startWorker } from './workers.js';

let dir: string;
let mf: Miniflare;

beforeAll(async () => {
  ensureBuilt();
  mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
  dir = mkdtempSync(join(repoRoot, 'test-output/workerd-'));
  await bundleWorker('test/edge/worker-entry.js', dir);
  mf = start();
}, 120_000);

/** A Miniflare running the Worker, its KV kept on disk in the test's directory (so it outlives a restart). */
function start(): Miniflare {
  return startWorker(dir, { kvNamespaces: ['KV'], kvPersist: join(dir, 'kv') });
}

afterAll(async () => {
  await mf?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await mf.dispatchFetch(`http://worker${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('in workerd (miniflare)', () => {
  // First, while sql.js is not loaded yet in this isolate: the failure must leave it loadable.
  it('without the wasm option, opening fails with a typed error that says how to pass the binary', async () => {
    const { status, body } = await get('/no-wasm');
    expect(status).toBe(500);
    expect(body).toMatchObject({ ok: false, name: 'UnsupportedError', code: 'UNSUPPORTED' });
    expect(body.message).toMatch(/pass it as the wasm option, a WebAssembly\.Module/);
  });

  it('a store opens with the binary as a compiled WebAssembly.Module, writes, reads and exports', async () => {
    const { status, body } = await get('/round-trip');
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
    const value = body.value as { task: Record<string, unknown>; image: number };
    expect(value.task).toMatchObject({ id: 't1', status: 'completed', params: { env: 'edge' }, result: { ok: true } });
    expect(value.image).toBeGreaterThan(4096);
    // And again in the same isolate (sql.js stays loaded).
    expect((await get('/round-trip')).status).toBe(200);
  });

  it('with the KV adapter, writes made in separate requests are read back, also after Miniflare restarts on the same storage', async () => {
    for (const id of ['a', 'b', 'c']) expect(await get(`/kv/save?id=${id}`)).toEqual({ status: 200, body: { ok: true } });
    expect(await get('/kv/list')).toEqual({ status: 200, body: { ok: true, value: ['a', 'b', 'c'] } });
    // The image spans several KV values (16 KiB chunks), named by the manifest written last.
    // (Typed here by hand: miniflare's own types for it need the Workers type package.)
    const kv = (await mf.getKVNamespace('KV')) as unknown as {
      list(options: { prefix: string }): Promise<{ keys: { name: string }[] }>;
      get(key: string, type: 'json'): Promise<unknown>;
    };
    const manifest = (await kv.get('agent', 'json')) as { format: number; image: { id: number; chunks: number } };
    const chunks = (await kv.list({ prefix: `agent/image/${manifest.image.id}/` })).keys;
    expect(chunks.length).toBeGreaterThan(1);
    expect(manifest).toMatchObject({ format: 1, image: { chunks: chunks.length } });
    await mf.dispose();
    mf = start();
    expect(await get('/kv/list')).toEqual({ status: 200, body: { ok: true, value: ['a', 'b', 'c'] } });
    expect(await get('/kv/save?id=d')).toEqual({ status: 200, body: { ok: true } });
    expect(await get('/kv/list')).toEqual({ status: 200, body: { ok: true, value: ['a', 'b', 'c', 'd'] } });
  });
});
