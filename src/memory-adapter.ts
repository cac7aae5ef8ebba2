import type { LoadedState, LockHolder, PersistenceAdapter } from './persistence.js';

/**
 * Bytes kept in memory that several memory adapters can share: what one store checkpoints and
 * appends, the next adapter on the same volume loads. Useful in tests (reopen, simulate a crash by
 * abandoning a store without closing it) and for a scratch database that outlives one store.
 */
export interface MemoryVolume {
  /** The image of the last checkpoint (a copy), if any. */
  image: Uint8Array | undefined;
  /** The journal since that checkpoint: its first `journalLength` bytes (the rest is spare room). */
  journal: Uint8Array;
  /** How many bytes of `journal` are in use. */
  journalLength: number;
  /** Set while an adapter holds the volume for writing. */
  owner: object | undefined;
}

/** A new, empty {@link MemoryVolume}. */
export function createMemoryVolume(): MemoryVolume {
  return { image: undefined, journal: new Uint8Array(0), journalLength: 0, owner: undefined };
}

/** Options of {@link createMemoryAdapter}. */
export interface MemoryAdapterOptions {
  /**
   * A complete SQLite database file (for example one the Go agent wrote) to start from. It is
   * copied, so the caller's bytes are never changed. Not together with `volume`. @default an empty database
   */
  image?: Uint8Array;
  /** Bytes shared with other memory adapters (see {@link MemoryVolume}). @default a private volume */
  volume?: MemoryVolume;
}

function lockedError(): Error & { code: 'LOCKED'; holder: LockHolder } {
  const holder: LockHolder = { description: 'another store in this JavaScript realm (memory volume)' };
  return Object.assign(new Error(`the memory volume is locked by ${holder.description}`), { code: 'LOCKED' as const, holder });
}

function copy(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}

/**
 * Keeps the database in memory: nothing outlives the process, so the store's default durability
 * with it is `'none'` (no flush per write). It implements the whole persistence contract,
 * journal included, over a {@link MemoryVolume}. The default adapter of `openStore()`.
 * @example
 * const store = await openStore({ adapter: createMemoryAdapter({ image: readFileSync('agent.db') }) });
 */
export function createMemoryAdapter(options: MemoryAdapterOptions = {}): PersistenceAdapter {
  const volume = options.volume ?? createMemoryVolume();
  // Copied so the caller's bytes are never changed; anything else is passed on for openStore to refuse.
  if (options.image !== undefined) volume.image = options.image instanceof Uint8Array ? copy(options.image) : (options.image as Uint8Array);
  const self = {};
  let closed = false;
  const usable = (): void => {
    if (closed) throw new Error('the memory adapter is closed');
  };
  return {
    name: 'memory',
    persistent: false,
    async lock(): Promise<void> {
      usable();
      if (volume.owner !== undefined && volume.owner !== self) throw lockedError();
      volume.owner = self;
    },
    async load(): Promise<LoadedState> {
      usable();
      return { ...(volume.image === undefined ? {} : { image: volume.image }), journal: volume.journal.slice(0, volume.journalLength) };
    },
    async append(bytes: Uint8Array, at: number): Promise<void> {
      usable();
      if (!Number.isSafeInteger(at) || at < 0 || at > volume.journalLength) {
        throw new RangeError(`append at ${at} is outside the journal (${volume.journalLength} bytes)`);
      }
      const end = at + bytes.length;
      if (end > volume.journal.length) {
        // Grows by doubling, so appends cost O(1) amortized.
        const grown = new Uint8Array(Math.max(end, volume.journal.length * 2, 4096));
        grown.set(volume.journal.subarray(0, at));
        volume.journal = grown;
      }
      volume.journal.set(bytes, at);
      volume.journalLength = end;
    },
    async checkpoint(image: Uint8Array): Promise<void> {
      usable();
      volume.image = copy(image);
      volume.journal = new Uint8Array(0);
      volume.journalLength = 0;
    },
    async writeImage(image: Uint8Array): Promise<void> {
      usable();
      volume.image = copy(image);
    },
    async trimJournal(from: number): Promise<void> {
      usable();
      if (!Number.isSafeInteger(from) || from < 0 || from > volume.journalLength) {
        throw new RangeError(`trimming at ${from} is outside the journal (${volume.journalLength} bytes)`);
      }
      volume.journal = volume.journal.slice(from, volume.journalLength);
      volume.journalLength -= from;
    },
    async unlock(): Promise<void> {
      if (volume.owner === self) volume.owner = undefined;
    },
    async close(): Promise<void> {
      if (volume.owner === self) volume.owner = undefined;
      closed = true;
    },
  };
}
