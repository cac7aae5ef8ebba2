/**
 * Stores opened by a test file, closed after each test, and the crash the memory adapter's volume
 * stands in for (a store dropped without close(): its ownership dies with the "process").
 */
import { afterEach } from 'vitest';
import type { MemoryVolume } from '../../adapters/memory.js';
import { openStore, type PersistenceAdapter, type Store, type StoreOptions } from '../../src/index.js';

/** Registers the after-each close in the calling file and returns its `open`: a store on `adapter`, warnings silenced unless `options` says. */
export function storesClosedAfterEach(): (adapter: PersistenceAdapter, options?: StoreOptions) => Promise<Store> {
  const opened: Store[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  });
  return async (adapter, options = {}) => {
    const store = await openStore({ adapter, onWarning: () => undefined, ...options });
    opened.push(store);
    return store;
  };
}

/** A crash: the store is dropped without close(); its ownership dies with the "process". */
export function crash(volume: MemoryVolume): void {
  volume.owner = undefined;
}

/** Resolves to whether `promise` settled within a few turns of the event loop. */
export async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  return settled;
}

/**
 * What a crash leaves of a memory volume, as a new volume of its own: the bytes as they are now
 * (the "process" that owned it may go on writing to the original).
 */
export function crashedCopy(volume: MemoryVolume): MemoryVolume {
  return { image: volume.image?.slice(), journal: volume.journal.slice(0, volume.journalLength), journalLength: volume.journalLength, owner: undefined };
}
