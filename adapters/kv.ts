import type { Durability } from '../src/durability.js';
import type { LoadedState, LockHolder, PersistenceAdapter } from '../src/persistence.js';
import { imageCapacity, newImageBuffer } from '../src/persistence.js';

/**
 * Keeps the database in a key-value store: Cloudflare KV, R2, Durable Object storage, Deno KV, or
 * anything with get/put/delete of bytes. The adapter declares the little it needs
 * ({@link KeyValueStore}) and depends on nothing.
 *
 * Layout, under the prefix `key`:
 * - `<key>`: the manifest, JSON: `{ format: 1, image: { id, bytes, chunks } }`, written last;
 * - `<key>/image/<id>/<i>`: the image in chunks of at most `chunkBytes`;
 * - `<key>/journal/<id>/<offset>`: one value per append, for the image `id`; the journal is the chain
 *   from offset 0, each value followed by the one at its end.
 *
 * A checkpoint writes the new chunks under a new id, then the manifest (one put, atomic in every
 * store), then deletes the old image and journal: a crash before the manifest leaves the old image
 * readable, after it the new one. An append writes one new key, so frequent appends never rewrite
 * one key (Cloudflare KV takes about one write per second per key).
 */

/** What the adapter needs from a key-value store: bytes in, bytes out. */
export interface KeyValueStore {
  /** The value of `key`, or `null`/`undefined` when there is none. */
  get(key: string): Promise<Uint8Array | ArrayBuffer | null | undefined>;
  /** Stores `value` under `key`, durably by the time it resolves. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Removes `key` (no error when it is missing). */
  delete(key: string): Promise<void>;
}

/** Options of {@link createKvAdapter}. */
export interface KvAdapterOptions {
  /** The key-value store. */
  kv: KeyValueStore;
  /** The prefix of every key this database uses (the manifest's own key). */
  key: string;
  /**
   * The largest value written, in bytes: images are split into chunks of this size. Cloudflare KV
   * takes 25 MiB per value; Durable Object storage far less (128 KiB per value with the key-value
   * API). @default 1 MiB
   */
  chunkBytes?: number;
  /**
   * The store's default durability on this adapter (an explicit `openStore({ durability })` wins).
   * `'deferred'` suits Cloudflare KV (writes are rate-limited and eventually consistent, so the
   * store batches them every `flushIntervalMs`); `'write'` suits a Durable Object's storage (one
   * writer, strongly consistent). @default 'deferred'
   */
  durability?: Durability;
}

interface Manifest {
  readonly format: 1;
  readonly image: { readonly id: number; readonly bytes: number; readonly chunks: number };
  /**
   * The image before this one and its journal, kept until the next checkpoint, so a reader that read
   * the previous manifest (a load in progress, another location's cached copy) still finds them.
   */
  readonly previous?: { readonly id: number; readonly chunks: number; readonly journal: readonly number[] };
}

type AdapterError = Error & { code: string; holder?: LockHolder };

function failure(code: string, message: string, cause?: unknown): AdapterError {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

// Ownership within one JavaScript realm (an isolate): the prefixes held, by key (a new wrapper
// object per request must not make a second owner).
const owners = new Map<string, object>();

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(
    `kv.get must return bytes (a Uint8Array or an ArrayBuffer), not ${typeof value === 'string' ? 'a string' : Object.prototype.toString.call(value)}: with Workers KV pass 'arrayBuffer' (env.KV.get(key, 'arrayBuffer'))`,
  );
}

/** A new image id: random, so two writers that should not both write (see lock()) never mix chunks. */
function newImageId(): number {
  const random = new Uint32Array(2);
  const crypto = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(random);
  else for (let i = 0; i < random.length; i++) random[i] = Math.floor(Math.random() * 2 ** 32);
  // 52 bits: a safe integer, never 0 (the journal's id before the first image).
  return ((random[0] as number) & 0xfffff) * 2 ** 32 + (random[1] as number) + 1;
}

/**
 * Keeps the database in a key-value store (see the module's notes for the layout).
 *
 * Ownership: `lock()` holds the key against other stores in this JavaScript realm (isolate) only; a
 * key-value store has no locks. Exactly one writer per prefix across machines is the deployment's job: a
 * Durable Object is that single writer on Cloudflare.
 * @example
 * // Cloudflare KV, in a Worker:
 * const kv = { get: (k) => env.KV.get(k, 'arrayBuffer'), put: (k, v) => env.KV.put(k, v), delete: (k) => env.KV.delete(k) };
 * const store = await openStore({ wasm, adapter: createKvAdapter({ kv, key: 'agent' }) });
 */
export function createKvAdapter(options: KvAdapterOptions): PersistenceAdapter {
  if (typeof options !== 'object' || options === null) throw new TypeError('createKvAdapter() needs { kv, key }');
  const { kv, key } = options;
  if (typeof kv !== 'object' || kv === null || typeof kv.get !== 'function' || typeof kv.put !== 'function' || typeof kv.delete !== 'function') {
    throw new TypeError('createKvAdapter(): kv must have get(key), put(key, bytes) and delete(key)');
  }
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('createKvAdapter(): key must be a non-empty string');
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new TypeError(`createKvAdapter(): chunkBytes must be a positive integer, not ${String(chunkBytes)}`);
  const durability = options.durability ?? 'deferred';
  if (!['write', 'deferred', 'none'].includes(durability)) throw new TypeError(`createKvAdapter(): durability must be 'write', 'deferred' or 'none', not ${String(durability)}`);

  const self = {};
  let closed = false;
  // What this instance knows of the journal it writes: the image id and the chain of segments.
  let known: { imageId: number; segments: { at: number; length: number }[] } | undefined;

  const usable = (): void => {
    if (closed) throw failure('CLOSED', `the key-value adapter for ${key} is closed`);
  };
  const imageKey = (id: number, i: number): string => `${key}/image/${id}/${i}`;
  const journalKey = (id: number, at: number): string => `${key}/journal/${id}/${at}`;

  const readManifest = async (): Promise<Manifest | undefined> => {
    const raw = await kv.get(key);
    if (raw === null || raw === undefined) return undefined;
    const bytes = toBytes(raw);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    } catch (e) {
      throw failure('CORRUPT', `the manifest under ${key} is not JSON`, e);
    }
    const image = manifest?.image;
    if (manifest?.format !== 1 || !image || ![image.id, image.bytes, image.chunks].every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw failure('CORRUPT', `the manifest under ${key} is not one this adapter wrote (format ${String(manifest?.format)})`);
    }
    return manifest;
  };

  // The journal of image `id`: the chain of values from offset 0.
  const readJournal = async (id: number): Promise<{ bytes: Uint8Array; segments: { at: number; length: number }[] }> => {
    const parts: Uint8Array[] = [];
    const segments: { at: number; length: number }[] = [];
    let at = 0;
    for (;;) {
      const raw = await kv.get(journalKey(id, at));
      if (raw === null || raw === undefined) break;
      const part = toBytes(raw);
      if (part.length === 0) break;
      parts.push(part);
      segments.push({ at, length: part.length });
      at += part.length;
    }
    const bytes = new Uint8Array(at);
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return { bytes, segments };
  };

  const current = async (): Promise<{ imageId: number; segments: { at: number; length: number }[] }> => {
    if (known) return known;
    const manifest = await readManifest();
    const imageId = manifest?.image.id ?? 0;
    known = { imageId, segments: (await readJournal(imageId)).segments };
    return known;
  };

  return {
    name: 'kv',
    persistent: true,
    defaultDurability: durability,

    async lock(): Promise<void> {
      usable();
      const owner = owners.get(key);
      if (owner !== undefined && owner !== self) {
        const holder: LockHolder = { description: 'another store in this JavaScript realm (isolate) on the same key-value store and key' };
        throw Object.assign(failure('LOCKED', `key ${key} is owned by ${holder.description}`), { holder });
      }
      owners.set(key, self);
    },

    async load(): Promise<LoadedState> {
      usable();
      const manifest = await readManifest();
      const imageId = manifest?.image.id ?? 0;
      const journal = await readJournal(imageId);
      if (owners.get(key) === self) known = { imageId, segments: journal.segments };
      if (!manifest) return { journal: journal.bytes };
      const { bytes, chunks } = manifest.image;
      const values = await Promise.all(Array.from({ length: chunks }, (_, i) => kv.get(imageKey(imageId, i))));
      const image = new Uint8Array(newImageBuffer(imageCapacity(bytes, journal.bytes.length)), 0, bytes);
      let offset = 0;
      for (const [i, raw] of values.entries()) {
        if (raw === null || raw === undefined) throw failure('CORRUPT', `image chunk ${i} of ${chunks} under ${key} is missing (a store that is only eventually consistent may not have it yet)`);
        const chunk = toBytes(raw);
        if (offset + chunk.length > bytes) throw failure('CORRUPT', `the image chunks under ${key} hold more than the manifest's ${bytes} bytes`);
        image.set(chunk, offset);
        offset += chunk.length;
      }
      if (offset !== bytes) throw failure('CORRUPT', `the image chunks under ${key} hold ${offset} bytes where the manifest says ${bytes}`);
      return { image, journal: journal.bytes, imageOwned: true };
    },

    async append(bytes: Uint8Array, at: number): Promise<void> {
      usable();
      const state = await current();
      const end = state.segments.reduce((n, s) => Math.max(n, s.at + s.length), 0);
      if (!Number.isSafeInteger(at) || at < 0 || at > end) throw new RangeError(`append at ${at} is outside the journal (${end} bytes)`);
      const record = Uint8Array.prototype.slice.call(bytes);
      if (at < end) {
        // A retry: the chain becomes its first `at` bytes, then `bytes`. Later segments go first
        // (from the last), so a crash meanwhile leaves a shorter chain, never a stale continuation.
        const later = state.segments.filter((s) => s.at >= at).sort((a, b) => b.at - a.at);
        for (const segment of later) await kv.delete(journalKey(state.imageId, segment.at));
        state.segments = state.segments.filter((s) => s.at < at);
        const cut = state.segments.find((s) => s.at + s.length > at);
        if (cut) {
          const raw = await kv.get(journalKey(state.imageId, cut.at));
          if (raw === null || raw === undefined) throw failure('CORRUPT', `journal segment ${cut.at} under ${key} vanished`);
          await kv.put(journalKey(state.imageId, cut.at), toBytes(raw).slice(0, at - cut.at));
          cut.length = at - cut.at;
        }
      }
      // In values of at most chunkBytes, in order: a crash between two leaves a record cut short at
      // the end of the chain, which the store drops as a torn tail.
      for (let offset = 0; offset < record.length; offset += chunkBytes) {
        const piece = record.slice(offset, offset + chunkBytes);
        await kv.put(journalKey(state.imageId, at + offset), piece);
        state.segments.push({ at: at + offset, length: piece.length });
      }
    },

    async checkpoint(image: Uint8Array): Promise<void> {
      usable();
      // Copied out first: a detached buffer fails here, before anything is written.
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < image.byteLength || chunks.length === 0; at += chunkBytes) chunks.push(image.slice(at, at + chunkBytes));
      const previous = await current();
      const oldManifest = await readManifest();
      let id = newImageId();
      while (id === previous.imageId || id === oldManifest?.image.id) id = newImageId();
      for (const [i, chunk] of chunks.entries()) await kv.put(imageKey(id, i), chunk);
      const manifest: Manifest = {
        format: 1,
        image: { id, bytes: image.byteLength, chunks: chunks.length },
        previous: { id: previous.imageId, chunks: oldManifest?.image.chunks ?? 0, journal: previous.segments.map((s) => s.at) },
      };
      await kv.put(key, new TextEncoder().encode(JSON.stringify(manifest)));
      known = { imageId: id, segments: [] };
      // The image before the previous one (and its journal) is unreachable now: removing it is
      // housekeeping. The previous one stays for readers that are still loading it.
      const old = oldManifest?.previous;
      const wellFormed = old && Number.isSafeInteger(old.id) && Number.isSafeInteger(old.chunks) && Array.isArray(old.journal) && old.journal.every((at) => Number.isSafeInteger(at));
      const garbage = old && wellFormed ? [...Array.from({ length: old.chunks }, (_, i) => imageKey(old.id, i)), ...old.journal.map((at) => journalKey(old.id, at))] : [];
      await Promise.all(garbage.map((k) => kv.delete(k).catch(() => undefined)));
    },

    async unlock(): Promise<void> {
      if (owners.get(key) === self) owners.delete(key);
      known = undefined;
    },

    async close(): Promise<void> {
      if (owners.get(key) === self) owners.delete(key);
      known = undefined;
      closed = true;
    },
  };
}
