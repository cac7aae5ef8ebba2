import type { LoadedState, PersistenceAdapter } from '../src/persistence.js';

/** Options of {@link createMemoryAdapter}. */
export interface MemoryAdapterOptions {
  /**
   * A complete SQLite database file (for example one the Go agent wrote) to start from. It is
   * copied, so the caller's bytes are never changed. @default an empty database
   */
  image?: Uint8Array;
}

/**
 * Keeps the database in memory only: nothing survives `close()`. The default of `openStore()`.
 * @example
 * const store = await openStore({ adapter: createMemoryAdapter({ image: readFileSync('agent.db') }) });
 */
export function createMemoryAdapter(options: MemoryAdapterOptions = {}): PersistenceAdapter {
  // Copied so the caller's bytes are never changed; anything else is passed on for openStore to refuse.
  const image = options.image instanceof Uint8Array ? Uint8Array.prototype.slice.call(options.image) : options.image;
  return {
    name: 'memory',
    async load(): Promise<LoadedState> {
      return image === undefined ? {} : { image };
    },
    async close(): Promise<void> {},
  };
}
