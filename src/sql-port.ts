/**
 * The small async SQL port the domain modules speak to. The sql.js engine implements it now; a later
 * engine (Cloudflare D1) implements it with batches only. Domain code never reaches past it.
 */

/** A value SQLite can bind or return for this schema (no blobs: the schema has none). */
export type SqlValue = string | number | null;

/** A row as an object keyed by column name. */
export type SqlRow = Record<string, SqlValue>;

/** One statement and its positional parameters. */
export interface SqlStatement {
  /** SQL text with `?` placeholders. */
  readonly sql: string;
  /** Positional parameters, bound in order. */
  readonly params?: readonly SqlValue[];
}

/** What a write reports. */
export interface SqlRunResult {
  /** Rows inserted, updated or deleted by the statement (INSERT/UPDATE/DELETE only; 0 means none for those). */
  readonly changes: number;
}

/** The port. Every method is async so an engine may be remote. */
export interface SqlPort {
  /** Runs one statement that returns no rows; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult>;
  /** Runs one statement and resolves with all of its rows (also for `INSERT … RETURNING`). */
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs the statements in order as one atomic unit: all of them commit, or none. */
  batch(statements: readonly SqlStatement[]): Promise<SqlRunResult[]>;
  /**
   * Runs `fn` in an interactive transaction: its statements commit together when `fn` resolves and
   * roll back when it throws. Optional: engines with only atomic batches leave it out.
   */
  transaction?<T>(fn: (port: SqlPort) => Promise<T>): Promise<T>;
  /**
   * The database's size in bytes. Optional: without it the store asks SQLite's page pragmas, which
   * some engines (Cloudflare D1) do not allow.
   */
  sizeBytes?(): Promise<number>;
  /**
   * Runs one query with SQLite itself refusing any write it attempts (`PRAGMA query_only` for its
   * run), and without counting it as a write. Optional: `store.query()` checks every statement
   * before it runs on any engine; an engine that can also have SQLite enforce it offers this.
   */
  allReadOnly?(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
}
