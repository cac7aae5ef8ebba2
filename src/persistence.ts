/**
 * The persistence contract: what the store needs from the place its bytes live. Implementations live
 * in `adapters/` (memory, fs, …); every one runs the same conformance suite (`test/adapters/`).
 *
 * The store keeps two things there:
 * - the **image**: a complete SQLite database file, replaced only as a whole (a checkpoint);
 * - the **journal** (optional): the bytes of the records committed since that image, appended in
 *   order. The store frames and checks the records itself (`src/journal.ts`); an adapter stores
 *   bytes and never parses them.
 *
 * The image records the last journal sequence it contains, so a journal that still holds records an
 * image already covers (a crash between replacing the image and emptying the journal) is harmless:
 * the store skips them.
 *
 * Call order, from one store: `lock()` (unless read-only) → `load()` → any number of `append()`,
 * `checkpoint()` and `trimJournal()`, one at a time, never overlapping, and of `writeImage()`, one at
 * a time, which may overlap `append()` (only) → `unlock()` → `close()`. `close()` may also come at
 * any point after a failure.
 *
 * A checkpoint comes in one of two shapes. Every adapter has `checkpoint(image)`: the image replaced
 * and the journal emptied in one call, while the store's writes wait. An adapter that also has
 * `writeImage` and `trimJournal` lets writes go on during a checkpoint: the store writes the new
 * image with `writeImage` while it appends what comes after it to the journal, behind a marker
 * (see `journal.ts`), and once the image is durable drops the journal before the marker with
 * `trimJournal`.
 */

import type { LockHolder } from './errors.js';

/**
 * When a write's promise resolves:
 * - `'write'`: once the write is durable (appended to the journal, or in a new image). Writes that
 *   arrive while a flush is running share the next flush (group commit).
 * - `'deferred'`: at once; the write becomes durable within `flushIntervalMs`, or at `flush()`,
 *   `checkpoint()` or `close()`. A crash loses at most that window.
 * - `'none'`: at once; nothing is written until `flush()`, `checkpoint()` or `close()`.
 */
export type Durability = 'write' | 'deferred' | 'none';

export type { LockHolder };

/** What an adapter hands the store when it opens. */
export interface LoadedState {
  /** The last complete SQLite image, or `undefined` when there is none yet (a new database). */
  readonly image?: Uint8Array;
  /**
   * Every journal byte appended since the last completed checkpoint, in order, or `undefined`/empty
   * when there are none. After a crash the bytes may end in a partly written record: the store
   * drops it (it was never acknowledged) and overwrites it with its next `append()`.
   */
  readonly journal?: Uint8Array;
  /**
   * `true` when the adapter hands the image's memory over: the whole `ArrayBuffer` is the adapter's
   * to give (nothing else uses any part of it; spare bytes after the view are zero) and it keeps no
   * reference, so the store may write into it, and into the spare capacity after the view, instead
   * of copying it (a large image then costs one copy of memory, not two). The store adopts only a
   * plain `Uint8Array` that starts its buffer (never a Node `Buffer`, which may share a pool) and
   * copies anything else. Leave it out when the bytes are shared (a cache, the memory adapter's
   * volume).
   */
  readonly imageOwned?: boolean;
}

/**
 * The memory to give an image of `imageBytes` that the store will write into: room for it to grow
 * by half, plus the records a journal of `journalBytes` will replay into it (about their own size),
 * so sql.js's file system need not reallocate and copy it soon. Fresh pages never written are never
 * resident, so the room costs address space, not memory. Adapters that set `imageOwned` size their
 * buffers with it; the engine sizes its own copy with it.
 */
export function imageCapacity(imageBytes: number, journalBytes = 0): number {
  return Math.ceil((imageBytes + journalBytes) * 1.5) + 16 * 1024 * 1024;
}

// The most a resizable image buffer may grow to (V8 allows up to 4 GiB; a runtime that refuses it
// gets 2 GiB, or a buffer of fixed size).
const IMAGE_MAX_BYTES = [2 ** 32, 2 ** 31] as const;

/**
 * A new buffer of `capacity` bytes for an image the store will write into (size it with
 * {@link imageCapacity}). Where the runtime has resizable ArrayBuffers (Node 20, current browsers,
 * workerd) it can grow in place up to 4 GiB: the sql.js engine grows it ahead of the database, so
 * SQLite extending its file never makes sql.js's file system copy the whole image into a larger
 * array (at 400 MiB, a 240 ms stall of the event loop). Elsewhere a plain buffer of that size.
 */
export function newImageBuffer(capacity: number): ArrayBuffer {
  for (const maxByteLength of IMAGE_MAX_BYTES) {
    if (capacity > maxByteLength) break;
    try {
      const buffer = new ArrayBuffer(capacity, { maxByteLength });
      if (buffer.resizable) return buffer;
    } catch {
      // Not this maximum (or not resizable buffers at all): the next, or a plain buffer.
    }
  }
  return new ArrayBuffer(capacity);
}

/** A place the database is kept. Implementations live in `adapters/`, one per file. */
export interface PersistenceAdapter {
  /** A short name for messages, e.g. `memory`, `fs`. */
  readonly name: string;
  /**
   * Whether what the adapter keeps outlives the process (`memory`: false; `fs`: true). It picks the
   * store's default durability: `'write'` when persistent, `'none'` when not.
   */
  readonly persistent: boolean;
  /**
   * Optional: the durability the store uses on this adapter when `openStore` is given none, for a
   * medium that suits another one than `persistent` implies (Cloudflare KV: `'deferred'`, since it
   * takes about one write per second per key). @default `'write'` when persistent, `'none'` when not
   */
  readonly defaultDurability?: Durability;
  /**
   * Takes exclusive ownership of the database for writing, before `load()`. Must reject at once,
   * with an error whose `code` is `'LOCKED'` and whose `holder` is a {@link LockHolder} (the store
   * turns it into a `LockError`), when another live owner, in this process or another, holds it, and must take over ownership left behind by an owner that no longer
   * exists (a crashed process). It may also refuse with `'SQLITE_JOURNAL'` (see `load`) when a
   * SQLite program may have the database open. A read-only store never calls it.
   */
  lock(): Promise<void>;
  /**
   * Reads the last state: the image and the journal. Must return bytes that stay valid and unchanged
   * afterwards, whatever the adapter writes later (the store never writes into them), and must
   * change nothing. Needs no ownership: a read-only store calls it while another store writes, so
   * it reads the journal before the image (a checkpoint in between then gives an image newer than
   * the journal, which the store handles).
   *
   * It refuses, changing nothing, what it finds that cannot be read whole, with an error whose
   * `code` the store turns into its typed error: `'SQLITE_JOURNAL'` (with `path`, `kind` `'wal'` |
   * `'rollback'` and `bytes`) when SQLite's own journal beside the database holds writes the image
   * lacks (a `SqliteJournalError`); `'CORRUPT'` (with a `reason`, such as `'EMPTY'` or
   * `'TRUNCATED'`) for bytes that are no whole database (a `CorruptDatabaseError`); `'NOT_FOUND'`
   * (with `path`) when the adapter was told the database must exist. The store itself checks every
   * image it is given against SQLite's header (a zero-byte image included) and every journal
   * against the image it names, so an adapter need not.
   */
  load(): Promise<LoadedState>;
  /**
   * Optional capability: durably writes `bytes` (whole journal records) at byte offset `at` of the
   * journal, so that the journal becomes its first `at` bytes followed by `bytes`. The store never
   * passes an `at` past the journal's end; an adapter must reject one (a `RangeError`) and change
   * nothing. Must resolve only once the bytes survive a crash of the process (and,
   * where the medium allows, of the machine); must reject if it cannot promise that. A retry after a
   * failure repeats the same `at`, so a partly written attempt is simply overwritten.
   * Without it the store writes the whole image at every flush.
   */
  append?(bytes: Uint8Array, at: number): Promise<void>;
  /**
   * Replaces the image with `image` atomically, then empties the journal (every record in it is
   * covered by `image`). Atomic means: whatever happens during the call (a crash, an error), a
   * later `load()` returns either the old image or the new one, complete, never a mix, and never
   * a journal record the store did not append. Must resolve only once the new image is durable.
   * If it rejects, the store's next write to the adapter is another `checkpoint()`. The adapter must
   * not keep a reference to `image` after it resolves (the store may reuse or drop it).
   */
  checkpoint(image: Uint8Array): Promise<void>;
  /**
   * Optional capability, with {@link PersistenceAdapter.trimJournal}: replaces the image with
   * `image` atomically, as `checkpoint` does, and leaves the journal as it is. `append()` calls may
   * run while it does (the store never overlaps it with `checkpoint`, `trimJournal` or another
   * `writeImage`); neither may wait for the other. Must resolve only once the new image is durable,
   * and must not keep a reference to `image` afterwards.
   */
  writeImage?(image: Uint8Array): Promise<void>;
  /**
   * Optional capability, with {@link PersistenceAdapter.writeImage}: drops the journal's first
   * `from` bytes, so that the journal becomes what followed them (and the next `append` is at the
   * journal's new length). Atomic and durable: whatever happens during the call, a later `load()`
   * returns the journal whole or trimmed. The store never passes a `from` past the journal's end;
   * an adapter must reject one (a `RangeError`) and change nothing.
   */
  trimJournal?(from: number): Promise<void>;
  /**
   * Optional capability (several writers-to-be on one database, e.g. browser tabs): waits until this
   * instance can take ownership, takes it as `lock()` would, and resolves. Rejects when `signal`
   * aborts (the store closed), and then holds nothing. A store opened with `whenLocked: 'follow'` or
   * `'wait'` calls it after `lock()` refused, and takes over when it resolves.
   */
  waitForLock?(signal: AbortSignal): Promise<void>;
  /**
   * Optional capability, with {@link PersistenceAdapter.subscribe}: sends `message` (structured-
   * cloneable data) to every other instance on this database that subscribed (other tabs), in the
   * order sent. Best effort: a follower that misses a message finds out from the next one and loads.
   * The store sends what it made durable, so followers see new commits without polling.
   */
  publish?(message: unknown): void;
  /**
   * Optional capability: calls `listener` with every message another instance on this database
   * publishes (never this instance's own). Returns a function that stops it. Messages are
   * untrusted input: the store checks each one.
   */
  subscribe?(listener: (message: unknown) => void): () => void;
  /** Gives up the ownership taken by `lock()`; nothing happens when it is not held. */
  unlock(): Promise<void>;
  /**
   * Releases everything the adapter holds (and ownership, if still held). Called once by
   * `store.close()` or by a failed `openStore()`; must not throw for a second call.
   */
  close(): Promise<void>;
}
