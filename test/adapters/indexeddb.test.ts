import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createIndexedDbAdapter, IMAGE_CHUNK_BYTES, indexedDbNames, type IndexedDbAdapterOptions } from '../../adapters/indexeddb.js';
import { LockError, PersistenceError, openStore, type Store, type StoreWarning } from '../../src/index.js';
import { deleteIndexedDb, failEveryPut, failPutOf } from '../helpers/indexeddb.js';
import { createFakeLocks, type FakeLocks } from '../helpers/web-locks.js';
import { parseJournal } from '../../src/journal.js';
import { defineAdapterConformance, record, rejection, sqliteImage } from './conformance.js';

let counter = 0;
const uniqueName = (): string => `test-${process.pid}-${++counter}`;

let tab = 0;
function adapterOn(locks: FakeLocks, name: string, client = `tab-${++tab}`, extra: Partial<IndexedDbAdapterOptions> = {}) {
  return createIndexedDbAdapter({ name, locks: locks.manager(client), ...extra });
}

defineAdapterConformance(
  'indexeddb (fake-indexeddb in Node)',
  async () => {
    const name = uniqueName();
    const locks = createFakeLocks();
    return { open: () => adapterOn(locks, name), cleanup: () => deleteIndexedDb(name) };
  },
  {
    checkpointFailures: [
      { how: 'the storage quota ran out (QuotaExceededError)', arrange: async () => failEveryPut() },
      // The image chunks are put and the old ones deleted by then: only one transaction undoes that.
      { how: 'its last put (the meta) failed after the image chunks were written', arrange: async () => failPutOf('meta') },
    ],
  },
);

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('indexeddb adapter', () => {
  const stores: Store[] = [];
  const names: string[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
    for (const name of names.splice(0)) await deleteIndexedDb(name).catch(() => undefined);
  });
  const track = <S extends Store>(store: S): S => {
    stores.push(store);
    return store;
  };
  const newName = (): string => {
    const name = uniqueName();
    names.push(name);
    return name;
  };
  const task = (id: string) => ({ id, command: 'deploy', params: { n: id } });

  it('refuses bad options with a TypeError', () => {
    expect(() => createIndexedDbAdapter({ name: '' })).toThrow(TypeError);
    expect(() => createIndexedDbAdapter(undefined as unknown as IndexedDbAdapterOptions)).toThrow(TypeError);
    expect(() => createIndexedDbAdapter({ name: 'x', durability: 'fast' as 'strict' })).toThrow(TypeError);
    expect(() => createIndexedDbAdapter({ name: 'x', openTimeoutMs: 0 })).toThrow(TypeError);
  });

  it('a writer that lost ownership (its lock taken away, another tab took over) is refused and overwrites nothing', async () => {
    const name = newName();
    const locks = createFakeLocks();
    const first = adapterOn(locks, name, 'frozen');
    await first.lock();
    await first.load();
    await first.checkpoint(await sqliteImage(3, 'first'));
    await first.append!(record(1), 0);
    locks.revoke(indexedDbNames(name).lock); // the tab froze; the browser gave its lock away
    const second = adapterOn(locks, name, 'new');
    await second.lock();
    const newer = await sqliteImage(5, 'second');
    await second.checkpoint(newer);
    const refused = await rejection(first.append!(record(2), record(1).length));
    expect(refused.code).toBe('OWNERSHIP_LOST');
    expect((await rejection(first.checkpoint(await sqliteImage(1, 'stale')))).code).toBe('OWNERSHIP_LOST');
    const loaded = await adapterOn(locks, name).load();
    expect(loaded.image?.length).toBe(newer.length);
    expect(loaded.journal?.length ?? 0).toBe(0);
    await Promise.all([first.close(), second.close()]);
  });

  it('an append at the end of a journal that changed underneath (same owner) falls back to reading it, and keeps the contract', async () => {
    const name = newName();
    const locks = createFakeLocks();
    const owner = adapterOn(locks, name);
    await owner.lock();
    await owner.load();
    await owner.checkpoint(await sqliteImage(2));
    await owner.append!(record(1), 0);
    // Something else grows the journal behind the owner's back (its cached meta is now stale).
    const stray = record(7, 'stray');
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(indexedDbNames(name).database);
      request.onsuccess = () => {
        const db = request.result;
        const tx = db.transaction('data', 'readwrite');
        const data = tx.objectStore('data');
        const meta = data.get('meta');
        meta.onsuccess = () => {
          // In two entries, so an append that trusted its stale view would leave the second behind.
          const half = Math.floor(stray.length / 2);
          data.put(stray.slice(0, half), ['journal', record(1).length]);
          data.put(stray.slice(half), ['journal', record(1).length + half]);
          data.put({ ...meta.result, journalBytes: record(1).length + stray.length }, 'meta');
        };
        tx.oncomplete = () => {
          db.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
      request.onerror = () => reject(request.error);
    });
    await owner.append!(record(2), record(1).length);
    const loaded = await adapterOn(locks, name).load();
    expect(parseJournal(loaded.journal ?? new Uint8Array(0)).records.map((r) => r.sequence)).toEqual([1, 2]);
    await owner.close();
  });

  it('without IndexedDB (some private windows), opening fails with a typed error naming the reason', async () => {
    const saved = globalThis.indexedDB;
    // @ts-expect-error: removed for the test, as in a browser without IndexedDB
    delete globalThis.indexedDB;
    try {
      const error = await rejection(openStore({ adapter: adapterOn(createFakeLocks(), newName()) }));
      expect(error).toBeInstanceOf(PersistenceError);
      expect((error as PersistenceError).reason).toBe('INDEXEDDB_UNAVAILABLE');
      expect(error.message).toMatch(/IndexedDB is not available/);
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('without Web Locks (not a secure context), opening fails with a typed error naming the reason', async () => {
    const adapter = createIndexedDbAdapter({ name: newName(), locks: undefined });
    const error = await rejection(openStore({ adapter }));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).reason).toBe('WEB_LOCKS_UNAVAILABLE');
  });

  it('without BroadcastChannel the adapter cannot pass messages: a read-only open is a snapshot, following is refused', async () => {
    const name = newName();
    const locks = createFakeLocks();
    const owner = track(await openStore({ adapter: adapterOn(locks, name, 'tab-a') }));
    await owner.saveTask(task('s1'));
    const saved = globalThis.BroadcastChannel;
    // @ts-expect-error: removed for the test, as in a runtime without it
    delete globalThis.BroadcastChannel;
    try {
      const adapter = adapterOn(locks, name, 'tab-b');
      expect(adapter.subscribe).toBeUndefined();
      const viewer = track(await openStore({ adapter, readOnly: true }));
      expect((await viewer.listTasks()).map((t) => t.id)).toEqual(['s1']);
      const error = await rejection(openStore({ adapter: adapterOn(locks, name, 'tab-c'), whenLocked: 'follow' }));
      expect(error.code).toBe('VALIDATION');
    } finally {
      globalThis.BroadcastChannel = saved;
    }
  });

  it('a database deleted under an open store: writes fail with DATABASE_DELETED, reads and the in-memory state stay', async () => {
    const name = newName();
    const warnings: StoreWarning[] = [];
    const store = track(await openStore({ adapter: adapterOn(createFakeLocks(), name), onWarning: (w) => warnings.push(w), retry: { minMs: 20, maxMs: 50 } }));
    await store.saveTask(task('kept'));
    await deleteIndexedDb(name); // site data cleared: the store's connection is told to go, and goes
    const error = await rejection(store.saveTask(task('after')));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).reason).toBe('DATABASE_DELETED');
    expect(store.health().state).toBe('degraded');
    expect(warnings.map((w) => w.code)).toContain('DEGRADED');
    expect((await store.getTask('kept'))?.id).toBe('kept');
    expect((await store.exportImage()).length).toBeGreaterThan(0);
  });

  it('a database whose opening waits behind another tab\'s blocked deletion fails with DATABASE_BLOCKED', async () => {
    const name = newName();
    const locks = createFakeLocks();
    const owner = adapterOn(locks, name);
    await owner.lock();
    await owner.checkpoint(await sqliteImage(2));
    // Another tab holds a connection and ignores versionchange; a third deletes the database.
    const stubborn = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(indexedDbNames(name).database);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    stubborn.onversionchange = () => {};
    await owner.close(); // our own connection goes, so only the stubborn one blocks
    const deletion = indexedDB.deleteDatabase(indexedDbNames(name).database);
    const deleted = new Promise((resolve) => (deletion.onsuccess = resolve));
    const reader = adapterOn(locks, name, 'late', { openTimeoutMs: 200 });
    const error = await rejection(reader.load());
    expect(error.code).toBe('DATABASE_BLOCKED');
    expect(error.message).toMatch(/close other tabs/);
    stubborn.close();
    await deleted;
    await reader.close();
  });

  it('an image stored in 8 MiB chunks (the layout before 1 MiB chunks) loads; the next checkpoint stores it in IMAGE_CHUNK_BYTES chunks', async () => {
    const name = newName();
    // A real database of about 10 MiB: two chunks of the old size, ten of the new.
    const seed = await openStore({ durability: 'none' });
    const tasks = 1_300;
    await seed.transaction(async (tx) => {
      for (let i = 0; i < tasks; i++) await tx.saveTask({ id: `t-${i}`, command: 'deploy', params: { pad: 'x'.repeat(7_000), i } });
    });
    const image = await seed.exportImage();
    await seed.close();
    expect(image.byteLength).toBeGreaterThan(8 * 2 ** 20);
    const locks = createFakeLocks();
    const writer = adapterOn(locks, name);
    await writer.lock();
    await writer.load();
    await writer.checkpoint(image);
    await writer.close();

    // Rewritten as the old layout: [8 MiB, the rest] under the same image id.
    const raw = await rawDatabase(name);
    const oldId = await rechunk(raw, 8 * 2 ** 20);
    expect(await imageChunkSizes(raw, oldId)).toEqual([8 * 2 ** 20, image.byteLength - 8 * 2 ** 20]);

    const loaded = adapterOn(locks, name);
    await loaded.lock();
    const loadedImage = (await loaded.load()).image;
    // Compared as bytes: toEqual walks a 10 MiB array element by element for minutes.
    expect(loadedImage && Buffer.from(loadedImage).equals(image)).toBe(true);
    await loaded.close();

    const store = track(await openStore({ adapter: adapterOn(locks, name) }));
    expect((await store.listTasks()).length).toBe(tasks);
    await store.saveTask(task('after'));
    await store.checkpoint();
    const newId = ((await metaOf(raw)) as { image: { id: number } }).image.id;
    expect(newId).not.toBe(oldId);
    expect(await imageChunkSizes(raw, oldId)).toEqual([]);
    const sizes = await imageChunkSizes(raw, newId);
    expect(sizes.length).toBe(Math.ceil(store.health().imageBytes / IMAGE_CHUNK_BYTES));
    for (const size of sizes) expect(size).toBeLessThanOrEqual(IMAGE_CHUNK_BYTES);
    // Finer than the old layout: a chunk's put holds the page's thread for a few ms, not ~30.
    expect(sizes.length).toBeGreaterThan(2);
    await store.close();
    raw.close();
    const again = track(await openStore({ adapter: adapterOn(locks, name), readOnly: true }));
    expect((await again.listTasks()).length).toBe(tasks + 1);
  });

  describe('the layout (format 2: appends leave meta alone)', () => {
    /** An owner with an image and three appended records; its database, opened directly. */
    async function written(name: string, locks: FakeLocks) {
      const owner = adapterOn(locks, name);
      await owner.lock();
      await owner.load();
      await owner.checkpoint(await sqliteImage(3));
      const records = [record(1), record(2), record(3)];
      let at = 0;
      for (const r of records) {
        await owner.append!(r, at);
        at += r.length;
      }
      return { owner, records, end: at, raw: await rawDatabase(name) };
    }
    const journalOf = (db: IDBDatabase) => inStore(db, 'readonly', (data) => data.getAll(IDBKeyRange.bound(['journal', 0], ['journal', Infinity]))) as Promise<Uint8Array[]>;

    it('an append adds its entry and does not rewrite meta; load joins the entries in order', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const { owner, records, end, raw } = await written(name, locks);
      const meta = (await metaOf(raw)) as Record<string, unknown>;
      expect(meta.format).toBe(2);
      expect(meta).not.toHaveProperty('journalBytes');
      expect((await journalOf(raw)).map((e) => e.length)).toEqual(records.map((r) => r.length));
      await owner.close();
      const loaded = await adapterOn(locks, name).load();
      expect(loaded.journal?.length).toBe(end);
      expect(parseJournal(loaded.journal ?? new Uint8Array(0)).records.map((r) => r.sequence)).toEqual([1, 2, 3]);
      raw.close();
    });

    it('a journal with a gap between its entries (a lost entry) fails to load with CORRUPT naming the offset', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const { owner, records, raw } = await written(name, locks);
      await owner.close();
      await inStore(raw, 'readwrite', (data) => data.delete(['journal', records[0]!.length]));
      const error = await rejection(adapterOn(locks, name).load());
      expect(error.code).toBe('CORRUPT');
      expect(error.message).toMatch(new RegExp(`entry at offset ${records[0]!.length + records[1]!.length} where the entries before it end at ${records[0]!.length}`));
      raw.close();
    });

    it('a format 1 database (journalBytes in meta) loads, is checked against it, and becomes format 2 at its first write', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const { owner, end, raw } = await written(name, locks);
      await owner.close();
      const meta = (await metaOf(raw)) as Record<string, unknown>;
      await inStore(raw, 'readwrite', (data) => data.put({ ...meta, format: 1, journalBytes: end }, 'meta'));
      // A new owner reads it whole, and its first write (an append) rewrites meta as format 2.
      const next = adapterOn(locks, name);
      await next.lock();
      expect((await next.load()).journal?.length).toBe(end);
      await next.append!(record(4), end);
      const rewritten = (await metaOf(raw)) as Record<string, unknown>;
      expect(rewritten.format).toBe(2);
      expect(rewritten).not.toHaveProperty('journalBytes');
      await next.close();
      const loaded = await adapterOn(locks, name).load();
      expect(parseJournal(loaded.journal ?? new Uint8Array(0)).records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);

      // A format 1 meta that disagrees with its journal is damage, as it was.
      const other = newName();
      const second = await written(other, locks);
      await second.owner.close();
      const otherMeta = (await metaOf(second.raw)) as Record<string, unknown>;
      await inStore(second.raw, 'readwrite', (data) => data.put({ ...otherMeta, format: 1, journalBytes: second.end + 5 }, 'meta'));
      const error = await rejection(adapterOn(locks, other).load());
      expect(error.code).toBe('CORRUPT');
      expect(error.message).toMatch(new RegExp(`holds ${second.end} journal bytes where its meta says ${second.end + 5}`));
      second.raw.close();
      raw.close();
    });

    it('a database made by format 1 code (IndexedDB version 1) opens and becomes version 2, which format 1 code can no longer open', async () => {
      const name = newName();
      const database = indexedDbNames(name).database;
      const old = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(database, 1);
        request.onupgradeneeded = () => request.result.createObjectStore('data');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      await inStore(old, 'readwrite', (data) => {
        data.put({ format: 1, generation: 4, journalBytes: record(1).length }, 'meta');
        data.put(record(1), ['journal', 0]);
      });
      old.close();
      const locks = createFakeLocks();
      const owner = adapterOn(locks, name);
      await owner.lock();
      const loaded = await owner.load();
      expect(parseJournal(loaded.journal ?? new Uint8Array(0)).records.map((r) => r.sequence)).toEqual([1]);
      await owner.append!(record(2), record(1).length);
      await owner.close();
      const raw = await rawDatabase(name);
      expect(raw.version).toBe(2);
      expect(await metaOf(raw)).toMatchObject({ format: 2, generation: 5 });
      raw.close();
      // Format 1 code opens version 1: IndexedDB refuses before it reads or writes anything.
      const refused = await new Promise<DOMException | null>((resolve) => {
        const request = indexedDB.open(database, 1);
        request.onsuccess = () => {
          request.result.close();
          resolve(null);
        };
        request.onerror = () => resolve(request.error);
      });
      expect(refused?.name).toBe('VersionError');
    });

    it('a database of a newer format is refused (load and lock) with DATABASE_VERSION, and left as it was', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const { owner, raw } = await written(name, locks);
      await owner.close();
      const meta = (await metaOf(raw)) as Record<string, unknown>;
      const newer = { ...meta, format: 3 };
      await inStore(raw, 'readwrite', (data) => data.put(newer, 'meta'));
      const adapter = adapterOn(locks, name);
      expect((await rejection(adapter.load())).code).toBe('DATABASE_VERSION');
      const error = await rejection(adapter.lock());
      expect(error.code).toBe('DATABASE_VERSION');
      expect(error.message).toMatch(/format 3; this adapter reads formats 1 and 2/);
      expect(await metaOf(raw)).toEqual(newer);
      await adapter.close();
      raw.close();
    });
  });

  it('reading a database that does not exist creates none (a read-only open changes nothing)', async () => {
    const name = newName();
    const error = await rejection(openStore({ adapter: adapterOn(createFakeLocks(), name), readOnly: true }));
    expect(error.code).toBe('NOT_FOUND');
    const databases = await indexedDB.databases();
    expect(databases.map((d) => d.name)).not.toContain(indexedDbNames(name).database);
    // And the first write creates it as usual.
    const store = track(await openStore({ adapter: adapterOn(createFakeLocks(), name) }));
    await store.saveTask(task('first'));
    expect((await indexedDB.databases()).map((d) => d.name)).toContain(indexedDbNames(name).database);
  });

  it('a full quota: the write fails with QUOTA_EXCEEDED, memory stays, and the store recovers when space returns', async () => {
    const name = newName();
    const locks = createFakeLocks();
    const store = track(await openStore({ adapter: adapterOn(locks, name), onWarning: () => {}, retry: { minMs: 10, maxMs: 20 } }));
    await store.saveTask(task('before'));
    const restore = failEveryPut();
    let error: PersistenceError;
    try {
      error = (await rejection(store.saveTask(task('during')))) as PersistenceError;
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.reason).toBe('QUOTA_EXCEEDED');
      expect(store.health().state).toBe('degraded');
      expect((await rejection(store.saveTask(task('refused')))).code).toBe('PERSISTENCE');
      expect((await store.getTask('during'))?.id).toBe('during'); // applied in memory, not acknowledged
    } finally {
      await restore();
    }
    await until(() => store.health().state === 'ok', 'the store to recover');
    await store.saveTask(task('after'));
    await store.close();
    const reopened = track(await openStore({ adapter: adapterOn(locks, name) }));
    expect((await reopened.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'before', 'during']);
  });

  describe('one writer across tabs (whenLocked)', () => {
    it("'fail' (the default): a second tab's open rejects with a LockError naming the other tab", async () => {
      const name = newName();
      const locks = createFakeLocks();
      track(await openStore({ adapter: adapterOn(locks, name, 'tab-a') }));
      const error = await rejection(openStore({ adapter: adapterOn(locks, name, 'tab-b') }));
      expect(error).toBeInstanceOf(LockError);
      expect((error as LockError).holder.description).toMatch(/another tab or worker of this origin \(client tab-a\)/);
    });

    it("'follow': the follower sees the owner's commits, its writes fail fast, and it takes over when the owner closes", async () => {
      const name = newName();
      const locks = createFakeLocks();
      const owner = track(await openStore({ adapter: adapterOn(locks, name, 'tab-a') }));
      await owner.saveTask(task('t1'));
      let changes = 0;
      const follower = track(await openStore({ adapter: adapterOn(locks, name, 'tab-b'), whenLocked: 'follow', onChange: () => changes++ }));
      expect(follower.role).toBe('follower');
      expect(follower.health().state).toBe('following');
      expect((await follower.getTask('t1'))?.id).toBe('t1');
      await owner.saveTask(task('t2'));
      await owner.transaction(async (tx) => {
        await tx.saveTask(task('t3'));
        await tx.updateTaskStatus('t3', 'running');
      });
      await until(async () => (await follower.getTask('t3'))?.status === 'running', "the follower to see the owner's transaction");
      expect(changes).toBeGreaterThan(0);
      const refused = await rejection(follower.saveTask(task('nope')));
      expect(refused).toBeInstanceOf(LockError);
      expect((await rejection(follower.transaction((tx) => tx.saveTask(task('nope'))))).code).toBe('LOCKED');
      expect((await rejection(follower.checkpoint())).code).toBe('LOCKED');
      // A checkpoint empties the journal: the follower, already current, stays so.
      await owner.checkpoint();
      await owner.saveTask(task('t4'));
      await until(async () => (await follower.getTask('t4')) !== undefined, 'a commit after the checkpoint');
      await owner.close();
      await follower.owned();
      expect(follower.role).toBe('owner');
      expect(follower.health().state).toBe('ok');
      await follower.saveTask(task('t5'));
      await follower.close();
      const reopened = track(await openStore({ adapter: adapterOn(locks, name, 'tab-c') }));
      expect((await reopened.listTasks()).map((t) => t.id).sort()).toEqual(['t1', 't2', 't3', 't4', 't5']);
    });

    it('a read-only store follows the owner\'s commits too, and never takes over', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const owner = track(await openStore({ adapter: adapterOn(locks, name, 'tab-a') }));
      await owner.saveTask(task('r1'));
      const viewer = track(await openStore({ adapter: adapterOn(locks, name, 'viewer'), readOnly: true }));
      expect(viewer.role).toBe('read-only');
      await owner.saveTask(task('r2'));
      await until(async () => (await viewer.getTask('r2')) !== undefined, 'the viewer to see the commit');
      expect(viewer.health().state).toBe('read-only');
      expect((await rejection(viewer.saveTask(task('no')))).code).toBe('READ_ONLY');
      await owner.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(viewer.role).toBe('read-only');
      expect(locks.holder(indexedDbNames(name).lock)).toBeUndefined();
      const next = track(await openStore({ adapter: adapterOn(locks, name, 'tab-b') }));
      await next.saveTask(task('r3'));
      await until(async () => (await viewer.getTask('r3')) !== undefined, 'the viewer to follow the next owner');
    });

    it("'wait': the follower's write waits for ownership and lands after the owner closes", async () => {
      const name = newName();
      const locks = createFakeLocks();
      const owner = track(await openStore({ adapter: adapterOn(locks, name, 'tab-a') }));
      await owner.saveTask(task('first'));
      const follower = track(await openStore({ adapter: adapterOn(locks, name, 'tab-b'), whenLocked: 'wait' }));
      let landed = false;
      const waiting = follower.saveTask(task('queued')).then((t) => {
        landed = true;
        return t;
      });
      await owner.saveTask(task('second'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(landed).toBe(false);
      await owner.close();
      expect((await waiting).id).toBe('queued');
      expect((await follower.listTasks()).map((t) => t.id).sort()).toEqual(['first', 'queued', 'second']);
    });

    it('a crashed owner tab: the follower takes over with every acknowledged write, and the crashed writer is refused', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const owner = track(await openStore({ adapter: adapterOn(locks, name, 'doomed'), onWarning: () => {} }));
      const follower = track(await openStore({ adapter: adapterOn(locks, name, 'survivor'), whenLocked: 'follow' }));
      const acknowledged: string[] = [];
      for (let i = 0; i < 20; i++) {
        await owner.saveTask(task(`a${i}`));
        acknowledged.push(`a${i}`);
      }
      locks.crash('doomed'); // the tab dies: the browser releases its lock; its store never closes
      await follower.owned();
      const ids = (await follower.listTasks()).map((t) => t.id);
      for (const id of acknowledged) expect(ids).toContain(id);
      await follower.saveTask(task('after'));
      // The dead tab's store object, if it ever ran again, cannot overwrite the new owner's data.
      const stale = await rejection(owner.saveTask(task('zombie')));
      expect((stale as PersistenceError).reason).toBe('OWNERSHIP_LOST');
      expect(await follower.getTask('zombie')).toBeUndefined();
    });

    it('a follower ignores messages that are not the store\'s, and recovers from ones it cannot place (it reloads)', async () => {
      const name = newName();
      const locks = createFakeLocks();
      const owner = track(await openStore({ adapter: adapterOn(locks, name, 'tab-a') }));
      const followerAdapter = adapterOn(locks, name, 'tab-b');
      let loads = 0;
      const load = followerAdapter.load.bind(followerAdapter);
      followerAdapter.load = () => (loads++, load());
      const follower = track(await openStore({ adapter: followerAdapter, whenLocked: 'follow' }));
      const noise = new BroadcastChannel(indexedDbNames(name).channel);
      noise.postMessage({ kind: 'pa-store/records', bytes: 'not bytes' });
      noise.postMessage('hello');
      // A record from the future (sequence 99): the follower cannot apply it, so it loads the truth.
      noise.postMessage({ kind: 'pa-store/records', bytes: record(99) });
      noise.postMessage({ kind: 'pa-store/image', sequence: 1e6 });
      await owner.saveTask(task('real'));
      await until(async () => (await follower.getTask('real')) !== undefined, 'the real commit');
      expect(follower.health().state).toBe('following');
      expect(loads).toBeGreaterThanOrEqual(2); // the open's, and a reload for what it could not place
      expect(await follower.listTasks()).toHaveLength(1); // nothing of the forged record applied
      noise.close();
    });
  });
});

/** The store's IndexedDB database, opened directly (as the adapter left it). */
function rawDatabase(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(indexedDbNames(name).database);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function inStore<T>(db: IDBDatabase, mode: IDBTransactionMode, work: (data: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(db.objectStoreNames[0] as string, mode);
    const request = work(tx.objectStore(db.objectStoreNames[0] as string));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

const metaOf = (db: IDBDatabase): Promise<unknown> => inStore(db, 'readonly', (data) => data.get('meta'));

/** The sizes of image `id`'s chunks, in order. */
async function imageChunkSizes(db: IDBDatabase, id: number): Promise<number[]> {
  const chunks = (await inStore(db, 'readonly', (data) => data.getAll(IDBKeyRange.bound(['image', id, 0], ['image', id, Infinity])))) as Uint8Array[];
  return chunks.map((c) => c.byteLength);
}

/** Stores the current image again in chunks of `chunkBytes` (meta updated to match); returns its id. */
async function rechunk(db: IDBDatabase, chunkBytes: number): Promise<number> {
  const meta = (await metaOf(db)) as { image: { id: number; bytes: number; chunks: number } };
  const { id } = meta.image;
  const parts = (await inStore(db, 'readonly', (data) => data.getAll(IDBKeyRange.bound(['image', id, 0], ['image', id, Infinity])))) as Uint8Array[];
  const image = new Uint8Array(meta.image.bytes);
  let at = 0;
  for (const part of parts) {
    image.set(part, at);
    at += part.length;
  }
  const chunks = Math.ceil(image.length / chunkBytes);
  await inStore(db, 'readwrite', (data) => {
    data.delete(IDBKeyRange.bound(['image', id, 0], ['image', id, Infinity]));
    for (let i = 0; i < chunks; i++) data.put(image.slice(i * chunkBytes, (i + 1) * chunkBytes), ['image', id, i]);
    data.put({ ...meta, image: { ...meta.image, chunks } }, 'meta');
  });
  return id;
}
