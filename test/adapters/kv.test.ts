import { afterEach, describe, expect, it } from 'vitest';
import { createKvAdapter, type KeyValueStore, type KvAdapterOptions } from '../../adapters/kv.js';
import { openStore, type Store, type StoreWarning } from '../../src/index.js';
import { expectSameBytes } from '../helpers/bytes.js';
import { defineAdapterConformance, noise, record, rejection, sqliteImage } from './conformance.js';

/**
 * A key-value store in memory with what real ones have: a per-value size limit (Cloudflare KV:
 * 25 MiB), and failures that can be armed for a key (a crash between two puts).
 */
function memoryKv(limitBytes = 25 * 1024 * 1024) {
  const values = new Map<string, Uint8Array>();
  let failPut: ((key: string) => boolean) | undefined;
  const kv: KeyValueStore & { values: Map<string, Uint8Array>; failPutWhen(test: ((key: string) => boolean) | undefined): void } = {
    values,
    failPutWhen(test) {
      failPut = test;
    },
    async get(key) {
      const value = values.get(key);
      return value === undefined ? null : value.slice().buffer;
    },
    async put(key, value) {
      if (failPut?.(key)) throw Object.assign(new Error(`simulated failure writing ${key}`), { code: 'EIO' });
      if (value.byteLength > limitBytes) throw new Error(`value of ${value.byteLength} bytes over the ${limitBytes}-byte limit`);
      values.set(key, Uint8Array.prototype.slice.call(value));
    },
    async delete(key) {
      values.delete(key);
    },
  };
  return kv;
}

let n = 0;
defineAdapterConformance(
  'kv (in-memory key-value store, 64 KiB values)',
  async () => {
    const kv = memoryKv(64 * 1024);
    const key = `db${++n}`;
    return { kv, open: () => createKvAdapter({ kv, key, chunkBytes: 64 * 1024 }), cleanup: async () => kv.values.clear() };
  },
  {
    checkpointFailures: [
      {
        how: 'the manifest put failed after every chunk was written (a crash between the two)',
        arrange: async (location) => {
          const { kv } = location as unknown as { kv: ReturnType<typeof memoryKv> };
          kv.failPutWhen((key) => !key.includes('/'));
          return async () => kv.failPutWhen(undefined);
        },
      },
      {
        how: 'an image chunk put failed',
        arrange: async (location) => {
          const { kv } = location as unknown as { kv: ReturnType<typeof memoryKv> };
          kv.failPutWhen((key) => /\/image\/\d+\/0$/.test(key));
          return async () => kv.failPutWhen(undefined);
        },
      },
    ],
    noSegments:
      "its journal's keys belong to one image id (the manifest names image and journal together), and a store on it defaults to durability 'deferred', so writes are not waiting on a checkpoint",
  },
);

describe('kv adapter', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  });

  it('refuses bad options with a TypeError', () => {
    const kv = memoryKv();
    expect(() => createKvAdapter(undefined as unknown as KvAdapterOptions)).toThrow(TypeError);
    expect(() => createKvAdapter({ kv: {} as KeyValueStore, key: 'a' })).toThrow(TypeError);
    expect(() => createKvAdapter({ kv, key: '' })).toThrow(TypeError);
    expect(() => createKvAdapter({ kv, key: 'a', chunkBytes: 0 })).toThrow(TypeError);
    expect(() => createKvAdapter({ kv, key: 'a', durability: 'later' as 'write' })).toThrow(TypeError);
  });

  it('an image above the per-value limit round-trips in chunks', async () => {
    const kv = memoryKv(100 * 1024);
    const image = noise(1024 * 1024 + 17);
    const owner = createKvAdapter({ kv, key: 'big', chunkBytes: 100 * 1024 });
    await owner.lock();
    await owner.checkpoint(image);
    expect([...kv.values.keys()].filter((k) => k.startsWith('big/image/'))).toHaveLength(11);
    expectSameBytes((await createKvAdapter({ kv, key: 'big' }).load()).image ?? new Uint8Array(0), image, 'chunked image');
    // A chunk size over the store's limit is refused by the store, and nothing changes.
    const tooBig = createKvAdapter({ kv, key: 'big', chunkBytes: 200 * 1024 });
    await owner.close();
    await tooBig.lock();
    await rejection(tooBig.checkpoint(noise(300 * 1024)));
    expectSameBytes((await createKvAdapter({ kv, key: 'big' }).load()).image ?? new Uint8Array(0), image, 'image after a refused checkpoint');
  });

  it('a reader that read the previous manifest still finds that image after one checkpoint; the one before is removed', async () => {
    const kv = memoryKv();
    const owner = createKvAdapter({ kv, key: 'gc', chunkBytes: 4096 });
    await owner.lock();
    const first = await sqliteImage(30, 'first');
    await owner.checkpoint(first);
    await owner.append!(record(1), 0);
    const staleManifest = kv.values.get('gc') as Uint8Array; // what a reader in the middle of a load holds
    await owner.checkpoint(await sqliteImage(40, 'second'));
    // A reader that read the first manifest goes on to its chunks and journal: still there.
    const reader = memoryKv();
    for (const [k, v] of kv.values) reader.values.set(k, v);
    reader.values.set('gc', staleManifest);
    const loaded = await createKvAdapter({ kv: reader, key: 'gc' }).load();
    expectSameBytes(loaded.image ?? new Uint8Array(0), first, 'previous image');
    expectSameBytes(loaded.journal ?? new Uint8Array(0), record(1), 'previous journal');
    // One more checkpoint: the first image's keys are gone, the second's stay.
    await owner.checkpoint(await sqliteImage(50, 'third'));
    const firstId = (JSON.parse(new TextDecoder().decode(staleManifest)) as { image: { id: number } }).image.id;
    expect([...kv.values.keys()].filter((k) => k.includes(`/${firstId}/`))).toEqual([]);
    const manifest = JSON.parse(new TextDecoder().decode(kv.values.get('gc'))) as { previous: { id: number } };
    expect([...kv.values.keys()].some((k) => k.startsWith(`gc/image/${manifest.previous.id}/`))).toBe(true);
    await owner.close();
  });

  it('a crash between the chunk writes and the manifest leaves the previous image and its journal readable', async () => {
    const kv = memoryKv();
    const old = await sqliteImage(20, 'old');
    const owner = createKvAdapter({ kv, key: 'c', chunkBytes: 4096 });
    await owner.lock();
    await owner.checkpoint(old);
    await owner.append!(record(1), 0);
    kv.failPutWhen((key) => key === 'c'); // the process dies before the manifest is written
    await rejection(owner.checkpoint(await sqliteImage(200, 'new')));
    const loaded = await createKvAdapter({ kv, key: 'c' }).load();
    expectSameBytes(loaded.image ?? new Uint8Array(0), old, 'old image');
    expectSameBytes(loaded.journal ?? new Uint8Array(0), record(1), 'old journal');
  });

  it('a write larger than chunkBytes is appended in several values, none over the limit, and reads back', async () => {
    const kv = memoryKv(1024);
    const store = await openStore({ adapter: createKvAdapter({ kv, key: 'big-write', chunkBytes: 1024, durability: 'write' }) });
    stores.push(store);
    await store.saveTask({ id: 'wide', command: 'deploy', params: { blob: 'x'.repeat(5000) } });
    const journalValues = [...kv.values.entries()].filter(([k]) => k.startsWith('big-write/journal/'));
    expect(journalValues.length).toBeGreaterThan(4);
    expect(journalValues.every(([, v]) => v.length <= 1024)).toBe(true);
    expect(store.health().state).toBe('ok');
    await store.close();
    // (durability given, so the once-per-realm DURABILITY warning is left for the test that checks it)
    const reopened = await openStore({ adapter: createKvAdapter({ kv, key: 'big-write', chunkBytes: 1024 }), durability: 'write' });
    stores.push(reopened);
    expect((await reopened.getTask('wide'))?.params).toEqual({ blob: 'x'.repeat(5000) });
  });

  it('a second adapter on the same key in this isolate is locked out, whatever wrapper object it was given', async () => {
    const kv = memoryKv();
    const wrap = (): KeyValueStore => ({ get: (k) => kv.get(k), put: (k, v) => kv.put(k, v), delete: (k) => kv.delete(k) });
    const first = createKvAdapter({ kv: wrap(), key: 'shared' });
    await first.lock();
    const error = await rejection(createKvAdapter({ kv: wrap(), key: 'shared' }).lock());
    expect(error.code).toBe('LOCKED');
    await first.close();
    await createKvAdapter({ kv: wrap(), key: 'shared' }).lock();
  });

  it('a get that returns text instead of bytes is a TypeError that says to ask for an ArrayBuffer', async () => {
    const kv = memoryKv();
    const owner = createKvAdapter({ kv, key: 'text' });
    await owner.lock();
    await owner.checkpoint(await sqliteImage(2));
    await owner.close();
    const texty: KeyValueStore = { get: async (k) => (kv.values.has(k) ? ('text' as unknown as ArrayBuffer) : null), put: kv.put, delete: kv.delete };
    const error = await rejection(createKvAdapter({ kv: texty, key: 'text' }).load());
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/arrayBuffer/);
  });

  it("the store's default durability on it is 'deferred' (Cloudflare KV's), and 'write' when asked (a Durable Object's)", async () => {
    const kv = memoryKv();
    const warnings: StoreWarning[] = [];
    const deferred = await openStore({ adapter: createKvAdapter({ kv, key: 'd1' }), onWarning: (w) => warnings.push(w) });
    stores.push(deferred);
    expect(deferred.health().durability).toBe('deferred');
    // It says so, once per adapter kind in this realm (a Worker opens a store per request).
    expect(warnings.map((w) => w.code)).toEqual(['DURABILITY']);
    expect(warnings[0]?.message).toMatch(/deferred.*a crash loses at most that window/);
    await deferred.close();
    const again = await openStore({ adapter: createKvAdapter({ kv, key: 'd1' }), onWarning: (w) => warnings.push(w) });
    stores.push(again);
    expect(warnings).toHaveLength(1);
    const written = await openStore({ adapter: createKvAdapter({ kv, key: 'd2', durability: 'write' }) });
    stores.push(written);
    expect(written.health().durability).toBe('write');
    await written.saveTask({ id: 't1', command: 'deploy', params: {} });
    expect([...kv.values.keys()].some((k) => k.startsWith('d2/journal/'))).toBe(true);
    await written.close();
    const reopened = await openStore({ adapter: createKvAdapter({ kv, key: 'd2' }) });
    stores.push(reopened);
    expect((await reopened.getTask('t1'))?.id).toBe('t1');
  });
});
