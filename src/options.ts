/**
 * `openStore`'s options: their types, and how they are read (once, as plain data) and checked.
 */
import { MIN_CHECKPOINT_BYTES, type DurabilitySettings, type StoreWarning } from './durability.js';
import type { EmbeddedEngine, Engine } from './engine.js';
import { ClockError, ValidationError } from './errors.js';
import type { Durability, PersistenceAdapter } from './persistence.js';
import type { WasmSource } from './sqljs-loader.js';

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * Where the database is kept. @default `createMemoryAdapter()` (in memory only)
   */
  adapter?: PersistenceAdapter;
  /**
   * What runs the SQL, one of two kinds (see `EmbeddedEngine`):
   * - an engine that keeps its own storage, instead of an adapter: `createD1Engine(env.DB)` from
   *   `@platform-agent/store/engines/d1`, `createNodeSqliteEngine({ path })` from
   *   `@platform-agent/store/engines/node-sqlite`. The same migrations and queries run on it; what it
   *   cannot do (interactive transactions, an image) is refused with `UNSUPPORTED`. Not together
   *   with `adapter`, `wasm`, `readOnly`, `whenLocked` or `durability`;
   * - an embedded engine, kept by `adapter`: `createSqlJsEmbeddedEngine({ wasm })` (what runs when
   *   none is given), or another SQLite build in this process. Not together with `wasm` or
   *   `cacheSizeKiB` (they are sql.js's options: give them to its factory).
   * @default sql.js (`createSqlJsEmbeddedEngine({ wasm, cacheSizeKiB })`) on `adapter`
   */
  engine?: Engine | EmbeddedEngine;
  /** Where the SQLite WebAssembly binary of the default engine (sql.js) comes from. @default in Node, the installed sql.js package's */
  wasm?: WasmSource;
  /**
   * The clock every timestamp comes from, in Unix ms. Inject one for tests and replays.
   * @default Date.now
   */
  clock?: () => number;
  /**
   * The most memory SQLite's page cache may use, in KiB (it grows only as pages are read).
   * @default 65536 (64 MiB)
   */
  cacheSizeKiB?: number;
  /**
   * When a write's promise resolves (see {@link Durability}): `'write'` once it is durable,
   * `'deferred'` at once and durable within `flushIntervalMs`, `'none'` at once and durable only at
   * `flush()`/`checkpoint()`/`close()`. @default `'write'` for a persistent adapter, `'none'` for memory
   */
  durability?: Durability;
  /** With `durability: 'deferred'`, the longest a committed write waits to be flushed. @default 1000 */
  flushIntervalMs?: number;
  /**
   * `false` writes the whole image at every flush instead of appending journal records (the mode of
   * adapters that cannot append; for comparison). @default true
   */
  journal?: boolean;
  /**
   * A checkpoint starts when the journal reaches this many bytes. By default the threshold adapts
   * to the database: the larger of 16 MiB and an eighth of the image, so checkpoints write at most
   * eight bytes of image per byte of journal, whatever the database's size (see `health()`'s
   * `checkpointThresholdBytes`). @default max(16 MiB, image size / 8)
   */
  checkpointBytes?: number;
  /** `onWarning` hears once when the image grows past this size. @default 1 GiB */
  sizeWarningBytes?: number;
  /**
   * Opens without taking ownership: reads the image and journal, refuses every write, writes
   * nothing. On an adapter that passes messages between stores (IndexedDB) it also follows the
   * owner's commits as they become durable, and never takes over (a dashboard, a viewer tab).
   */
  readOnly?: boolean;
  /**
   * What to do when another store owns the database (another tab, with the IndexedDB adapter):
   * - `'fail'`: `openStore` rejects with a `LockError`;
   * - `'follow'`: opens as a follower: reads work and see the owner's commits as they become durable,
   *   writes reject at once with a `LockError`; when the owner closes or its tab dies, this store
   *   takes over (it loads everything durable first) and writes from then on;
   * - `'wait'`: like `'follow'`, but writes, transactions and checkpoints wait for the takeover.
   *
   * `'follow'` and `'wait'` need an adapter that can wait for ownership and pass messages
   * (`waitForLock`, `publish`, `subscribe`: the IndexedDB adapter). @default 'fail'
   */
  whenLocked?: WhenLocked;
  /**
   * A following store (see `whenLocked`) calls it after it applied commits of the owner, reloaded,
   * or took over. @default none
   */
  onChange?: () => void;
  /** Hears what is not an error: a dropped torn tail, a size warning, a failed checkpoint, a degraded store. @default console.warn */
  onWarning?: (warning: StoreWarning) => void;
  /** The first and the longest wait between retries while degraded, in ms. @default { minMs: 50, maxMs: 5000 } */
  retry?: { minMs?: number; maxMs?: number };
  /**
   * What a read may see:
   * - `'committed'`: every write committed so far, durable or not: with `durability: 'write'`, a
   *   read made while another caller's write waits for its flush sees that write, which a crash in
   *   that moment still loses (it was never acknowledged);
   * - `'durable'`: a read (and a transaction, before it starts) resolves only once every write it
   *   could see is durable, starting a flush when none is under way, so an agent acts only on
   *   what survives a crash. While persistence fails (a degraded store) such a read rejects with a
   *   `PersistenceError` instead.
   *
   * A follower or a read-only store only ever sees durable writes either way. @default 'committed'
   */
  reads?: Reads;
}

/** See {@link StoreOptions.whenLocked}. */
export type WhenLocked = 'fail' | 'follow' | 'wait';

/** See {@link StoreOptions.reads}. */
export type Reads = 'committed' | 'durable';

/** What this store is to its database: the writer, a follower of another store, or a read-only reader. */
export type StoreRole = 'owner' | 'follower' | 'read-only';

export function checkedClock(clock: () => number): () => number {
  return () => {
    const now = clock();
    if (!Number.isSafeInteger(now) || now < 0) {
      throw new ClockError(`the clock returned ${String(now)}; it must return Unix milliseconds as a non-negative integer`);
    }
    return now;
  };
}

const DURABILITIES: readonly Durability[] = ['write', 'deferred', 'none'];
export const WHEN_LOCKED: readonly WhenLocked[] = ['fail', 'follow', 'wait'];
const READS: readonly Reads[] = ['committed', 'durable'];

export function readsOption(value: unknown): Reads {
  if (value === undefined) return 'committed';
  if (!READS.includes(value as Reads)) throw ValidationError.of('options', `reads must be one of ${READS.join(', ')}, not ${String(value)}`);
  return value as Reads;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw ValidationError.of('options', `${name} must be a positive integer, not ${String(value)}`);
  }
  return value;
}

function defaultWarning(warning: StoreWarning): void {
  console.warn(`[@platform-agent/store] ${warning.code}: ${warning.message}`);
}

export function settingsFrom(options: StoreOptions, adapter: PersistenceAdapter): DurabilitySettings {
  const mode = options.durability ?? adapter.defaultDurability ?? (adapter.persistent ? 'write' : 'none');
  if (!DURABILITIES.includes(mode)) throw ValidationError.of('options', `durability must be one of ${DURABILITIES.join(', ')}, not ${String(mode)}`);
  if (options.journal !== undefined && typeof options.journal !== 'boolean') throw ValidationError.of('options', 'journal must be true or false');
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') throw ValidationError.of('options', 'onWarning must be a function');
  const retryMinMs = positiveInteger('retry.minMs', options.retry?.minMs, 50);
  const retryMaxMs = positiveInteger('retry.maxMs', options.retry?.maxMs, 5000);
  const onWarning = options.onWarning ?? defaultWarning;
  return {
    mode,
    useJournal: options.journal ?? true,
    flushIntervalMs: positiveInteger('flushIntervalMs', options.flushIntervalMs, 1000),
    checkpointBytes: options.checkpointBytes === undefined ? undefined : positiveInteger('checkpointBytes', options.checkpointBytes, MIN_CHECKPOINT_BYTES),
    sizeWarningBytes: positiveInteger('sizeWarningBytes', options.sizeWarningBytes, 2 ** 30),
    retryMinMs,
    retryMaxMs: Math.max(retryMinMs, retryMaxMs),
    // A listener that throws must not break a write path.
    onWarning: (warning) => {
      try {
        onWarning(warning);
      } catch {
        /* ignored */
      }
    },
  };
}

/**
 * The options as plain data, each read once: a getter or proxy that throws (or answers differently
 * the second time) makes a `ValidationError`, never a raw error or an option seen two ways.
 */
export function readOptions(given: unknown): StoreOptions {
  if (typeof given !== 'object' || given === null) throw ValidationError.of('options', 'openStore() takes an options object');
  try {
    const options: StoreOptions = { ...(given as StoreOptions) };
    if (typeof options.retry === 'object' && options.retry !== null) options.retry = { ...options.retry };
    return options;
  } catch (e) {
    throw ValidationError.of('options', `reading them threw: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

