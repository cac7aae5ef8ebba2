/**
 * IndexedDB helpers shared by the Node tests (fake-indexeddb) and the Chromium entries (real
 * IndexedDB): both use the globals, so this file imports nothing from Node.
 */
import { indexedDbNames } from '../../adapters/indexeddb.js';

/** Deletes store `name`'s IndexedDB database. */
export function deleteIndexedDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(indexedDbNames(name).database);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

/**
 * Makes every IndexedDB put and add throw a `QuotaExceededError` (in the middle of a transaction,
 * which then aborts), as a full quota does, until the returned function runs.
 */
export function failEveryPut(): () => Promise<void> {
  const { put, add } = IDBObjectStore.prototype;
  const quotaExceeded = function quotaExceeded(): IDBRequest<IDBValidKey> {
    throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
  };
  IDBObjectStore.prototype.put = quotaExceeded;
  IDBObjectStore.prototype.add = quotaExceeded;
  return async () => {
    IDBObjectStore.prototype.put = put;
    IDBObjectStore.prototype.add = add;
  };
}

/**
 * Makes the IndexedDB put of `key` (e.g. the adapter's `meta`, the last put of a checkpoint) throw a
 * `QuotaExceededError`, after the puts before it in the same transaction went through, until the
 * returned function runs: a transaction that fails half built.
 */
export function failPutOf(key: IDBValidKey): () => Promise<void> {
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function failingPut(this: IDBObjectStore, value: unknown, k?: IDBValidKey): IDBRequest<IDBValidKey> {
    if (k !== undefined && indexedDB.cmp(k, key) === 0) throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
    return put.call(this, value, k);
  };
  return async () => {
    IDBObjectStore.prototype.put = put;
  };
}
