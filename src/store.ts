/**
 * The {@link Store}: how operations run on it (one transaction at a time, writes refused while it
 * cannot take them, durable before they resolve), its lifecycle (health, flush, checkpoint,
 * close), and the engine it runs on, which a follower replaces when it reloads or takes over.
 */
import type { Context } from './context.js';
import { checkpointThreshold, type DurabilityManager, type StoreHealth } from './durability.js';
import { isJournaling, type Engine, type JournalingEngine } from './engine.js';
import { exportStamped } from './image-meta.js';
import { newImageId } from './journal.js';
import { ClosedError, LockError, PersistenceError, ReadOnlyError, UnsupportedError, ValidationError } from './errors.js';
import { Follower, type FollowerHost, type FollowSetup } from './follower.js';
import { StoreOperations, Transaction, type Operation, type TransactionHandle } from './operations.js';
import { checkedClock, type Reads, type StoreRole } from './options.js';
import type { PersistenceAdapter } from './persistence.js';
import { clockMs } from './image-export.js';
import { query } from './query.js';
import { reclaimLimits, spaceUse, worthReclaiming, type ReclaimSpaceOptions, type ReclaimSpaceReport } from './space.js';
import type { SqlPort, SqlRow, SqlValue } from './sql-port.js';

export type { TransactionHandle } from './operations.js';
export type { StoreOptions, StoreRole, Reads, WhenLocked } from './options.js';
export { StoreOperations } from './operations.js';

/** Whether `durability` holds writes until they are durable (its mode, fixed for its life, is `'write'`). */
function writesWait(durability: DurabilityManager | undefined): boolean {
  return durability?.health(false).durability === 'write';
}

/** An engine and the store's operations running on it (a follower replaces the engine). */
interface EngineUse {
  readonly engine: Engine;
  users: number;
  // Replaced while operations ran on it: it closes when the last one settles.
  retired: boolean;
  // Called when an operation begun on it (see Store.#begin) settles.
  readonly settled: () => void;
}

/** @internal The key of the method openStore uses to make a store follow: not exported from the package, so not public API. */
export const FOLLOW: unique symbol = Symbol('follow');

/**
 * The agent's store: tasks, approvals, session and thread state, dead letters and the audit log,
 * in the Go store's schema. Open one with {@link openStore}.
 */
export class Store extends StoreOperations {
  // Replaced when a follower reloads or takes over (see `whenLocked`); fixed otherwise.
  #engine: Engine;
  readonly #adapter: PersistenceAdapter;
  #ctx: Context;
  #durability: DurabilityManager | undefined;
  // Whether writes resolve only once durable (`durability: 'write'`), as #durability says.
  #writesWait: boolean;
  readonly #readOnly: boolean;
  readonly #reads: Reads;
  // The id this store's exported images carry (see exportImage).
  #exportId: string | undefined;
  // Set while another store owns the database and this one follows it.
  #follower: Follower | undefined;
  // The engine's operations running (see EngineUse); a replaced engine closes when its last one settles.
  #use: EngineUse;
  #closing: Promise<void> | undefined;
  // Settles when the open transaction ends; operations from outside it wait for that.
  #transaction: Promise<void> | undefined;
  // Operations started and not yet settled; close() waits for them.
  #inFlight = 0;
  #drained: (() => void) | undefined;

  /** @internal Use {@link openStore}. */
  constructor(engine: Engine, adapter: PersistenceAdapter, clock: () => number, durability?: DurabilityManager, readOnly = false, reads: Reads = 'committed') {
    super();
    this.#engine = engine;
    this.#use = this.#useOf(engine);
    this.#adapter = adapter;
    this.#ctx = { port: engine, now: checkedClock(clock) };
    this.#durability = durability;
    this.#writesWait = writesWait(durability);
    this.#readOnly = readOnly;
    this.#reads = reads;
  }

  protected call<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    // Only a call made after close() is refused; one made before it runs, even if it first waits
    // for a transaction (close() waits for every operation already started).
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#transaction) {
      const read = this.#run(op, args);
      return this.#track(this.#reads === 'durable' ? read.then((result) => this.#durableRead(result)) : read);
    }
    // The usual case, with one promise of its own (see #start).
    const use = this.#begin();
    const read = this.#start(op, args);
    const result = this.#reads === 'durable' ? read.then((r) => this.#durableRead(r)) : read;
    this.#settleWith(result, use);
    return result;
  }

  // With reads: 'durable', what a read returns may have seen any write committed before it ended:
  // it resolves once they are all durable (a follower's state is durable already).
  async #durableRead<R>(result: R): Promise<R> {
    const durability = this.#durability;
    const waiting = durability?.durableUpTo(durability.lastSequence);
    if (waiting) await waiting;
    return result;
  }

  protected write<A extends unknown[], R>(op: Operation<A, R>, ...args: A): Promise<R> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    const follower = this.#follower;
    if (follower) {
      if (follower.mode === 'wait') return follower.owned.then(() => this.write(op, ...args));
      return Promise.reject(this.#followerLockError(follower));
    }
    try {
      this.#checkWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#transaction) return this.#track(this.#run(op, args).then((result) => this.#afterWrite(result)));
    const use = this.#begin();
    const written = this.#start(op, args);
    // Only `durability: 'write'` holds a write until it is durable (afterWrite: nothing to wait for
    // otherwise); the manager is the store's as long as it has no follower, so none swaps it meanwhile.
    const result = this.#writesWait ? written.then((r) => this.#durableWrite(r)) : written;
    this.#settleWith(result, use);
    return result;
  }

  #checkWritable(): void {
    if (this.#readOnly) throw new ReadOnlyError();
    if (this.#follower) throw this.#followerLockError(this.#follower);
    this.#durability?.checkWritable();
  }

  #followerLockError(follower: Follower): LockError {
    return new LockError(`the ${this.#adapter.name} database`, follower.holder);
  }

  async #afterWrite<R>(result: R): Promise<R> {
    const durable = this.#durability?.afterWrite();
    if (durable) await durable;
    return result;
  }

  // #afterWrite without a promise of its own when the write mode lets the write resolve at once.
  #durableWrite<R>(result: R): R | Promise<R> {
    const durable = this.#durability?.afterWrite();
    return durable ? durable.then(() => result) : result;
  }

  // Counts an operation as started: in flight (close() waits for it) and using the current engine
  // (a follower's reload does not close it under the operation).
  #begin(): EngineUse {
    const use = this.#use;
    use.users++;
    this.#inFlight++;
    return use;
  }

  // Runs the operation on the current engine: its own promise, or its synchronous throw as a rejection.
  #start<A extends unknown[], R>(op: Operation<A, R>, args: A): Promise<R> {
    try {
      return op(this.#ctx, ...args);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // Counts the operation as ended once `promise` settles. The reaction is registered before the
  // caller's, so the bookkeeping (and the close of an engine replaced meanwhile) runs before the
  // caller's code after `await`, as #using and #track order it.
  #settleWith(promise: Promise<unknown>, use: EngineUse): void {
    promise.then(use.settled, use.settled);
  }

  // The engine's EngineUse, with its `settled` made once (not a closure per operation).
  #useOf(engine: Engine): EngineUse {
    const use: EngineUse = {
      engine,
      users: 0,
      retired: false,
      settled: () => {
        this.#release(use);
        if (--this.#inFlight === 0) this.#drained?.();
      },
    };
    return use;
  }

  // One operation on `use`'s engine ended: a retired engine closes when its last one has.
  #release(use: EngineUse): Promise<void> | undefined {
    if (--use.users > 0 || !use.retired) return undefined;
    use.retired = false;
    return use.engine.close().catch(() => undefined);
  }

  #track<R>(promise: Promise<R>): Promise<R> {
    this.#inFlight++;
    const settle = (): void => {
      if (--this.#inFlight === 0) this.#drained?.();
    };
    promise.then(settle, settle);
    return promise;
  }

  async #idle(): Promise<void> {
    for (;;) {
      if (this.#transaction) {
        await this.#transaction;
        continue;
      }
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => (this.#drained = resolve));
        this.#drained = undefined;
        continue;
      }
      return;
    }
  }

  #run<A extends unknown[], R>(op: Operation<A, R>, args: A): Promise<R> {
    if (this.#transaction) return this.#transaction.then(() => this.#run(op, args));
    return this.#using(this.#use, () => op(this.#ctx, ...args));
  }

  // Runs `fn` on `use`'s engine, which a follower's reload must not close before `fn` settles.
  async #using<R>(use: EngineUse, fn: () => Promise<R>): Promise<R> {
    use.users++;
    try {
      return await fn();
    } finally {
      const closing = this.#release(use);
      if (closing) await closing;
    }
  }

  /**
   * Runs `fn` in a transaction: every write made through the handle it receives commits together
   * when `fn` resolves, or none does when it throws (the error is rethrown). Operations called on the
   * store itself meanwhile wait until the transaction ends, so inside `fn` use the handle, never the
   * store (awaiting the store there would wait forever). Transactions do not nest. With
   * `durability: 'write'` it resolves once the whole transaction is durable (one journal record).
   * @example
   * await store.transaction(async (tx) => {
   *   await tx.deleteApproval(requestId);
   *   await tx.updateTaskStatus(taskId, 'running');
   * });
   */
  transaction<T>(fn: (tx: TransactionHandle) => Promise<T> | T): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(ValidationError.of('transaction', 'transaction() takes a function'));
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    // A transaction may write: with `whenLocked: 'wait'` it waits for ownership like a write.
    if (this.#follower?.mode === 'wait') return this.#follower.owned.then(() => this.transaction(fn));
    return this.#track(this.#transact(fn));
  }

  async #transact<T>(fn: (tx: TransactionHandle) => Promise<T> | T): Promise<T> {
    while (this.#transaction) await this.#transaction;
    const use = this.#use;
    const engine = use.engine;
    if (!engine.transaction) {
      throw new UnsupportedError(`the ${engine.name} engine has no interactive transactions; use single operations`);
    }
    let release = (): void => {};
    this.#transaction = new Promise<void>((resolve) => (release = resolve));
    let result: T;
    const before = this.#durability?.lastSequence;
    try {
      // Nothing commits while it waits (the transaction holds the store), so its reads see only
      // durable writes and its own.
      if (this.#reads === 'durable') await this.#durableRead(undefined);
      result = await this.#using(use, () =>
        (engine.transaction as NonNullable<Engine['transaction']>)((port: SqlPort) =>
          Promise.resolve(fn(new Transaction({ port, now: this.#ctx.now }, () => this.#checkWritable()))),
        ),
      );
    } finally {
      this.#transaction = undefined;
      release();
    }
    // Only a transaction that committed a write waits for it to be durable (nothing else commits
    // while a transaction is open, so a new sequence number is its own).
    return this.#durability?.lastSequence === before ? result : this.#afterWrite(result);
  }

  /**
   * Runs one ad-hoc read (`SELECT`, `WITH … SELECT` or `VALUES`) with `params` bound positionally to
   * its `?`s and resolves with its rows, on any engine. A statement that could write (a write, DDL,
   * `ATTACH`, a pragma, `VACUUM`, a second statement, a function that acts, such as
   * `load_extension`) is refused with a `ValidationError` before it runs, and so are params that are
   * not strings, finite numbers or null, or do not match its `?`s. Not on a transaction's handle: it
   * waits for an open transaction like any read.
   * @example
   * const rows = await store.query('SELECT status, count(*) AS n FROM tasks WHERE created_at >= ? GROUP BY status', [since]);
   */
  query(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.call(query, sql, params);
  }

  /**
   * A complete SQLite database file of the current state, openable by `sqlite3`, better-sqlite3 and
   * the Go agent (whatever journal mode the store uses inside). Waits for an open transaction to end.
   * The image records the journal sequence it holds and has an id of its own: copied over a
   * database whose journal is still beside it, it is never mixed with that journal (the journal
   * names another image, and is refused).
   */
  exportImage(): Promise<Uint8Array> {
    return this.call(async () => {
      const engine = this.#engine;
      if (isJournaling(engine)) return exportStamped(engine, this.#follower?.sequence ?? this.#durability?.lastSequence ?? 0, (this.#exportId ??= newImageId()));
      if (!engine.exportImage) throw new UnsupportedError(`the ${engine.name} engine cannot export an image`);
      return engine.exportImage();
    });
  }

  /**
   * Makes every write committed so far durable (appends the journal, or writes the image), and
   * resolves when it is. With `durability: 'write'` every write already waited for this.
   */
  flush(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    // A follower has nothing of its own to flush (it writes nothing until it takes over).
    if (this.#readOnly || this.#follower || !this.#durability) return Promise.resolve();
    return this.#durability.flush();
  }

  /**
   * Writes a new image now (atomically replacing the old one) and empties the journal. It runs
   * between transactions; writes made meanwhile wait for the next flush.
   */
  checkpoint(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    const follower = this.#follower;
    if (follower) return follower.mode === 'wait' ? follower.owned.then(() => this.checkpoint()) : Promise.reject(this.#followerLockError(follower));
    if (!this.#durability) return Promise.reject(new UnsupportedError(`the ${this.#engine.name} engine keeps its own persistence; there is no image to checkpoint`));
    return this.#durability.checkpoint();
  }

  /**
   * Gives the space deleted rows left back to the file system, when there is enough of it (see
   * {@link ReclaimSpaceOptions}: by default a quarter of the file and at least 1 MiB): SQLite's
   * `VACUUM` rebuilds the database without its free pages, then (sql.js) a checkpoint writes the
   * smaller image. Run it after retention (`agent-store retention` does). It runs between
   * transactions and while no checkpoint runs; writes wait for it. On sql.js the rebuild is one
   * synchronous step on the event loop and needs a second copy of the database in memory while it
   * runs (about a second for 200 MiB); on node:sqlite it rewrites the file (other connections wait
   * behind their busy timeout); Cloudflare D1 keeps its own storage (`reason: 'unsupported'`).
   */
  reclaimSpace(options?: ReclaimSpaceOptions): Promise<ReclaimSpaceReport> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    let limits: Required<ReclaimSpaceOptions>;
    try {
      limits = reclaimLimits(options);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    const follower = this.#follower;
    if (follower) return follower.mode === 'wait' ? follower.owned.then(() => this.reclaimSpace(options)) : Promise.reject(this.#followerLockError(follower));
    try {
      // A degraded store (writes refused while persistence fails) rebuilds nothing either.
      this.#checkWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.call(async (ctx: Context): Promise<ReclaimSpaceReport> => {
      const engine = this.#engine;
      const before = await spaceUse(ctx);
      const vacuumEngine = engine.vacuum?.bind(engine);
      // Between transactions: one may have begun while this waited for a checkpoint to end. (The
      // check and the engine's synchronous VACUUM run in one go: nothing begins in between.)
      const vacuum = vacuumEngine
        ? async (): Promise<void> => {
            while (this.#transaction) await this.#transaction;
            await vacuumEngine();
          }
        : undefined;
      if (!vacuum || !before) return { vacuumed: false, reason: 'unsupported', ...(before ? { before, after: before } : {}), ms: 0 };
      if (!worthReclaiming(before, limits)) return { vacuumed: false, reason: 'below-threshold', before, after: before, ms: 0 };
      const started = clockMs();
      const durability = this.#durability;
      if (durability) {
        await durability.exclusively(vacuum);
        // The smaller image on disk (the journal's records replay onto it as onto the old one).
        await durability.checkpoint();
      } else {
        await vacuum();
      }
      const after = (await spaceUse(ctx)) ?? before;
      return { vacuumed: true, before, after, ms: clockMs() - started };
    });
  }

  /** How persistence is doing: `'degraded'` while writes to the adapter fail (writes are refused then). */
  health(): StoreHealth {
    const closed = this.#closing !== undefined;
    const follower = this.#follower;
    if (follower && !closed) {
      return {
        state: this.#readOnly ? 'read-only' : 'following',
        durability: follower.settings.mode,
        journal: follower.settings.useJournal,
        pendingWrites: 0,
        lastSequence: follower.sequence,
        durableSequence: follower.sequence,
        imageBytes: follower.imageBytes,
        journalBytes: 0,
        checkpointing: false,
        checkpointThresholdBytes: checkpointThreshold(follower.settings.checkpointBytes, follower.imageBytes),
      };
    }
    if (!this.#durability) {
      return {
        state: closed ? 'closed' : this.#readOnly ? 'read-only' : 'ok',
        durability: this.#engine.durable ? 'write' : 'none',
        journal: false,
        pendingWrites: 0,
        lastSequence: 0,
        durableSequence: 0,
        imageBytes: 0,
        journalBytes: 0,
        checkpointing: false,
        checkpointThresholdBytes: 0,
      };
    }
    const health = this.#durability.health(closed);
    return this.#readOnly && !closed ? { ...health, state: 'read-only' } : health;
  }

  /** @internal Settles when the open transaction (if any) ends. */
  transactionEnded(): Promise<void> {
    return this.#transaction ?? Promise.resolve();
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Whether the store was opened with `readOnly: true`. */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** `'owner'` when this store writes the database, `'follower'` while another store owns it (`whenLocked`), or `'read-only'`. */
  get role(): StoreRole {
    return this.#readOnly ? 'read-only' : this.#follower ? 'follower' : 'owner';
  }

  /**
   * Resolves once this store owns the database: at once for an owner; for a follower, when it took
   * over. Rejects with `READ_ONLY` for a read-only store, and with `CLOSED` if the store closes first.
   */
  owned(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('the store'));
    if (this.#readOnly) return Promise.reject(new ReadOnlyError());
    return this.#follower?.owned ?? Promise.resolve();
  }

  /** @internal Makes a store opened without ownership follow the owner's commits and take over when it can (openStore, `whenLocked`). */
  [FOLLOW](setup: FollowSetup): void {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const store = this;
    const host: FollowerHost = {
      adapter: this.#adapter,
      readOnly: this.#readOnly,
      now: this.#ctx.now,
      get closing() {
        return store.#closing !== undefined;
      },
      get inTransaction() {
        return store.#transaction !== undefined;
      },
      transactionEnded: () => this.transactionEnded(),
      get engine() {
        return store.#engine as JournalingEngine;
      },
      swap: (engine, durability) => this.#swap(engine, durability),
      tookOver: (follower) => {
        if (this.#follower === follower) this.#follower = undefined;
      },
      follows: (follower) => this.#follower === follower,
    };
    const follower = new Follower(setup, host);
    this.#follower = follower;
    follower.start();
  }

  #swap(engine: Engine, durability: DurabilityManager | undefined): void {
    const old = this.#use;
    this.#engine = engine;
    this.#use = this.#useOf(engine);
    this.#ctx = { port: engine, now: this.#ctx.now };
    this.#durability = durability;
    this.#writesWait = writesWait(durability);
    if (old.users > 0) old.retired = true;
    else old.engine.close().catch(() => undefined);
  }

  /**
   * Lets every operation already started finish (and an open transaction end), makes every write
   * durable and writes a final image, then releases the engine (statements, WASM memory), the
   * adapter and its ownership. Every call after it rejects with `CLOSED`. Calling it again returns
   * the same promise. It rejects with a `PersistenceError` when the last writes could not be
   * persisted; everything is released all the same.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#idle();
      const follower = this.#follower;
      if (follower) {
        this.#follower = undefined;
        await follower.stop();
      }
      let error: unknown;
      try {
        if (!this.#readOnly) await this.#durability?.close();
      } catch (e) {
        error = e;
      }
      this.#durability?.stop();
      try {
        await this.#engine.close();
      } catch (e) {
        error ??= e;
      }
      try {
        if (!this.#readOnly) await this.#adapter.unlock();
      } catch (e) {
        error ??= new PersistenceError(`releasing the ${this.#adapter.name} adapter's lock failed: ${String(e)}`, { cause: e });
      }
      try {
        await this.#adapter.close();
      } catch (e) {
        error ??= new PersistenceError(`closing the ${this.#adapter.name} adapter failed: ${String(e)}`, { cause: e });
      }
      if (error !== undefined) throw error;
    })();
    return this.#closing;
  }
}

