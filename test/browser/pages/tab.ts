// One "tab" of a web app that keeps agent state in IndexedDB: the Chromium tests drive it through
// `globalThis.tab` (test/browser/indexeddb.chromium.test.ts).
import { createIndexedDbAdapter, indexedDbNames } from '../../../adapters/indexeddb.js';
import { createMemoryAdapter } from '../../../adapters/memory.js';
import { openStore, type Store, type StoreHealth, type WhenLocked } from '../../../src/index.js';

/** What a write came to, as plain data for page.evaluate. */
export interface Outcome {
  ok: boolean;
  name?: string;
  code?: string;
  reason?: string;
  message?: string;
}

let store: Store | undefined;
const warnings: string[] = [];

function opened(): Store {
  if (!store) throw new Error('tab.open() first');
  return store;
}

function outcome(e: unknown): Outcome {
  const error = e as { name?: string; code?: string; reason?: string; message?: string };
  return { ok: false, name: error?.constructor?.name ?? error?.name, code: error?.code, reason: error?.reason, message: error?.message };
}

const tab = {
  async open(name: string, whenLocked: WhenLocked = 'fail', options: { openTimeoutMs?: number; checkpointBytes?: number } = {}): Promise<string> {
    const { openTimeoutMs, checkpointBytes } = options;
    store = await openStore({
      wasm: '/sql-wasm.wasm',
      adapter: createIndexedDbAdapter({ name, ...(openTimeoutMs === undefined ? {} : { openTimeoutMs }) }),
      whenLocked,
      ...(checkpointBytes === undefined ? {} : { checkpointBytes }),
      onWarning: (w) => warnings.push(`${w.code}: ${w.message}`),
      retry: { minMs: 20, maxMs: 200 },
    });
    return store.role;
  },
  async tryOpen(name: string, openTimeoutMs?: number): Promise<Outcome> {
    try {
      await tab.open(name, 'fail', { openTimeoutMs });
      return { ok: true };
    } catch (e) {
      return outcome(e);
    }
  },
  role: (): string => opened().role,
  health: (): Pick<StoreHealth, 'state' | 'lastSequence' | 'durableSequence' | 'pendingWrites'> => {
    const { state, lastSequence, durableSequence, pendingWrites } = opened().health();
    return { state, lastSequence, durableSequence, pendingWrites };
  },
  warnings: (): string[] => warnings.slice(),
  async save(id: string, padBytes = 0): Promise<Outcome> {
    try {
      await opened().saveTask({ id, command: 'deploy', params: { pad: 'x'.repeat(padBytes) } });
      return { ok: true };
    } catch (e) {
      return outcome(e);
    }
  },
  async ids(): Promise<string[]> {
    return (await opened().listTasks()).map((t) => t.id).sort();
  },
  /** Writes `count` tasks one after another, reporting each acknowledged id to `ack` (exposed by the test). */
  async burst(prefix: string, count: number): Promise<number> {
    const ack = (globalThis as unknown as { ack: (id: string) => Promise<void> }).ack;
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${String(i).padStart(5, '0')}`;
      await opened().transaction(async (tx) => {
        await tx.saveTask({ id, command: 'burst', params: { i } });
        await tx.appendAudit({ userId: 'U1', action: 'burst', result: id });
      });
      void ack(id);
    }
    return count;
  },
  /** Deletes the store's IndexedDB database, as clearing site data does (our open connection is told to go). */
  deleteDatabase(name: string): Promise<string> {
    return new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(indexedDbNames(name).database);
      request.onsuccess = () => resolve('deleted');
      request.onerror = () => resolve(`error ${String(request.error)}`);
      request.onblocked = () => resolve('blocked');
    });
  },
  /**
   * Another tab's deletion of the database, blocked by a connection of this page that ignores
   * versionchange: every open of the database waits behind it until `releaseDeletion()`.
   */
  async blockDeletion(name: string): Promise<string> {
    const { database } = indexedDbNames(name);
    const stubborn = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(database);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    stubborn.onversionchange = () => {}; // does not close: the deletion stays blocked
    const deletion = indexedDB.deleteDatabase(database);
    const deleted = new Promise<void>((resolve) => (deletion.onsuccess = () => resolve()));
    (globalThis as unknown as { releaseDeletion: () => Promise<void> }).releaseDeletion = async () => {
      stubborn.close();
      await deleted;
    };
    return new Promise((resolve) => (deletion.onblocked = () => resolve('blocked')));
  },
  releaseDeletion(): Promise<void> {
    return (globalThis as unknown as { releaseDeletion: () => Promise<void> }).releaseDeletion();
  },
  /** Takes the store's Web Lock away from whoever holds it (`steal`), and keeps it. */
  async stealLock(name: string): Promise<string> {
    return new Promise((resolve) => {
      void navigator.locks.request(indexedDbNames(name).lock, { steal: true }, () => {
        resolve('stolen');
        return new Promise<void>(() => {});
      });
    });
  },
  async exportedTaskCount(): Promise<number> {
    // The rescue path the README gives for a deleted database: the image from memory, opened anew.
    const image = await opened().exportImage();
    const copy = await openStore({ wasm: '/sql-wasm.wasm', adapter: createMemoryAdapter({ image }) });
    try {
      return (await copy.listTasks()).length;
    } finally {
      await copy.close();
    }
  },
  async owned(): Promise<string> {
    await opened().owned();
    return opened().role;
  },
  async close(): Promise<void> {
    await store?.close();
    store = undefined;
  },
};

(globalThis as unknown as { tab: typeof tab }).tab = tab;

/** The page's API, for the tests' types. */
export type Tab = typeof tab;
