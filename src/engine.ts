import { ClosedError, StoreError } from './errors.js';
import type { SqlPort, SqlRow, SqlRunResult, SqlStatement, SqlValue } from './sql-port.js';

/** An engine: the SQL port plus what only an embedded engine can do. */
export interface Engine extends SqlPort {
  /** A short name for messages, e.g. `sql.js`. */
  readonly name: string;
  /** A complete SQLite file of the current state (not available inside an open transaction). */
  exportImage?(): Promise<Uint8Array>;
  /** Frees everything the engine holds; later calls fail. */
  close(): Promise<void>;
}

/**
 * The base of engines that run SQL synchronously in this process (sql.js; better-sqlite3 in the
 * benchmarks): the async port and interactive transactions, written once over three sync methods.
 */
export abstract class SyncEngine implements Engine {
  abstract readonly name: string;
  #inTransaction = false;

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
  protected get inTransaction(): boolean {
    return this.#inTransaction;
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

  async run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult> {
    return this.runSync(sql, params);
  }

  async all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
    return this.allSync(sql, params);
  }

  async batch(statements: readonly SqlStatement[]): Promise<SqlRunResult[]> {
    return this.batchSync(statements);
  }

  async transaction<T>(fn: (port: SqlPort) => Promise<T>): Promise<T> {
    if (this.#inTransaction) throw new StoreError('TRANSACTION', 'transactions do not nest');
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
        if (failure !== undefined) throw new StoreError('TRANSACTION', 'an earlier statement of this transaction failed; it will roll back', { cause: failure });
        try {
          return op(...args);
        } catch (e) {
          failure = e;
          throw e;
        }
      };
    const port: SqlPort = {
      run: guarded((sql: string, params?: readonly SqlValue[]) => this.runSync(sql, params)),
      all: guarded((sql: string, params?: readonly SqlValue[]) => this.allSync(sql, params)),
      batch: guarded((statements: readonly SqlStatement[]) => this.batchSync(statements)),
    };
    try {
      const result = await fn(port);
      active = false;
      if (failure !== undefined) {
        throw new StoreError('TRANSACTION', 'a statement of this transaction failed (its error was caught); nothing was committed', { cause: failure });
      }
      this.runSync('COMMIT');
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
