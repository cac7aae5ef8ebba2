/**
 * The bad-state suite (test/adapters/bad-states.ts) on every adapter in Node: memory, fs, the
 * key-value adapter over an in-memory store, and IndexedDB (fake-indexeddb). Chromium runs it on
 * real IndexedDB (test/browser/entries/bad-states-indexeddb.ts).
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileAdapter } from '../../adapters/fs.js';
import { createIndexedDbAdapter } from '../../adapters/indexeddb.js';
import { createKvAdapter, type KeyValueStore } from '../../adapters/kv.js';
import { createMemoryAdapter, createMemoryVolume } from '../../adapters/memory.js';
import { describe, expect, it } from 'vitest';
import { CorruptDatabaseError, openStore } from '../../src/index.js';
import { deleteIndexedDb } from '../helpers/indexeddb.js';
import { createFakeLocks } from '../helpers/web-locks.js';
import { defineBadStateSuite } from './bad-states.js';

defineBadStateSuite('memory', async () => {
  const volume = createMemoryVolume();
  return { open: () => createMemoryAdapter({ volume }), cleanup: async () => {} };
});

defineBadStateSuite('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-bad-states-'));
  return {
    open: () => createFileAdapter({ path: join(dir, 'agent.db') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    // Every file in the directory, by name: a refusal leaves none changed, none added.
    async bytes() {
      const files: Record<string, string> = {};
      for (const name of (await readdir(dir)).sort()) files[name] = createHash('sha256').update(await readFile(join(dir, name))).digest('hex');
      return files;
    },
  };
});

function memoryKv(): KeyValueStore & { values: Map<string, Uint8Array> } {
  const values = new Map<string, Uint8Array>();
  return {
    values,
    async get(key) {
      const value = values.get(key);
      return value === undefined ? null : value.slice().buffer;
    },
    async put(key, value) {
      values.set(key, Uint8Array.prototype.slice.call(value));
    },
    async delete(key) {
      values.delete(key);
    },
  };
}

defineBadStateSuite('kv', async () => {
  const kv = memoryKv();
  return { open: () => createKvAdapter({ kv, key: 'agent', chunkBytes: 16 * 1024 }), cleanup: async () => kv.values.clear() };
});

describe('the kv adapter: an image whose chunks are not all there', () => {
  async function stored() {
    const kv = memoryKv();
    const store = await openStore({ adapter: createKvAdapter({ kv, key: 'agent', chunkBytes: 16 * 1024 }), durability: 'write', onWarning: () => undefined });
    for (let i = 0; i < 40; i++) await store.saveTask({ id: `t${i}`, command: 'deploy', params: { pad: 'x'.repeat(500) } });
    await store.close();
    // The manifest (under the key itself) names the current image; an older one's chunks may linger.
    const manifest = JSON.parse(new TextDecoder().decode(kv.values.get('agent'))) as { image: { id: number; chunks: number } };
    const chunks = Array.from({ length: manifest.image.chunks }, (_, i) => `agent/image/${manifest.image.id}/${i}`);
    for (const chunk of chunks) expect(kv.values.has(chunk)).toBe(true);
    expect(chunks.length).toBeGreaterThan(2);
    return { kv, chunks };
  }

  async function expectDamaged(kv: ReturnType<typeof memoryKv>, message: RegExp): Promise<void> {
    const before = new Map([...kv.values].map(([k, v]) => [k, v.slice()]));
    for (const readOnly of [false, true]) {
      const error = await openStore({ adapter: createKvAdapter({ kv, key: 'agent', chunkBytes: 16 * 1024 }), readOnly, onWarning: () => undefined }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptDatabaseError);
      expect((error as Error).message).toMatch(message);
    }
    expect([...kv.values.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(Buffer.from(kv.values.get(k) as Uint8Array).equals(Buffer.from(v)), k).toBe(true);
  }

  it('a chunk missing (a store that is only eventually consistent): CORRUPT, nothing changed', async () => {
    const { kv, chunks } = await stored();
    kv.values.delete(chunks[1] as string);
    await expectDamaged(kv, /image chunk 1 of \d+ under agent is missing/);
  });

  it('a chunk cut short: CORRUPT, nothing changed', async () => {
    const { kv, chunks } = await stored();
    const last = chunks[chunks.length - 1] as string;
    kv.values.set(last, (kv.values.get(last) as Uint8Array).slice(0, 100));
    await expectDamaged(kv, /hold \d+ bytes where the manifest says/);
  });
});

let n = 0;
defineBadStateSuite('indexeddb (fake-indexeddb)', async () => {
  const name = `bad-states-${++n}`;
  const locks = createFakeLocks();
  let tab = 0;
  return { open: () => createIndexedDbAdapter({ name, locks: locks.manager(`tab-${++tab}`) }), cleanup: () => deleteIndexedDb(name) };
});
