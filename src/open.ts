/**
 * `openStore`: the store on an adapter and an embedded engine (sql.js unless told otherwise), as
 * the owner, a follower or a read-only reader; or on an engine that keeps its own storage.
 */
import { DurabilityManager } from './durability.js';
import { isEmbeddedEngine, SYNC_PORT, type EmbeddedEngine, type Engine, type SyncPort } from './engine.js';
import { ClosedError, LockError, ReadOnlyError, SqlError, StoreError, TransactionError, UnsupportedError, ValidationError, SchemaVersionError } from './errors.js';
import { openMailbox, type Mailbox } from './follower.js';
import { loadMigrated, lockFailure, refusal, type Opened } from './loading.js';
import { createMemoryAdapter } from './memory-adapter.js';
import { migrate, readSchemaVersion, SCHEMA_VERSION } from './migrations.js';
import { checkedClock, readOptions, readsOption, settingsFrom, WHEN_LOCKED, type StoreOptions } from './options.js';
import type { PersistenceAdapter } from './persistence.js';
import type { SqlPort, SqlStatement, SqlValue } from './sql-port.js';
import { createSqlJsEmbeddedEngine } from './sqljs-engine.js';
import { FOLLOW, Store } from './store.js';

// Adapter kinds whose chosen durability was told (see openStore).
const toldDeferred = new Set<string>();

/** The embedded engine `options` name, or sql.js with its options. */
function embeddedEngine(options: StoreOptions): EmbeddedEngine {
  if (options.engine === undefined) return createSqlJsEmbeddedEngine({ wasm: options.wasm, cacheSizeKiB: options.cacheSizeKiB });
  const clash = (['wasm', 'cacheSizeKiB'] as const).filter((name) => options[name] !== undefined);
  if (clash.length > 0) {
    throw ValidationError.of('options', `${clash.join(' and ')} configure the default engine (sql.js); with an engine of your own, give them to it (createSqlJsEmbeddedEngine({ wasm, cacheSizeKiB }))`);
  }
  return options.engine as EmbeddedEngine;
}

/**
 * Opens a store: takes ownership of the database (unless `readOnly`), loads the adapter's image and
 * replays its journal (or starts empty), runs the migrations, and returns the {@link Store}. A file
 * that is not SQLite, a damaged journal, or a schema newer than this code is refused with a typed
 * error and left untouched; a database another store owns gives a `LockError`.
 * @example
 * const store = await openStore({ adapter: createFileAdapter({ path: 'agent.db' }) });
 * await store.saveTask({ id: 't1', command: 'deploy', params: { env: 'prod' } });
 */
export async function openStore(given: StoreOptions = {}): Promise<Store> {
  const options = readOptions(given);
  if (options.engine !== undefined && !isEmbeddedEngine(options.engine)) return openOnEngine(options);
  const { adapter = createMemoryAdapter(), clock = Date.now, readOnly = false, whenLocked = 'fail', onChange } = options;
  const embedded = embeddedEngine(options);
  const reads = readsOption(options.reads);
  if (typeof clock !== 'function') throw ValidationError.of('options', 'the clock option must be a function returning Unix ms');
  if (typeof readOnly !== 'boolean') throw ValidationError.of('options', 'readOnly must be true or false');
  if (!WHEN_LOCKED.includes(whenLocked)) throw ValidationError.of('options', `whenLocked must be one of ${WHEN_LOCKED.join(', ')}, not ${String(whenLocked)}`);
  if (onChange !== undefined && typeof onChange !== 'function') throw ValidationError.of('options', 'onChange must be a function');
  if (whenLocked !== 'fail') {
    if (readOnly) throw ValidationError.of('options', `whenLocked: '${whenLocked}' takes over writing one day; it cannot go with readOnly: true`);
    if (typeof adapter.waitForLock !== 'function' || typeof adapter.subscribe !== 'function') {
      throw ValidationError.of('options', `whenLocked: '${whenLocked}' needs an adapter that can wait for ownership and pass messages between stores (waitForLock, subscribe); the ${adapter.name} adapter cannot`);
    }
  }

  const settings = settingsFrom(options, adapter);
  if (options.durability === undefined && adapter.defaultDurability === 'deferred' && !toldDeferred.has(adapter.name)) {
    // Said once per adapter kind and realm (a Worker opens a store per request).
    toldDeferred.add(adapter.name);
    settings.onWarning({
      code: 'DURABILITY',
      message: `the ${adapter.name} adapter defaults to durability 'deferred': writes resolve at once and reach storage within flushIntervalMs (${settings.flushIntervalMs} ms), or at flush()/close(); a crash loses at most that window. Pass durability: 'write' where one writer has strongly consistent storage (a Durable Object)`,
    });
  }
  const now = checkedClock(clock);
  let engine: Engine | undefined;
  let store: Store | undefined;
  let mailbox: Mailbox | undefined;
  const load = (asOwner: boolean, mustExist: boolean): Promise<Opened> => loadMigrated(adapter, settings, embedded, asOwner, mustExist);
  try {
    let following: LockError | undefined;
    if (!readOnly) {
      try {
        await adapter.lock();
      } catch (e) {
        const error = lockFailure(adapter, e);
        if (whenLocked === 'fail' || !(error instanceof LockError)) throw error;
        following = error;
      }
    }
    // A read-only store on an adapter that passes messages follows the owner too (it never takes over).
    const live = readOnly && typeof adapter.subscribe === 'function';
    if (following || live) {
      // Listens before it loads, so no commit falls between the load and the first message.
      const box = openMailbox(adapter);
      mailbox = box;
      const first = await load(false, readOnly);
      engine = first.engine;
      store = new Store(first.engine, adapter, clock, undefined, readOnly, reads);
      mailbox = undefined; // the store stops it from now on
      store[FOLLOW]({
        mode: whenLocked === 'wait' ? 'wait' : 'follow',
        holder: following?.holder ?? { description: 'the owner (this store is read-only)' },
        settings,
        sequence: first.opened.lastSequence,
        imageBytes: first.opened.imageBytes,
        mailbox: box,
        load: (asOwner) => load(asOwner, false),
        onChange,
      });
      return store;
    }
    const first = await load(!readOnly, readOnly);
    engine = first.engine;
    const { opened, hasImage, migrated } = first;
    const durability = new DurabilityManager(first.engine, adapter, settings, opened, now, () => store?.transactionEnded() ?? Promise.resolve());
    store = new Store(engine, adapter, clock, durability, readOnly, reads);
    if (!readOnly) {
      // A new or migrated database is written at once, so the image on disk is complete and current.
      if (!hasImage || migrated) await durability.checkpoint();
      durability.checkSize();
    }
    return store;
  } catch (e) {
    // The error that stopped the open is the one to report; cleanup failures must not hide it.
    mailbox?.unsubscribe();
    if (store) await store.close().catch(() => undefined);
    else {
      await engine?.close().catch(() => undefined);
      if (!readOnly) await adapter.unlock().catch(() => undefined);
      await adapter.close().catch(() => undefined);
    }
    throw e;
  }
}

/** `openStore({ engine })`: the store on an engine that keeps its own storage (Cloudflare D1). */
async function openOnEngine(options: StoreOptions): Promise<Store> {
  const { clock = Date.now } = options;
  const engine = options.engine as Engine;
  if (typeof engine !== 'object' || engine === null || typeof engine.run !== 'function' || typeof engine.all !== 'function' || typeof engine.batch !== 'function') {
    throw ValidationError.of('options', 'the engine option must be an engine with its own storage (run, all, batch), such as createD1Engine(env.DB), or an embedded engine (embedded: true, open), such as createSqlJsEmbeddedEngine()');
  }
  const clash = (['adapter', 'wasm', 'durability', 'journal', 'cacheSizeKiB', 'flushIntervalMs', 'checkpointBytes', 'sizeWarningBytes', 'retry'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (options.readOnly === true) clash.push('readOnly' as never);
  if (options.whenLocked !== undefined && options.whenLocked !== 'fail') clash.push('whenLocked' as never);
  if (clash.length > 0) throw ValidationError.of('options', `the engine option keeps its own storage; ${clash.join(', ')} cannot go with it`);
  if (typeof clock !== 'function') throw ValidationError.of('options', 'the clock option must be a function returning Unix ms');
  readsOption(options.reads); // an engine with its own storage has every write durable when it resolves
  for (const name of ['onWarning', 'onChange'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw ValidationError.of('options', `${name} must be a function`);
  }
  const typed = typedErrors(engine);
  try {
    // A read-only engine cannot upgrade an older agent database (the Go agent's, at v1): it reads it
    // at its own version (the task engine's operations then say so); anything else migrates.
    const version = engine.readOnly === true ? await readSchemaVersion(typed) : 0;
    if (version > SCHEMA_VERSION) throw new SchemaVersionError(String(version), SCHEMA_VERSION);
    if (version === 0 || version === SCHEMA_VERSION) await migrate(typed);
  } catch (e) {
    // A refused open (a newer schema, a locked file) must not leave the engine's file open.
    await typed.close().catch(() => undefined);
    throw e;
  }
  // The store's ownership and persistence calls have nothing to do: the engine keeps its own storage.
  const own: PersistenceAdapter = {
    name: engine.name,
    persistent: true,
    async lock() {},
    async load() {
      return {};
    },
    async checkpoint() {
      throw new UnsupportedError(`the ${engine.name} engine keeps its own persistence; there is no image to checkpoint`);
    },
    async unlock() {},
    async close() {},
  };
  return new Store(typed, own, clock, undefined, engine.readOnly === true, readsOption(options.reads));
}

/**
 * The engine with its errors made the store's (see {@link engineError}), in its transactions' ports
 * too; what a transaction's function itself throws comes back as thrown.
 */
function typedErrors(engine: Engine): Engine {
  const wrap = <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (e) {
        throw engineError(engine.name, what, e);
      }
    };
  // The port's calls, on every statement: the engine's own promise with one rejection handler made
  // once (no async function, no closure and no rest arguments per call); a synchronous throw, or a
  // value that is no promise, is taken as an async function takes it.
  const typedBy = (what: string) => {
    const rethrow = (e: unknown): never => {
      throw engineError(engine.name, what, e);
    };
    return <R>(result: Promise<R>): Promise<R> => Promise.resolve(result).then(undefined, rethrow);
  };
  const statement = typedBy('statement');
  const query = typedBy('query');
  const batch = typedBy('batch');
  // An engine whose statements run synchronously (see SYNC_PORT): called directly, its result or
  // its typed error as the one promise of the statement (what its async port would settle with).
  const sync = (engine as { [SYNC_PORT]?: SyncPort })[SYNC_PORT];
  const typedPort = (port: SqlPort, direct?: SyncPort): SqlPort => ({
    run: (sql: string, params?: readonly SqlValue[]) => {
      try {
        return direct ? Promise.resolve(direct.run(sql, params)) : statement(port.run(sql, params));
      } catch (e) {
        return Promise.reject(engineError(engine.name, 'statement', e));
      }
    },
    all: (sql: string, params?: readonly SqlValue[]) => {
      try {
        return direct ? Promise.resolve(direct.all(sql, params)) : query(port.all(sql, params));
      } catch (e) {
        return Promise.reject(engineError(engine.name, 'query', e));
      }
    },
    batch: (statements: readonly SqlStatement[]) => {
      try {
        return batch(port.batch(statements));
      } catch (e) {
        return Promise.reject(engineError(engine.name, 'batch', e));
      }
    },
  });
  const transaction = engine.transaction?.bind(engine);
  return {
    name: engine.name,
    ...(engine.durable === undefined ? {} : { durable: engine.durable }),
    ...(engine.readOnly === undefined ? {} : { readOnly: engine.readOnly }),
    ...typedPort(engine, typeof sync?.run === 'function' && typeof sync.all === 'function' ? sync : undefined),
    ...(engine.sizeBytes ? { sizeBytes: wrap('size query', () => (engine.sizeBytes as () => Promise<number>)()) } : {}),
    ...(engine.allReadOnly ? { allReadOnly: wrap('query', (sql: string, params?: readonly SqlValue[]) => (engine.allReadOnly as NonNullable<Engine['allReadOnly']>)(sql, params)) } : {}),
    ...(engine.exportImage ? { exportImage: wrap('export', () => (engine.exportImage as () => Promise<Uint8Array>)()) } : {}),
    ...(engine.vacuum ? { vacuum: wrap('vacuum', () => (engine.vacuum as () => Promise<void>)()) } : {}),
    ...(transaction
      ? {
          transaction: async <T>(fn: (port: SqlPort) => Promise<T>): Promise<T> => {
            let thrown: { error: unknown } | undefined;
            try {
              return await transaction((port: SqlPort) =>
                fn(typedPort(port)).catch((error: unknown) => {
                  thrown = { error };
                  throw error;
                }),
              );
            } catch (e) {
              if (thrown && thrown.error === e) throw e;
              throw engineError(engine.name, 'transaction', e);
            }
          },
        }
      : {}),
    close: () => (typeof engine.close === 'function' ? engine.close() : Promise.resolve()),
  };
}

/**
 * An engine's error as the store's: a `StoreError` passes; a plain error with a code the store
 * knows becomes its class (`LOCKED` with a `holder`, `READ_ONLY`, `UNSUPPORTED`, `CLOSED`,
 * `TRANSACTION`, and the adapters' `SQLITE_JOURNAL`, `CORRUPT`, `NOT_FOUND`); anything else is a
 * `SqlError`. Engines outside the core throw plain coded errors: a bundle of theirs has classes of
 * its own, which `instanceof` would not recognise.
 */
function engineError(name: string, what: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  const err = e as { code?: unknown; message?: unknown; what?: unknown; cause?: unknown } | null | undefined;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  switch (err?.code) {
    case 'LOCKED':
      return lockFailure({ name }, e);
    case 'READ_ONLY':
      return new ReadOnlyError(`the ${name} database`);
    case 'UNSUPPORTED':
      return new UnsupportedError(message, { cause: e });
    case 'CLOSED':
      return new ClosedError(typeof err.what === 'string' ? err.what : `the ${name} engine`);
    case 'TRANSACTION':
      return new TransactionError(message, { cause: err.cause ?? e });
  }
  return refusal(e) ?? new SqlError(`${name} ${what} failed: ${message}`, { cause: e });
}
