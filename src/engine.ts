import { ClosedError, TransactionError } from './errors.js';
import type { SqlPort, SqlRow, SqlRunResult, SqlStatement, SqlValue } from './sql-port.js';

/** An engine: the SQL port plus what only an embedded engine can do. */
export interface Engine extends SqlPort {
  /** A short name for messages, e.g. `sql.js`. */
  readonly name: string;
  /** A complete SQLite file of the current state (not available inside an open transaction). */
  exportImage?(): Promise<Uint8Array>;
  /**
   * `true` for an engine that keeps its own storage and has every write durable when it resolves
   * (Cloudflare D1): the store then has no adapter, no journal and no image of its own.
   */
  readonly durable?: boolean;
  /** `true` for an engine opened read-only: the store then refuses writes up front (`READ_ONLY`) and reports itself read-only. */
  readonly readOnly?: boolean;
  /**
   * Optional: rebuilds the database without its free pages (SQLite's `VACUUM`), between
   * transactions, so that the file gives back the space deleted rows left. Engines that keep their
   * own storage out of reach (Cloudflare D1) leave it out.
   */
  vacuum?(): Promise<void>;
  /** Frees everything the engine holds; later calls fail. */
  close(): Promise<void>;
}

/**
 * @internal The key under which an engine with its own storage whose statements run synchronously
 * (node:sqlite) offers them as a {@link SyncPort}, so that the store's port calls them directly:
 * one promise per statement instead of the engine's and the store's own. `Symbol.for`: the engine
 * and the store may come from different bundles of this package.
 */
export const SYNC_PORT: unique symbol = Symbol.for('@platform-agent/store.sync-port');

/**
 * @internal `run` and `all` of an engine's port, synchronously: they return what the async ones
 * resolve with and throw what they reject with.
 */
export interface SyncPort {
  run(sql: string, params?: readonly SqlValue[]): SqlRunResult;
  all(sql: string, params?: readonly SqlValue[]): SqlRow[];
}

/** Called synchronously with every committed write unit, in commit order. Must not throw. */
export type CommitListener = (statements: readonly SqlStatement[]) => void;

/**
 * An engine whose writes can be journaled and replayed: it reports every committed write unit
 * (one statement, one batch, one transaction) synchronously and in commit order, replays a unit
 * atomically, and exports its image synchronously. The store's durability is built on it.
 */
export interface JournalingEngine extends Engine {
  /** Sets (or clears) the listener told about every committed write through the async port. */
  setCommitListener(listener: CommitListener | undefined): void;
  /**
   * Applies a journal record atomically, without telling the listener. A one-statement record runs
   * on its own (autocommit), several in one savepoint: records hold only the data changes the
   * store makes, never statements whose meaning depends on a transaction (PRAGMA, VACUUM).
   */
  applySync(statements: readonly SqlStatement[]): void;
  /** Runs one statement without telling the listener (bookkeeping the journal must not hold). */
  runSync(sql: string, params?: readonly SqlValue[]): SqlRunResult;
  /** Runs one query, synchronously. */
  allSync(sql: string, params?: readonly SqlValue[]): SqlRow[];
  /** A complete SQLite file of the current state; throws inside an open transaction. */
  exportImageSync(): Uint8Array;
  /** Whether an interactive transaction is open (the image cannot be exported then). */
  readonly inTransaction: boolean;
  /**
   * Optional: starts an export in steps (see {@link ImageExport}), so a large image is produced
   * without holding the event loop for the whole copy. `undefined` when the engine cannot here;
   * the store then exports with `exportImageSync`.
   */
  beginImageExport?(): ImageExport | undefined;
}

/**
 * An image being exported in steps, between which the engine goes on committing writes: each one
 * reaches the copy too, so the finished image holds every commit up to the moment it completes.
 */
export interface ImageExport {
  /**
   * Copies up to `pages` more pages. When that completes the copy, it calls `complete` at once
   * (nothing can commit in between), runs the statements it returns on the copy alone (the
   * image's own bookkeeping, such as the journal sequence it holds) and returns the image;
   * otherwise `undefined`. Throws a `TransactionError` while an interactive transaction is open.
   */
  step(pages: number, complete: () => readonly SqlStatement[]): Uint8Array | undefined;
  /** Gives the copy up (also once it completed or failed: then it does nothing). */
  abort(): void;
}

/** What an {@link EmbeddedEngine} opens. */
export interface EmbeddedOpenOptions {
  /**
   * A whole SQLite database file from the adapter (the store has checked it against SQLite's
   * header), or `undefined` for a new, empty database.
   */
  readonly image?: Uint8Array;
  /** `true` when the image's memory is the engine's to keep and write into (see `LoadedState.imageOwned`). */
  readonly imageOwned?: boolean;
}

/**
 * An embedded engine: a SQLite that runs in this process on an image a persistence adapter keeps
 * (sql.js, the default; wa-sqlite or another build tomorrow). `openStore({ adapter, engine })`
 * takes one where it takes an engine with its own storage; the store opens it on what the adapter
 * loaded, replays the journal through it and keeps it durable through the adapter.
 *
 * The two kinds, and how `openStore` tells them apart:
 * - an engine with its own storage ({@link Engine}: `run`, `all`, `batch`, `durable: true`) keeps
 *   the database itself (Cloudflare D1, node:sqlite); no adapter goes with it;
 * - an embedded engine (`embedded: true`, `open()`) is kept by the adapter.
 */
export interface EmbeddedEngine {
  /** Marks the kind (see above). */
  readonly embedded: true;
  /** A short name for messages, e.g. `sql.js`. */
  readonly name: string;
  /** Opens a journaling engine on `image`, or on a new empty database. Rejects with a `StoreError` (a damaged image: `CORRUPT`). */
  open(options: EmbeddedOpenOptions): Promise<JournalingEngine>;
}

/** Whether `engine` is an {@link EmbeddedEngine} (and not an engine with its own storage). */
export function isEmbeddedEngine(engine: unknown): engine is EmbeddedEngine {
  const e = engine as Partial<EmbeddedEngine> | null;
  return typeof e === 'object' && e !== null && e.embedded === true && typeof e.open === 'function' && typeof e.name === 'string';
}

/** Whether `engine` supports journaling. */
export function isJournaling(engine: Engine): engine is JournalingEngine {
  return typeof (engine as Partial<JournalingEngine>).setCommitListener === 'function' && typeof (engine as Partial<JournalingEngine>).exportImageSync === 'function';
}

const READ = /^\s*SELECT\b/i;
const DML = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

/**
 * Whether a statement that ran belongs in the journal: queries never; INSERT/UPDATE/DELETE only when
 * they changed a row (one that changed nothing leaves the database as it was, so replaying it is
 * pointless); anything else (DDL, pragmas) always.
 */
function changedSomething(sql: string, changes: number): boolean {
  if (READ.test(sql)) return false;
  return DML.test(sql) ? changes > 0 : true;
}

/**
 * The base of engines that run SQL synchronously in this process (sql.js; better-sqlite3 in the
 * benchmarks): the async port and interactive transactions, written once over three sync methods.
 */
export abstract class SyncEngine implements Engine {
  abstract readonly name: string;
  #inTransaction = false;
  #listener: CommitListener | undefined;

  /** Runs one statement; resolves nothing, returns the rows it changed. */
  abstract runSync(sql: string, params?: readonly SqlValue[]): SqlRunResult;
  /** Runs one statement and returns its rows. */
  abstract allSync(sql: string, params?: readonly SqlValue[]): SqlRow[];
  /** Runs statements as one atomic unit (a savepoint, so it also nests in a transaction). */
  abstract batchSync(statements: readonly SqlStatement[]): SqlRunResult[];
  /** Rolls back the open transaction, if the connection is still open. */
  protected abstract rollbackSync(): void;
  abstract close(): Promise<void>;

  /** Whether an interactive transaction is open. */
  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  /** Sets (or clears) the listener told about every committed write through the async port. */
  setCommitListener(listener: CommitListener | undefined): void {
    this.#listener = listener;
  }

  /** Applies statements atomically (a journal record), without telling the listener. */
  applySync(statements: readonly SqlStatement[]): void {
    // One statement is atomic on its own; only several need the batch's savepoint.
    if (statements.length === 1) {
      const only = statements[0] as SqlStatement;
      this.runSync(only.sql, only.params);
    } else this.batchSync(statements);
  }

  #committed(statements: readonly SqlStatement[]): void {
    if (statements.length > 0) this.#listener?.(statements);
  }

  #transactionStillOpen(): boolean {
    try {
      this.runSync('BEGIN');
    } catch {
      return true;
    }
    this.runSync('ROLLBACK');
    return false;
  }

  // The write units the listener hears about: what changed something, with its parameters as bound.
  #runLogged(sql: string, params: readonly SqlValue[] | undefined, log: SqlStatement[]): SqlRunResult {
    const result = this.runSync(sql, params);
    if (this.#listener && changedSomething(sql, result.changes)) log.push({ sql, params: params ?? [] });
    return result;
  }

  #allLogged(sql: string, params: readonly SqlValue[] | undefined, log: SqlStatement[]): SqlRow[] {
    const rows = this.allSync(sql, params);
    // A query with RETURNING returns one row per changed row.
    if (this.#listener && changedSomething(sql, rows.length)) log.push({ sql, params: params ?? [] });
    return rows;
  }

  #batchLogged(statements: readonly SqlStatement[], log: SqlStatement[]): SqlRunResult[] {
    const results = this.batchSync(statements);
    if (this.#listener) {
      results.forEach((result, i) => {
        const s = statements[i] as SqlStatement;
        if (changedSomething(s.sql, result.changes)) log.push({ sql: s.sql, params: s.params ?? [] });
      });
    }
    return results;
  }

  /** `VACUUM`, between transactions: not a write unit (nothing a journal replays), the same rows in fewer pages. */
  async vacuum(): Promise<void> {
    if (this.inTransaction) throw new TransactionError('cannot vacuum while a transaction is open');
    this.runSync('VACUUM');
  }

  // One statement is its own write unit: the listener hears of it directly (no log to collect it in).
  async run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult> {
    const result = this.runSync(sql, params);
    if (this.#listener && changedSomething(sql, result.changes)) this.#listener([{ sql, params: params ?? [] }]);
    return result;
  }

  async all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    const rows = this.allSync(sql, params);
    // A query with RETURNING returns one row per changed row.
    if (this.#listener && changedSomething(sql, rows.length)) this.#listener([{ sql, params: params ?? [] }]);
    return rows;
  }

  // Reads only, so the listener never hears of it; `query_only` makes SQLite refuse any write the
  // statement attempts (it is set and reset around it, synchronously: nothing else runs between).
  async allReadOnly(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    const was = Number(this.allSync('PRAGMA query_only')[0]?.query_only) !== 0;
    if (!was) this.runSync('PRAGMA query_only = ON');
    try {
      return this.allSync(sql, params);
    } finally {
      if (!was) this.runSync('PRAGMA query_only = OFF');
    }
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRunResult[]> {
    const log: SqlStatement[] = [];
    const results = this.#batchLogged(statements, log);
    this.#committed(log);
    return results;
  }

  async transaction<T>(fn: (port: SqlPort) => Promise<T>): Promise<T> {
    if (this.#inTransaction) throw new TransactionError('transactions do not nest');
    this.runSync('BEGIN IMMEDIATE');
    this.#inTransaction = true;
    let active = true;
    // After a failed statement SQLite may have rolled the whole transaction back on its own (a full
    // heap, an I/O error); later statements would then commit one by one. So the first failure
    // ends the transaction: nothing more runs in it and it can only roll back.
    let failure: unknown;
    const guarded =
      <A extends unknown[], R>(op: (...args: A) => R) =>
      async (...args: A): Promise<R> => {
        if (!active) throw new ClosedError('this transaction (it has ended; use the store itself)');
        if (failure !== undefined) throw new TransactionError('an earlier statement of this transaction failed; it will roll back', { cause: failure });
        try {
          return op(...args);
        } catch (e) {
          failure = e;
          throw e;
        }
      };
    // Everything the transaction changed, told to the listener as one unit when it commits.
    const log: SqlStatement[] = [];
    const port: SqlPort = {
      run: guarded((sql: string, params?: readonly SqlValue[]) => this.#runLogged(sql, params, log)),
      all: guarded((sql: string, params?: readonly SqlValue[]) => this.#allLogged(sql, params, log)),
      batch: guarded((statements: readonly SqlStatement[]) => this.#batchLogged(statements, log)),
    };
    try {
      const result = await fn(port);
      active = false;
      if (failure !== undefined) {
        throw new TransactionError('a statement of this transaction failed (its error was caught); nothing was committed', { cause: failure });
      }
      this.runSync('COMMIT');
      this.#committed(log);
      return result;
    } catch (e) {
      active = false;
      try {
        this.rollbackSync();
      } catch {
        // Usually SQLite rolled back already. If the transaction is still open, nothing may run
        // inside it as if it were autocommit: close the engine, which discards it.
        if (this.#transactionStillOpen()) await this.close();
      }
      throw e;
    } finally {
      this.#inTransaction = false;
    }
  }
}
