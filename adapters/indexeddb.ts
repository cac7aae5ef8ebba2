import { promisifyRequest, update, type UseStore } from 'idb-keyval';
import type { LoadedState, LockHolder, PersistenceAdapter } from '../src/persistence.js';
import { imageCapacity, newImageBuffer } from '../src/persistence.js';

/**
 * Keeps the database in the browser's IndexedDB, and makes one tab (or worker) of an origin its
 * only writer with the Web Locks API.
 *
 * Layout: one IndexedDB database per store name (`@platform-agent/store:<name>`) with one object
 * store, `data`, reached through idb-keyval's custom-store interface:
 * - `meta`: `{ format: 2, generation, image?: { id, bytes, chunks } }`;
 * - `['image', id, i]`: the image, in chunks of at most {@link IMAGE_CHUNK_BYTES};
 * - `['journal', offset]`: one entry per append (the journal is their concatenation: each entry
 *   starts where the one before it ends).
 *
 * Every write is one IndexedDB transaction (`durability: 'strict'` by default: committed to disk
 * before it resolves), so a tab closed at any moment leaves the old state or the new one. An append
 * is a read of `meta` (the ownership check) and an `add` of its entry; it does not rewrite `meta`
 * (measured in Chromium, that second put cost a sixth of a strict transaction's throughput), so the
 * journal's length is where its last entry ends. (Format 1 kept the length in `meta` and rewrote it
 * on every append; it is still read.) A checkpoint
 * first puts the new image's chunks under the next id, a transaction a chunk (unreachable until
 * `meta` names them), then, in one transaction, points `meta` at them and deletes the old image and
 * the journal it covers (`checkpoint`: all of it; `writeImage` then `trimJournal`: the part before
 * the store's marker, the rest moved down to offset 0). Every
 * write checks the `generation` it read when it took ownership: a writer that lost ownership (a
 * frozen tab resumed after another took over) is refused instead of overwriting newer data.
 */

/**
 * The size of the chunks an image is stored in. A put clones its value on the page's thread before
 * it returns: measured in Chromium, an 8 MiB chunk held the event loop for ~33 ms (the copy out of
 * the image and the put's clone), a 1 MiB chunk for ~4 ms. Each chunk is a transaction of its own, so
 * the journal's appends wait for at most one chunk. Reading accepts chunks of any size.
 */
export const IMAGE_CHUNK_BYTES = 1 * 1024 * 1024;

/** Options of {@link createIndexedDbAdapter}. */
export interface IndexedDbAdapterOptions {
  /** The database's name: the same name in another tab of the same origin is the same database. */
  name: string;
  /**
   * IndexedDB durability of every write transaction. `'strict'` resolves once the browser has
   * flushed it to disk (survives an OS crash); `'relaxed'` once it is in the browser's own process
   * (survives a closed or crashed tab, not a power cut). @default 'strict'
   */
  durability?: 'strict' | 'relaxed';
  /**
   * How long opening the IndexedDB database may wait (behind another tab's pending upgrade or
   * deletion) before it fails with `DATABASE_BLOCKED`. @default 10000
   */
  openTimeoutMs?: number;
  /** @internal The IndexedDB factory (tests pass fake-indexeddb). @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
  /** @internal The Web Locks manager. @default globalThis.navigator.locks */
  locks?: LockManager;
  /** @internal How to open a BroadcastChannel. @default globalThis.BroadcastChannel */
  broadcastChannel?: (name: string) => BroadcastChannel;
}

/** What the adapter keeps under the key `meta`. */
interface Meta {
  /** 2; 1 (older versions of this adapter) also kept `journalBytes`, rewritten on every append. */
  readonly format: 1 | 2;
  readonly generation: number;
  readonly image?: { readonly id: number; readonly bytes: number; readonly chunks: number };
  readonly journalBytes?: number;
}

/** The format this adapter writes, and the newest it reads. */
const FORMAT = 2;
/**
 * The IndexedDB database's version: 2 since format 2. Code that wrote format 1 opens version 1, so
 * on a database this code opened it fails with `VersionError` (its `DATABASE_VERSION`) before it
 * reads or writes anything: it would otherwise take ownership by writing a format 1 `meta` without
 * a journal length, which no version could then load.
 */
const IDB_VERSION = 2;

/** What this owner last committed: its meta, and where its journal ends. */
interface Known {
  readonly meta: Meta;
  readonly journalBytes: number;
}

const STORE = 'data';
const META = 'meta';
const PREFIX = '@platform-agent/store:';

/** The IndexedDB database and Web Lock names of store `name`. */
export function indexedDbNames(name: string): { database: string; lock: string; channel: string } {
  return { database: PREFIX + name, lock: PREFIX + name, channel: PREFIX + name };
}

type AdapterError = Error & { code: string; holder?: LockHolder };

function failure(code: string, message: string, cause?: unknown): AdapterError {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

/** Gives a DOMException from IndexedDB the adapter's typed code. */
function translate(e: unknown, what: string): unknown {
  if ((e as { code?: unknown })?.code !== undefined && typeof (e as { code?: unknown }).code === 'string') return e;
  const name = (e as { name?: unknown })?.name;
  const text = e instanceof Error ? e.message : String(e);
  if (name === 'QuotaExceededError') {
    return failure('QUOTA_EXCEEDED', `${what}: the browser's storage quota for this origin is used up (${text}); free space (delete old data, run retention) or ask for persistent storage`, e);
  }
  if (name === 'VersionError') {
    return failure('DATABASE_VERSION', `${what}: the IndexedDB database has a newer version than this adapter writes (${text}); it was made by newer code`, e);
  }
  if (name === 'UnknownError') {
    return failure('INDEXEDDB_ERROR', `${what}: IndexedDB failed (UnknownError: ${text}); the browser could not read or write its storage (a disk error, or its files are damaged)`, e);
  }
  if (name === 'InvalidStateError' || name === 'SecurityError') {
    return failure('INDEXEDDB_UNAVAILABLE', `${what}: IndexedDB refused (${name}: ${text}); private browsing or a storage setting may forbid it here`, e);
  }
  return e;
}

function plainCopy(bytes: Uint8Array): Uint8Array {
  // Structured cloning a view copies its whole buffer: store exactly the bytes of the view.
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Uint8Array.prototype.slice.call(bytes);
}

function journalRange(from: number): IDBKeyRange {
  return IDBKeyRange.bound(['journal', from], ['journal', Infinity]);
}

/** Where the stored journal ends: its last entry's offset plus its length. */
async function journalEnd(data: IDBObjectStore): Promise<number> {
  const last = (await promisifyRequest(data.openCursor(journalRange(0), 'prev'))) as IDBCursorWithValue | null;
  return last ? (last.key as [string, number])[1] + (last.value as Uint8Array).length : 0;
}

/** A meta as this version writes it: format 2, without format 1's `journalBytes`. */
function current(meta: Meta): Meta {
  const { journalBytes: _dropped, ...rest } = meta;
  return { ...rest, format: FORMAT };
}

function imageRange(id: number): IDBKeyRange {
  return IDBKeyRange.bound(['image', id, 0], ['image', id, Infinity]);
}

/**
 * Keeps the database in IndexedDB (see the module's notes for the layout), one writer per origin
 * through Web Locks, and tells other tabs about commits with a BroadcastChannel. Works in browser
 * windows and workers of a secure context (https or localhost).
 * @example
 * import wasmUrl from '@platform-agent/store/sql-wasm.wasm?url'; // Vite; see docs/browser.md for others
 * const store = await openStore({
 *   adapter: createIndexedDbAdapter({ name: 'agent' }),
 *   wasm: wasmUrl,
 *   whenLocked: 'follow',
 * });
 */
export function createIndexedDbAdapter(options: IndexedDbAdapterOptions): PersistenceAdapter {
  if (typeof options !== 'object' || options === null || typeof options.name !== 'string' || options.name.length === 0) {
    throw new TypeError('createIndexedDbAdapter() needs { name }: a non-empty string');
  }
  const durability = options.durability ?? 'strict';
  if (durability !== 'strict' && durability !== 'relaxed') throw new TypeError(`durability must be 'strict' or 'relaxed', not ${String(durability)}`);
  const openTimeoutMs = options.openTimeoutMs ?? 10_000;
  if (!Number.isSafeInteger(openTimeoutMs) || openTimeoutMs <= 0) throw new TypeError(`openTimeoutMs must be a positive integer, not ${String(openTimeoutMs)}`);
  const names = indexedDbNames(options.name);
  const factory = (): IDBFactory => {
    const idb = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!idb) throw failure('INDEXEDDB_UNAVAILABLE', 'IndexedDB is not available here (a private window of some browsers, a sandboxed frame, or a runtime without it)');
    return idb;
  };
  const lockManager = (): LockManager => {
    const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    if (!locks) throw failure('WEB_LOCKS_UNAVAILABLE', 'the Web Locks API is not available here; it needs a secure context (https:// or http://localhost)');
    return locks;
  };

  let closed = false;
  // Why the database cannot be used any more (deleted or upgraded by someone else), once it happened.
  let gone: AdapterError | undefined;
  let connection: Promise<IDBDatabase> | undefined;
  // Ownership: the Web Lock is held while `release` is set; `generation` is the one it wrote.
  let release: (() => void) | undefined;
  let generation: number | undefined;
  let lost: AdapterError | undefined;
  // What this owner last committed: an append at its journal's end then writes without first
  // waiting for a read (the check of the stored meta runs inside the same transaction).
  let known: Known | undefined;
  // (A function, so no narrowing of `release` survives an await in the callers.)
  const releaseLock = (): void => release?.();
  let channel: BroadcastChannel | undefined;
  const listeners = new Set<(message: unknown) => void>();

  const usable = (): void => {
    if (closed) throw failure('CLOSED', `the IndexedDB adapter for ${options.name} is closed`);
    if (gone) throw gone;
  };

  // `create: false` (reading) never creates the database: opening one that does not exist aborts
  // its creation and fails with NO_DATABASE, so a read leaves nothing behind.
  const open = (create: boolean): Promise<IDBDatabase> => {
    if (connection) return connection;
    let request: IDBOpenDBRequest;
    try {
      request = factory().open(names.database, IDB_VERSION);
    } catch (e) {
      return Promise.reject(translate(e, `opening IndexedDB database ${names.database}`));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let absent = false;
    const opened = new Promise<IDBDatabase>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            failure('DATABASE_BLOCKED', `opening IndexedDB database ${names.database} waited ${openTimeoutMs} ms: another tab's upgrade or deletion of it is pending, blocked by a connection that stays open; close other tabs of this site and retry`),
          ),
        openTimeoutMs,
      );
      // A pending open must not keep Node's event loop alive (tests); browsers have no unref.
      (timer as { unref?: () => void }).unref?.();
      request.onupgradeneeded = (event) => {
        if (!create && event.oldVersion === 0) {
          absent = true;
          request.transaction?.abort();
          return;
        }
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      request.onblocked = () =>
        reject(failure('DATABASE_BLOCKED', `IndexedDB database ${names.database} is blocked: another connection (an older tab of this site) holds it open; close other tabs and retry`));
      request.onerror = () =>
        reject(absent ? failure('NO_DATABASE', `there is no IndexedDB database ${names.database}`) : translate(request.error, `opening IndexedDB database ${names.database}`));
      request.onsuccess = () => {
        const db = request.result;
        // Someone deletes the database (site data cleared) or upgrades it: let go, and say why
        // every later call fails, instead of writing into a database that no longer holds the image.
        db.onversionchange = () => {
          db.close();
          gone = failure('DATABASE_DELETED', `IndexedDB database ${names.database} was deleted or upgraded by someone else (site data cleared?); the store's memory still holds every acknowledged write: export it with store.exportImage()`);
          connection = undefined;
        };
        db.onclose = () => {
          gone ??= failure('DATABASE_DELETED', `the browser closed IndexedDB database ${names.database} (deleted, or storage cleared)`);
          connection = undefined;
        };
        resolve(db);
      };
    });
    connection = opened;
    opened.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    opened.catch(() => {
      if (connection === opened) connection = undefined;
      // A request blocked now may still open later: close what it opens.
      request.onsuccess = () => request.result.close();
    });
    return opened;
  };

  // idb-keyval's custom store, with the transaction durability this adapter promises. Writing
  // creates the database; reading does not.
  const store: UseStore = async (mode, callback) => {
    usable();
    const db = await open(mode === 'readwrite');
    let tx: IDBTransaction;
    try {
      tx = db.transaction(STORE, mode, { durability: mode === 'readwrite' ? durability : 'default' });
    } catch (e) {
      // Closed since it opened (deleted, or storage cleared): say that, not what the browser threw.
      if (gone) throw gone;
      throw translate(e, `starting an IndexedDB transaction on ${names.database}`);
    }
    return callback(tx.objectStore(STORE));
  };

  const ownershipLost = (what: string, meta: Meta): AdapterError => {
    known = undefined;
    lost = failure(
      'OWNERSHIP_LOST',
      `${what} refused: another tab took ownership of ${options.name} (generation ${meta.generation}, this one wrote ${generation}); this writer must reopen`,
    );
    return lost;
  };

  /**
   * Runs `work` in one read-write transaction, after checking this adapter still owns the database,
   * and resolves when it committed. `work` gets the stored meta and returns the new one and where
   * the journal ends after it.
   */
  const write = (what: string, work: (data: IDBObjectStore, meta: Meta) => Promise<Known>): Promise<void> => {
    known = undefined;
    let next: Known | undefined;
    return store('readwrite', async (data) => {
      const tx = data.transaction;
      const committed = promisifyRequest(tx);
      try {
        const meta = (await promisifyRequest(data.get(META))) as Meta | undefined;
        if (lost) throw lost;
        if (generation === undefined) throw failure('NOT_OWNER', `${what}: this IndexedDB adapter does not own ${options.name} (call lock() first)`);
        if (meta && meta.generation !== generation) throw ownershipLost(what, meta);
        next = await work(data, current(meta ?? { format: FORMAT, generation }));
        data.put(next.meta, META);
      } catch (e) {
        committed.catch(() => undefined);
        try {
          tx.abort();
        } catch {
          /* already finished */
        }
        throw e;
      }
      try {
        await committed;
      } catch (e) {
        throw translate(tx.error ?? e, what);
      }
      known = next;
    }).catch((e: unknown) => {
      throw translate(e, what);
    });
  };

  /**
   * The usual append, at the end of the journal this owner last wrote: the stored meta is read and
   * the record added in the same transaction, at once (one round trip, not two); the meta aborts it
   * all if it is not the one expected (another owner's generation, another image), and so does an
   * entry already at `at` (`add` never overwrites): the journal changed underneath.
   */
  const appendAtEnd = (record: Uint8Array, at: number, expected: Known): Promise<void> => {
    const what = `appending to ${options.name}'s journal`;
    known = undefined;
    let refused: AdapterError | undefined;
    return store('readwrite', async (data) => {
      const tx = data.transaction;
      const committed = promisifyRequest(tx);
      committed.catch(() => undefined);
      try {
        const check = data.get(META);
        check.onsuccess = () => {
          const meta = check.result as Meta | undefined;
          if (meta && meta.generation === generation && meta.image?.id === expected.meta.image?.id) return;
          refused = meta && meta.generation !== generation ? ownershipLost(what, meta) : failure('CONFLICT', `${what}: the stored journal is not the one this owner wrote`);
          tx.abort();
        };
        const added = data.add(record, ['journal', at]);
        added.onerror = () => {
          // Only an entry already there; any other failure (the quota, an abort) is the transaction's.
          if (added.error?.name === 'ConstraintError') refused ??= failure('CONFLICT', `${what}: the stored journal is not the one this owner wrote (an entry is already at ${at})`);
        };
      } catch (e) {
        try {
          tx.abort();
        } catch {
          /* already finished */
        }
        throw translate(e, what);
      }
      try {
        await committed;
      } catch (e) {
        throw refused ?? translate(tx.error ?? e, what);
      }
      known = { meta: expected.meta, journalBytes: at + record.length };
    });
  };

  // A new owner bumps the generation: one read-modify-write transaction (idb-keyval's update).
  // A format 1 meta keeps its `journalBytes` (load checks the journal against it) until this owner
  // first rewrites it otherwise: the journal's length is not known here.
  const takeGeneration = async (): Promise<void> => {
    let next: Meta | undefined;
    let newer: Meta | undefined;
    await update<Meta>(
      META,
      (meta) => {
        if (meta && !(meta.format === 1 || meta.format === FORMAT)) return (newer = meta);
        return (next = { ...(meta ?? { format: FORMAT }), generation: (meta?.generation ?? 0) + 1 });
      },
      store,
    );
    if (newer) throw unknownFormat(newer);
    if (!next) throw failure('CORRUPT', `taking ownership of ${options.name}: the generation was not written`);
    generation = next.generation;
    lost = undefined;
    known = undefined;
  };

  const unknownFormat = (meta: Meta): AdapterError =>
    failure('DATABASE_VERSION', `IndexedDB database ${names.database} has format ${String(meta.format)}; this adapter reads formats 1 and ${FORMAT}: it was written by newer code`);

  /** Holds the Web Lock until `release()`; resolves `true` once held, `false` when `ifAvailable` found it taken. */
  const acquire = (request: { ifAvailable: true } | { signal: AbortSignal }): Promise<boolean> =>
    new Promise<boolean>((resolve, reject) => {
      const held = lockManager().request(names.lock, { mode: 'exclusive', ...request }, (lock) => {
        if (!lock) {
          resolve(false);
          return undefined;
        }
        return new Promise<void>((done) => {
          release = () => {
            release = undefined;
            generation = undefined;
            known = undefined;
            done();
          };
          resolve(true);
        });
      });
      held.catch((e: unknown) => {
        // Rejected before it was granted (aborted), or stolen while held.
        if (release) {
          release = undefined;
          lost = failure('OWNERSHIP_LOST', `the Web Lock on ${options.name} was taken away (stolen by another tab)`, e);
        }
        reject(e);
      });
    });

  const holder = async (): Promise<LockHolder> => {
    try {
      const state = await lockManager().query();
      const held = state.held?.find((l) => l.name === names.lock);
      return { description: `another tab or worker of this origin${held?.clientId ? ` (client ${held.clientId})` : ''}` };
    } catch {
      return { description: 'another tab or worker of this origin' };
    }
  };

  const own = async (): Promise<void> => {
    try {
      await takeGeneration();
    } catch (e) {
      releaseLock();
      throw translate(e, `taking ownership of ${options.name}`);
    }
  };

  // Without BroadcastChannel (rare) the adapter has no publish/subscribe: stores on it cannot follow.
  const canBroadcast = options.broadcastChannel !== undefined || typeof (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel === 'function';

  const publish = (message: unknown): void => {
    if (closed) return;
    try {
      channel ??= openChannel();
      channel.postMessage(message);
    } catch {
      /* best effort: followers catch up from the next message or at takeover */
    }
  };

  const subscribe = (listener: (message: unknown) => void): (() => void) => {
    usable();
    channel ??= openChannel();
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };

  /**
   * Puts an image's chunks under the next image id, one IndexedDB transaction a chunk, without
   * touching `meta`: no single task holds the page for the whole image, appends go on in between,
   * and until a transaction points `meta` at them they are not part of the database (a crash
   * leaves only unreachable chunks, which the next staging replaces).
   */
  const stage = async (image: Uint8Array, what: string): Promise<{ id: number; bytes: number; chunks: number }> => {
    usable();
    const meta = known?.meta ?? ((await store('readonly', (data) => promisifyRequest(data.get(META)))) as Meta | undefined);
    const id = (meta?.image?.id ?? 0) + 1;
    const total = image.byteLength;
    const count = Math.max(1, Math.ceil(total / IMAGE_CHUNK_BYTES));
    for (let i = 0; i < count; i++) {
      // Copied out (a detached buffer fails here, before anything is written), one chunk at a time.
      const chunk = image.slice(i * IMAGE_CHUNK_BYTES, (i + 1) * IMAGE_CHUNK_BYTES);
      await store('readwrite', async (data) => {
        const tx = data.transaction;
        const committed = promisifyRequest(tx);
        committed.catch(() => undefined);
        let refused: AdapterError | undefined;
        const check = data.get(META);
        check.onsuccess = () => {
          const stored = check.result as Meta | undefined;
          if (lost || generation === undefined || (stored && stored.generation !== generation)) {
            refused = lost ?? (stored && generation !== undefined ? ownershipLost(what, stored) : failure('NOT_OWNER', `${what}: this IndexedDB adapter does not own ${options.name} (call lock() first)`));
            tx.abort();
          }
        };
        // Chunks a crashed staging left under this id go first.
        if (i === 0) data.delete(imageRange(id));
        data.put(chunk, ['image', id, i]);
        try {
          await committed;
        } catch (e) {
          throw refused ?? translate(tx.error ?? e, what);
        }
      }).catch((e: unknown) => {
        throw translate(e, what);
      });
    }
    return { id, bytes: total, chunks: count };
  };

  const append = (bytes: Uint8Array, at: number): Promise<void> => {
    const expected = known;
    if (expected && at === expected.journalBytes && generation !== undefined && !lost) {
      return appendAtEnd(plainCopy(bytes), at, expected).catch((e: unknown) => {
        // The journal was not what this owner last wrote (not another owner: that is final):
        // the general path reads it first and decides.
        if ((e as { code?: unknown })?.code !== 'CONFLICT') throw e;
        return append(bytes, at);
      });
    }
    return write(`appending to ${options.name}'s journal`, async (data, meta) => {
      const end = await journalEnd(data);
      if (!Number.isSafeInteger(at) || at < 0 || at > end) {
        throw new RangeError(`append at ${at} is outside the journal (${end} bytes)`);
      }
      const record = plainCopy(bytes);
      if (at < end) {
        // A retry: the journal becomes its first `at` bytes, then `bytes`.
        data.delete(journalRange(at));
        // The entry that starts before `at` and runs past it is cut at `at`.
        const cursor = at === 0 ? null : await promisifyRequest(data.openCursor(IDBKeyRange.bound(['journal', 0], ['journal', at], false, true), 'prev'));
        if (cursor) {
          const start = (cursor.key as [string, number])[1];
          const part = cursor.value as Uint8Array;
          if (start + part.length > at) data.put(part.slice(0, at - start), cursor.key);
        }
      }
      data.put(record, ['journal', at]);
      return { meta, journalBytes: at + record.length };
    });
  };

  return {
    name: 'indexeddb',
    persistent: true,

    async lock(): Promise<void> {
      usable();
      if (release) return;
      if (!(await acquire({ ifAvailable: true }))) {
        const who = await holder();
        throw Object.assign(failure('LOCKED', `IndexedDB database ${options.name} is owned by ${who.description}`), { holder: who });
      }
      await own();
    },

    async waitForLock(signal: AbortSignal): Promise<void> {
      usable();
      if (release) return;
      await acquire({ signal });
      if (closed) {
        releaseLock();
        throw failure('CLOSED', `the IndexedDB adapter for ${options.name} is closed`);
      }
      await own();
    },

    load(): Promise<LoadedState> {
      return store('readonly', async (data) => {
        const meta = (await promisifyRequest(data.get(META))) as Meta | undefined;
        if (!meta) return { journal: new Uint8Array(0) };
        if (!(meta.format === 1 || meta.format === FORMAT)) throw unknownFormat(meta);
        const [chunks, journalKeys, journalParts] = await Promise.all([
          meta.image ? (promisifyRequest(data.getAll(imageRange(meta.image.id))) as Promise<Uint8Array[]>) : Promise.resolve([]),
          promisifyRequest(data.getAllKeys(journalRange(0))) as Promise<[string, number][]>,
          promisifyRequest(data.getAll(journalRange(0))) as Promise<Uint8Array[]>,
        ]);
        // Each entry starts where the one before it ends: a gap or an overlap is damage.
        let total = 0;
        journalParts.forEach((part, i) => {
          const offset = (journalKeys[i] as [string, number])[1];
          if (offset !== total) {
            throw failure('CORRUPT', `IndexedDB database ${options.name}'s journal has an entry at offset ${offset} where the entries before it end at ${total}`);
          }
          total += part.length;
        });
        if (meta.format === 1 && meta.journalBytes !== undefined && total !== meta.journalBytes) {
          throw failure('CORRUPT', `IndexedDB database ${options.name} holds ${total} journal bytes where its meta says ${String(meta.journalBytes)}`);
        }
        const journal = new Uint8Array(total);
        let at = 0;
        for (const part of journalParts) {
          journal.set(part, at);
          at += part.length;
        }
        if (!meta.image) return { journal };
        if (chunks.length !== meta.image.chunks) {
          throw failure('CORRUPT', `IndexedDB database ${options.name} holds ${chunks.length} image chunks where its meta says ${meta.image.chunks}`);
        }
        // One copy, with room to grow, handed over to the store (imageOwned).
        const image = new Uint8Array(newImageBuffer(imageCapacity(meta.image.bytes, total)), 0, meta.image.bytes);
        let offset = 0;
        for (const chunk of chunks) {
          if (offset + chunk.length > meta.image.bytes) break; // more than meta says: reported below
          image.set(chunk, offset);
          offset += chunk.length;
        }
        const stored = chunks.reduce((n, chunk) => n + chunk.length, 0);
        if (stored !== meta.image.bytes) throw failure('CORRUPT', `IndexedDB database ${options.name}'s image chunks hold ${stored} bytes where its meta says ${meta.image.bytes}`);
        return { image, journal, imageOwned: true };
      }).catch((e: unknown) => {
        // No database yet: nothing has been written (and reading creates none).
        if ((e as { code?: unknown })?.code === 'NO_DATABASE') return { journal: new Uint8Array(0) };
        throw translate(e, `loading ${options.name} from IndexedDB`);
      });
    },

    append,

    async checkpoint(image: Uint8Array): Promise<void> {
      const staged = await stage(image, `checkpointing ${options.name}`);
      await write(`checkpointing ${options.name}`, async (data, meta) => {
        if (meta.image && meta.image.id !== staged.id) data.delete(imageRange(meta.image.id));
        data.delete(journalRange(0));
        return { meta: { ...meta, image: staged }, journalBytes: 0 };
      });
    },

    async writeImage(image: Uint8Array): Promise<void> {
      const staged = await stage(image, `writing ${options.name}'s image`);
      await write(`writing ${options.name}'s image`, async (data, meta) => {
        if (meta.image && meta.image.id !== staged.id) data.delete(imageRange(meta.image.id));
        return { meta: { ...meta, image: staged }, journalBytes: await journalEnd(data) };
      });
    },

    trimJournal(from: number): Promise<void> {
      return write(`trimming ${options.name}'s journal`, async (data, meta) => {
        const end = await journalEnd(data);
        if (!Number.isSafeInteger(from) || from < 0 || from > end) {
          throw new RangeError(`trimming at ${from} is outside the journal (${end} bytes)`);
        }
        if (from === 0) return { meta, journalBytes: end };
        // The entry that starts before `from` and runs past it keeps its part after `from`; every
        // later one moves down by `from` (in key order, so a key is free before it is reused).
        const straddling = (await promisifyRequest(data.openCursor(IDBKeyRange.bound(['journal', 0], ['journal', from], false, true), 'prev'))) as IDBCursorWithValue | null;
        const kept: [number, Uint8Array][] = [];
        if (straddling) {
          const start = (straddling.key as [string, number])[1];
          const part = straddling.value as Uint8Array;
          if (start + part.length > from) kept.push([0, part.slice(from - start)]);
        }
        const keys = (await promisifyRequest(data.getAllKeys(journalRange(from)))) as [string, number][];
        const values = (await promisifyRequest(data.getAll(journalRange(from)))) as Uint8Array[];
        keys.forEach((key, i) => kept.push([key[1] - from, values[i] as Uint8Array]));
        data.delete(journalRange(0));
        for (const [at, part] of kept) data.put(part, ['journal', at]);
        return { meta, journalBytes: end - from };
      });
    },

    ...(canBroadcast ? { publish, subscribe } : {}),

    async unlock(): Promise<void> {
      releaseLock();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      releaseLock();
      listeners.clear();
      channel?.close();
      channel = undefined;
      const db = connection;
      connection = undefined;
      // Not awaited: an open still pending (blocked) closes whenever it resolves.
      void db?.then(
        (d) => d.close(),
        () => undefined,
      );
    },
  };

  function openChannel(): BroadcastChannel {
    const make = options.broadcastChannel ?? ((name: string) => new BroadcastChannel(name));
    const opened = make(names.channel);
    opened.onmessage = (event: MessageEvent) => {
      for (const listener of listeners) listener(event.data);
    };
    return opened;
  }
}
