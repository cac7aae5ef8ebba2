/**
 * The persistence contract between the store and where its bytes live. This is its first part:
 * loading the last image and releasing everything on close. Durable writes (checkpoints, a journal,
 * exclusive ownership) extend it.
 */

/** What an adapter hands the store when it opens. */
export interface LoadedState {
  /** The last complete SQLite image, or `undefined` when there is none yet (a new database). */
  readonly image?: Uint8Array;
}

/** A place the database is kept. Implementations live in `adapters/`, one per file. */
export interface PersistenceAdapter {
  /** A short name for messages, e.g. `memory`, `fs`. */
  readonly name: string;
  /**
   * Reads the last state. Must return bytes that stay valid and unchanged while the store opens them
   * (the store never writes into them), and must not change anything it reads.
   */
  load(): Promise<LoadedState>;
  /** Releases everything the adapter holds. Called once by `store.close()`; must not throw for a second call. */
  close(): Promise<void>;
}
