/**
 * The native baseline of the benchmarks: the store's engine implemented on better-sqlite3
 * (SQLite compiled natively, synchronous) with an in-memory database. A `Store` built on it runs the
 * same domain code, statements, validation and row mapping as the sql.js store; only the engine differs.
 *
 * Benchmark-only: it lives in bench/ and is not part of the package.
 */
import Database from 'better-sqlite3';
import { SqlError, StoreError } from '../src/errors.js';
import { SyncEngine } from '../src/engine.js';
import type { SqlRow, SqlRunResult, SqlStatement, SqlValue } from '../src/sql-port.js';

/**
 * The pragmas of the baseline: the sql.js engine's own, so both engines are configured alike. For a
 * `:memory:` database they are what native SQLite does anyway: its journal is in memory already, there
 * is no file to sync or lock, and temp tables live in memory. (`cache_size` stays at better-sqlite3's
 * default; an in-memory database keeps every page in its page cache whatever the size.)
 */
export const NATIVE_PRAGMAS = [
  'locking_mode = EXCLUSIVE',
  'journal_mode = MEMORY',
  'synchronous = OFF',
  'temp_store = MEMORY',
  'foreign_keys = ON',
] as const;

// Same guard as the sql.js engine's statement cache.
const STATEMENT_CACHE_LIMIT = 256;

type Statement = Database.Statement<SqlValue[], SqlRow>;

function translate(e: unknown, sql: string): StoreError {
  if (e instanceof StoreError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new SqlError(`${message} (in: ${sql.slice(0, 120)})`, { cause: e });
}

/** An engine on better-sqlite3 with a warm prepared-statement cache keyed by SQL text. */
export class BetterSqlite3Engine extends SyncEngine {
  readonly name = 'better-sqlite3';
  /** It keeps its own storage (memory, or the file it was given): `openStore({ engine })` takes it as such. */
  readonly durable = true;
  /** The database, for the "raw" baseline that bypasses the engine and the store. */
  readonly db: Database.Database;
  readonly #statements = new Map<string, Statement>();
  #closed = false;

  constructor(filename = ':memory:') {
    super();
    this.db = new Database(filename);
    for (const pragma of NATIVE_PRAGMAS) this.db.pragma(pragma);
  }

  /** The cached prepared statement of `sql` (prepared on first use). */
  prepared(sql: string): Statement {
    if (this.#closed) throw new StoreError('CLOSED', 'the better-sqlite3 engine is closed');
    let stmt = this.#statements.get(sql);
    if (stmt) return stmt;
    if (this.#statements.size >= STATEMENT_CACHE_LIMIT) {
      const oldest = this.#statements.keys().next().value as string;
      this.#statements.delete(oldest);
    }
    stmt = this.db.prepare<SqlValue[], SqlRow>(sql);
    this.#statements.set(sql, stmt);
    return stmt;
  }

  /** The SQL texts of the cached statements, in first-use order. */
  statementTexts(): string[] {
    return [...this.#statements.keys()];
  }

  runSync(sql: string, params: readonly SqlValue[] = []): SqlRunResult {
    try {
      return { changes: this.prepared(sql).run(...params).changes };
    } catch (e) {
      throw translate(e, sql);
    }
  }

  allSync(sql: string, params: readonly SqlValue[] = []): SqlRow[] {
    try {
      const stmt = this.prepared(sql);
      if (stmt.reader) return stmt.all(...params);
      stmt.run(...params);
      return [];
    } catch (e) {
      throw translate(e, sql);
    }
  }

  batchSync(statements: readonly SqlStatement[]): SqlRunResult[] {
    try {
      // db.transaction() opens BEGIN (or a SAVEPOINT inside an open transaction) and rolls back on throw.
      return this.db.transaction(() => statements.map((s) => this.runSync(s.sql, s.params)))();
    } catch (e) {
      throw translate(e, 'batch');
    }
  }

  protected rollbackSync(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  async exportImage(): Promise<Uint8Array> {
    if (this.inTransaction) throw new StoreError('TRANSACTION', 'cannot export the image while a transaction is open');
    return new Uint8Array(this.db.serialize());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.db.close();
  }
}
