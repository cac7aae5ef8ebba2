/**
 * The store on Node's own SQLite (`node:sqlite`, Node 22.13 and later): the database is the file
 * itself, opened in place with the Go agent's settings (WAL, foreign keys, a 5 s busy timeout), so
 * the Go agent, the `sqlite3` shell and other stores can read and write it while it is open.
 * `openStore({ engine: createNodeSqliteEngine({ path: 'agent.db' }) })`.
 *
 * The same migrations, queries and row mapping as on sql.js run through the core's SQL port. Every
 * write is durable when it resolves: SQLite commits it to the WAL with `synchronous=FULL` (an
 * `fsync` per commit, so an acknowledged write survives a power cut, not only a crash of the
 * process). `node:sqlite` is loaded when the engine opens (`process.getBuiltinModule`), so this
 * module loads on Node 20 and in bundlers; there the open fails with `UNSUPPORTED`.
 *
 * Errors are plain errors with the codes the store types (`LOCKED` with a `holder`, `READ_ONLY`,
 * `UNSUPPORTED`, `CORRUPT` with a `reason`, `NOT_FOUND`, `CLOSED`, `TRANSACTION`); SQLite's own
 * (a constraint, an I/O error) reach the caller as the store's `SqlError`, the original as `cause`.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
// Only the fs adapter's lock rules: a sql.js store's lock is judged exactly as that adapter judges it.
import { fileAdapterPaths, holderAlive, parseLock, type FileAdapterPaths } from '../adapters/fs.js';
import { SYNC_PORT, type Engine, type SyncPort } from '../src/engine.js';
import type { LockHolder } from '../src/persistence.js';
import type { SqlPort, SqlRow, SqlRunResult, SqlStatement, SqlValue } from '../src/sql-port.js';

/** The part of `node:sqlite`'s `StatementSync` the engine uses. */
interface StatementSyncLike {
  run(...params: unknown[]): { changes: number | bigint };
  all(...params: unknown[]): Record<string, unknown>[];
  setReadBigInts(enabled: boolean): void;
}

/** The part of `node:sqlite`'s `DatabaseSync` the engine uses. */
interface DatabaseSyncLike {
  prepare(sql: string): StatementSyncLike;
  exec(sql: string): void;
  close(): void;
  /** Whether a transaction is open (Node 22.16 and later). */
  readonly isTransaction?: boolean;
}

/** The part of the `node:sqlite` module the engine uses. */
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean; enableForeignKeyConstraints?: boolean }) => DatabaseSyncLike;
}

/** Options of {@link createNodeSqliteEngine}. */
export interface NodeSqliteEngineOptions {
  /**
   * The database file, opened in place (SQLite's own `-wal` and `-shm` sit beside it while it is
   * open). Its directory must exist; a missing file is a new database (unless `readOnly`). A
   * relative path is resolved against the working directory when the engine is created.
   * @example '/var/lib/agent/agent.db'
   */
  path: string;
  /**
   * Opens the file read-only (`DatabaseSync`'s `readOnly`): reads see every write other
   * connections commit, every write is refused with `READ_ONLY`, and a missing file is `NOT_FOUND`.
   * @default false
   */
  readOnly?: boolean;
  /**
   * How long a statement waits for another connection's lock (SQLite's `busy_timeout`) before it
   * fails with `LOCKED`. The wait blocks the event loop: `node:sqlite` is synchronous.
   * @default 5000 (the Go agent's)
   */
  busyTimeoutMs?: number;
  /**
   * The most memory this connection's page cache may use, in KiB (SQLite's `cache_size`, set as
   * `PRAGMA cache_size = -cacheSizeKiB`). SQLite's own default is 2 MiB: on an agent database of
   * tens of MB, reads (`listTasks` above all) then keep reading pages back from the operating
   * system. The cache costs memory only as pages are read, up to this size, and SQLite drops it
   * when another connection (the Go agent, another store) commits to the file. As the sql.js
   * engine's `cacheSizeKiB`.
   * @default 65536 (64 MiB)
   */
  cacheSizeKiB?: number;
  /**
   * With `readOnly`: opens the file as SQLite's `immutable` (a `file:` URI with `immutable=1`):
   * no locks, no `-wal` or `-shm` created, the file alone read. Only for a file no program has
   * open or will open meanwhile (no `-wal`/`-shm` beside it): SQLite then trusts it not to change,
   * and a write elsewhere during the read could be seen half done. The `agent-store` command uses
   * it to read a WAL-mode file whose agent has stopped without leaving SQLite's files beside it.
   * @default false
   */
  immutable?: boolean;
}

/** A node:sqlite engine: the SQL port with interactive transactions, an image export and the file's size. */
export interface NodeSqliteEngine extends Engine {
  readonly durable: true;
  transaction<T>(fn: (port: SqlPort) => Promise<T>): Promise<T>;
  sizeBytes(): Promise<number>;
  exportImage(): Promise<Uint8Array>;
  allReadOnly(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
}

type Coded = Error & { code: string };

function coded(code: string, message: string, extra: Record<string, unknown> = {}): Coded {
  return Object.assign(new Error(`[node:sqlite] ${message}`), { code }, extra);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `node:sqlite`, or `undefined` where this Node has none (before 22.13, or 22.5+ without `--experimental-sqlite`). */
function nodeSqlite(): NodeSqliteModule | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const module = proc?.getBuiltinModule?.('node:sqlite') as Partial<NodeSqliteModule> | undefined;
    return typeof module?.DatabaseSync === 'function' ? (module as NodeSqliteModule) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether this runtime has `node:sqlite` (Node 22.13 and later), so that
 * {@link createNodeSqliteEngine} can open. Where it is `false`, use the sql.js engine with the fs
 * adapter (`createFileAdapter` from `@platform-agent/store/adapters/fs`).
 * @example
 * const store = await openStore(nodeSqliteAvailable() ? { engine: createNodeSqliteEngine({ path }) } : { adapter: createFileAdapter({ path }) });
 */
export function nodeSqliteAvailable(): boolean {
  return nodeSqlite() !== undefined;
}

// SQLite's primary result codes (`errcode` & 0xff on node:sqlite's errors).
const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

const QUERY = /^\s*SELECT\b/i;
const DEFAULT_CACHE_KIB = 64 * 1024;
const STATEMENT_CACHE_LIMIT = 256;
const blobText = new TextDecoder('utf-8', { ignoreBOM: true });

/** A value as the port hands it on: SQLite's integers beyond 2^53 as the nearest number (as sql.js reads them), a BLOB as its UTF-8 text. */
function toValue(value: unknown): SqlValue {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  // The schema has no BLOB columns, but a writer may bind text as a BLOB (a Go []byte).
  if (value instanceof Uint8Array) return blobText.decode(value);
  return value === undefined ? null : String(value);
}

/**
 * node:sqlite's rows as the port's, converted in place: the objects `StatementSync.all()` made
 * (null-prototype objects keyed by column name), with only a value that is not already a string, a
 * number or null (a BigInt, a BLOB) replaced. The schema has neither, so usually nothing is written.
 * `columns`: the rows' keys when known (see `allSync`), else each row's own are enumerated.
 */
function toRows(rows: Record<string, unknown>[], columns: readonly string[] | undefined): SqlRow[] {
  for (const row of rows) {
    if (columns) for (const column of columns) toPortValue(row, column);
    else for (const column in row) toPortValue(row, column);
  }
  return rows as SqlRow[];
}

function toPortValue(row: Record<string, unknown>, column: string): void {
  const value = row[column];
  if (value !== null && typeof value !== 'string' && typeof value !== 'number') row[column] = toValue(value);
}

/** The file's real location (symbolic links resolved, as SQLite and the fs adapter resolve them); `NOT_FOUND` without its directory. */
function locate(path: string): string {
  try {
    return realpathSync(path);
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    throw coded('NOT_FOUND', `there is no directory ${dirname(path)} for the database ${path}`, { path });
  }
}

function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Refuses a file a sql.js store (the fs adapter) holds or left unfinished: its lock held by a live
 * process (judged by the fs adapter's own rule), or its journal holding writes the file lacks.
 */
function refuseSqlJsState(paths: FileAdapterPaths): void {
  let raw: string | undefined;
  try {
    raw = readFileSync(paths.lock, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
  if (raw !== undefined) {
    const content = parseLock(raw);
    // A lock that does not parse is being written right now, or is debris: either way not ours to judge.
    if (content === undefined || holderAlive(content)) {
      const holder: LockHolder = content
        ? { pid: content.pid, host: content.host, description: `a sql.js store (fs adapter lock ${paths.lock}): process ${content.pid} on host ${content.host} since ${content.since}` }
        : { description: `an unreadable fs adapter lock file ${paths.lock} (a sql.js store opening, or debris: open the file once with createFileAdapter, which replaces debris)` };
      throw coded('LOCKED', `${paths.image} is held by ${holder.description}`, { holder });
    }
  }
  const journal = sizeOf(paths.journal) ?? 0;
  if (journal > 0) {
    throw coded(
      'UNSUPPORTED',
      `cannot open ${paths.image}: its sql.js journal ${paths.journal} holds ${journal} bytes of writes the file does not have yet (a sql.js store on the fs adapter crashed, or was not closed), and this engine cannot replay them. Fold them into the file first: npx agent-store checkpoint ${paths.image} (or open it once with createFileAdapter({ path }) from @platform-agent/store/adapters/fs and close it). Nothing was read or changed`,
      { path: paths.journal, bytes: journal },
    );
  }
}

/**
 * The store's engine on `node:sqlite`, on the database file at `path`. Nothing is opened until the
 * first call (`openStore` makes it at once): then the file is checked (a sql.js store's lock and
 * journal, see below), opened, and set up as the Go agent sets it up: `journal_mode=WAL`,
 * `foreign_keys=ON`, `busy_timeout=5000`, plus `synchronous=FULL` and a 64 MiB page cache
 * (`cache_size`, see {@link NodeSqliteEngineOptions.cacheSizeKiB}; SQLite's default is 2 MiB).
 *
 * - **Another process's writes** (the Go agent, the `sqlite3` shell, another store) are seen by
 *   the next statement; SQLite's locking lets one connection write at a time: a write (or a
 *   transaction, which takes the write lock at its start) waits up to `busyTimeoutMs`, then fails
 *   with `LOCKED`.
 * - **Switching from sql.js**: a file whose fs adapter lock (`agent.db.pa-lock`) names a live
 *   process is refused with `LOCKED`; one whose sql.js journal (`agent.db.pa-journal`) holds
 *   writes the file lacks is refused with `UNSUPPORTED`, saying how to fold them in (`agent-store
 *   checkpoint`). The fs adapter in turn refuses to write while this engine has the file open.
 * - **Read-only** (`readOnly: true`): writes fail with `READ_ONLY`.
 * - Without `node:sqlite` (Node 20) the open fails with `UNSUPPORTED`, naming the sql.js way.
 * @example
 * import { createNodeSqliteEngine } from '@platform-agent/store/engines/node-sqlite';
 * const store = await openStore({ engine: createNodeSqliteEngine({ path: 'agent.db' }) });
 */
export function createNodeSqliteEngine(options: NodeSqliteEngineOptions): NodeSqliteEngine {
  if (typeof options?.path !== 'string' || options.path === '') throw new TypeError('createNodeSqliteEngine() needs a non-empty `path`');
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') throw new TypeError('createNodeSqliteEngine(): readOnly must be a boolean');
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new TypeError(`createNodeSqliteEngine(): busyTimeoutMs must be a non-negative integer, not ${String(options.busyTimeoutMs)}`);
  const cacheSizeKiB = options.cacheSizeKiB ?? DEFAULT_CACHE_KIB;
  if (!Number.isSafeInteger(cacheSizeKiB) || cacheSizeKiB < 64) throw new TypeError(`createNodeSqliteEngine(): cacheSizeKiB must be an integer of at least 64, not ${String(options.cacheSizeKiB)}`);
  const readOnly = options.readOnly === true;
  if (options.immutable !== undefined && typeof options.immutable !== 'boolean') throw new TypeError('createNodeSqliteEngine(): immutable must be a boolean');
  const immutable = options.immutable === true;
  if (immutable && !readOnly) throw new TypeError('createNodeSqliteEngine(): immutable needs readOnly: true');
  const given = resolve(options.path);

  let db: DatabaseSyncLike | undefined;
  let file = given;
  let paths = fileAdapterPaths(given);
  let closed = false;
  let inTransaction = false;
  const statements = new Map<string, StatementSyncLike>();
  const columnNames = new WeakMap<StatementSyncLike, readonly string[]>();

  /** A node:sqlite error as one the store types; anything else unchanged. */
  function translate(e: unknown, sql: string): unknown {
    const errcode = (e as { errcode?: unknown }).errcode;
    if (typeof errcode !== 'number') return e;
    const primary = errcode & 0xff;
    const at = `(in: ${sql.slice(0, 120)})`;
    if (primary === SQLITE_BUSY) {
      const holder: LockHolder = {
        description: `another SQLite connection (the Go agent, the sqlite3 shell, another store) holding the write lock on ${file} for longer than the busy timeout (${busyTimeoutMs} ms)`,
      };
      return Object.assign(coded('LOCKED', `${messageOf(e)} ${at}`, { holder }), { cause: e });
    }
    if (primary === SQLITE_READONLY && readOnly) return Object.assign(coded('READ_ONLY', `${file} was opened readOnly ${at}`), { cause: e });
    if (primary === SQLITE_NOTADB) return Object.assign(coded('CORRUPT', `${file} is not a SQLite database: ${messageOf(e)}`, { reason: 'NOT_SQLITE' }), { cause: e });
    if (primary === SQLITE_CORRUPT) return Object.assign(coded('CORRUPT', `${file} is damaged: ${messageOf(e)} ${at}`, { reason: 'DAMAGED' }), { cause: e });
    return Object.assign(new Error(`${messageOf(e)} ${at}`), { cause: e, code: (e as { code?: unknown }).code, errcode });
  }

  function open(): DatabaseSyncLike {
    const sqlite = nodeSqlite();
    if (!sqlite) {
      const version = (globalThis as { process?: { version?: string } }).process?.version ?? 'this runtime';
      throw coded(
        'UNSUPPORTED',
        `node:sqlite is not available in ${version} (it is in Node 22.13 and later). Use the sql.js engine with the fs adapter instead: openStore({ adapter: createFileAdapter({ path }) }), createFileAdapter from @platform-agent/store/adapters/fs`,
      );
    }
    file = locate(given);
    paths = fileAdapterPaths(file);
    // Before SQLite sees the file: a refused open changes nothing.
    refuseSqlJsState(paths);
    const size = sizeOf(file);
    if (size === undefined && readOnly) throw coded('NOT_FOUND', `there is no database at ${file} to open readOnly`, { path: file });
    if (size === 0) {
      throw coded('CORRUPT', `${file} is empty (0 bytes): a truncated file or a failed copy, not a database. Restore it from a backup, or delete it to start a new database there. Nothing was changed`, {
        reason: 'EMPTY',
      });
    }
    let opened: DatabaseSyncLike;
    try {
      opened = new sqlite.DatabaseSync(immutable ? `${pathToFileURL(file).href}?immutable=1` : file, { readOnly, enableForeignKeyConstraints: true });
    } catch (e) {
      throw translate(e, 'open');
    }
    try {
      opened.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      if (readOnly) {
        // Belt and braces: also refused by SQLite itself where DatabaseSync has no readOnly (before 22.12).
        opened.exec('PRAGMA query_only = ON');
      } else {
        opened.prepare('PRAGMA journal_mode = WAL').all();
        opened.exec('PRAGMA synchronous = FULL');
      }
      opened.exec('PRAGMA foreign_keys = ON');
      opened.exec(`PRAGMA cache_size = ${-cacheSizeKiB}`);
      // Reads the schema now (a damaged or foreign file fails here) and opens SQLite's WAL index:
      // the -shm exists (for a new database too: switching to WAL wrote its first page) before the
      // fs adapter's lock is looked for again. The fs adapter looks for -shm again after creating
      // its lock, so a store of each kind opening at the same moment cannot both miss the other.
      opened.prepare('SELECT count(*) FROM sqlite_master').all();
      refuseSqlJsState(paths);
    } catch (e) {
      opened.close();
      throw translate(e, 'open');
    }
    return opened;
  }

  function connection(): DatabaseSyncLike {
    if (closed) throw coded('CLOSED', `the engine for ${file} is closed`);
    return (db ??= open());
  }

  function prepared(sql: string): StatementSyncLike {
    let stmt = statements.get(sql);
    if (stmt) return stmt;
    const conn = connection();
    if (statements.size >= STATEMENT_CACHE_LIMIT) {
      const oldest = statements.keys().next().value as string;
      statements.delete(oldest);
    }
    try {
      stmt = conn.prepare(sql);
    } catch (e) {
      throw translate(e, sql);
    }
    statements.set(sql, stmt);
    return stmt;
  }

  function runSync(sql: string, params: readonly SqlValue[] = []): SqlRunResult {
    const stmt = prepared(sql);
    let changes: number | bigint;
    try {
      changes = stmt.run(...params).changes;
    } catch (e) {
      throw translate(e, sql);
    }
    // SQLite reports the last INSERT/UPDATE/DELETE's count after any statement: a query changed nothing.
    return { changes: QUERY.test(sql) ? 0 : Number(changes) };
  }

  function allSync(sql: string, params: readonly SqlValue[] = []): SqlRow[] {
    const stmt = prepared(sql);
    let rows: Record<string, unknown>[];
    try {
      rows = stmt.all(...params);
    } catch (e) {
      // An integer beyond 2^53 (a Go int64) cannot be a number: read again as BigInt, then as the
      // nearest number, as sql.js reads it. Only a query is run twice (it changes nothing).
      if ((e as { code?: unknown }).code !== 'ERR_OUT_OF_RANGE' || !QUERY.test(sql)) throw translate(e, sql);
      stmt.setReadBigInts(true);
      try {
        rows = stmt.all(...params);
      } catch (e2) {
        throw translate(e2, sql);
      } finally {
        stmt.setReadBigInts(false);
      }
    }
    return toRows(rows, rows.length === 0 ? undefined : columnsOf(sql, stmt, rows[0] as Record<string, unknown>));
  }

  // The keys of a statement's rows, read off its first row once: only for a statement that names
  // its columns (no `*`), whose rows have the same keys for as long as it is cached, whatever
  // the schema becomes. Enumerating them per row costs more than the check of their values.
  function columnsOf(sql: string, stmt: StatementSyncLike, first: Record<string, unknown>): readonly string[] | undefined {
    let columns = columnNames.get(stmt);
    if (columns === undefined && !sql.includes('*')) {
      columns = Object.keys(first);
      columnNames.set(stmt, columns);
    }
    return columns;
  }

  function execSync(sql: string): void {
    try {
      connection().exec(sql);
    } catch (e) {
      throw translate(e, sql);
    }
  }

  function rollbackQuietly(conn: DatabaseSyncLike): void {
    if (conn.isTransaction === false) return;
    try {
      conn.exec('ROLLBACK');
    } catch {
      // SQLite may have rolled back on its own (the error to report is the statement's).
    }
  }

  /** Statements as one atomic unit: its own write transaction, or a savepoint inside an open one. */
  function batchSync(list: readonly SqlStatement[]): SqlRunResult[] {
    if (list.length === 0) return [];
    const conn = connection();
    // IMMEDIATE takes the write lock first (waiting out the busy timeout): a deferred transaction
    // that read first could not upgrade once another connection wrote (SQLITE_BUSY_SNAPSHOT).
    execSync(inTransaction ? 'SAVEPOINT pa_batch' : 'BEGIN IMMEDIATE');
    try {
      const results = list.map((s) => runSync(s.sql, s.params));
      execSync(inTransaction ? 'RELEASE pa_batch' : 'COMMIT');
      return results;
    } catch (e) {
      if (inTransaction) {
        try {
          conn.exec('ROLLBACK TO pa_batch; RELEASE pa_batch');
        } catch {
          // The transaction itself may be gone; the transaction's own failure handling rolls it back.
        }
      } else rollbackQuietly(conn);
      throw e;
    }
  }

  function closeNow(): void {
    closed = true;
    statements.clear();
    const open = db;
    db = undefined;
    // Closing finalizes every statement; the last connection's close checkpoints and removes -wal/-shm.
    open?.close();
  }

  const engine: NodeSqliteEngine & { readonly [SYNC_PORT]: SyncPort } = {
    name: 'node:sqlite',
    readOnly,
    durable: true,
    // The store calls these directly (see SYNC_PORT): `run` and `all` below, without their promises.
    [SYNC_PORT]: { run: runSync, all: allSync },

    async run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult> {
      return runSync(sql, params);
    },

    async all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
      return allSync(sql, params);
    },

    async batch(list: readonly SqlStatement[]): Promise<SqlRunResult[]> {
      return batchSync(list);
    },

    // SQLite refuses any write the statement attempts: query_only for its run (already on when the
    // engine is readOnly), set and reset synchronously, so no other statement runs under it.
    async allReadOnly(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]> {
      if (readOnly) return allSync(sql, params);
      execSync('PRAGMA query_only = ON');
      try {
        return allSync(sql, params);
      } finally {
        execSync('PRAGMA query_only = OFF');
      }
    },

    async transaction<T>(fn: (port: SqlPort) => Promise<T>): Promise<T> {
      const conn = connection();
      if (inTransaction) throw coded('TRANSACTION', 'transactions do not nest');
      execSync('BEGIN IMMEDIATE');
      inTransaction = true;
      let active = true;
      // After a failed statement SQLite may have rolled back on its own; later statements would
      // then commit one by one. So the first failure ends the transaction: it can only roll back.
      let failure: unknown;
      const guarded =
        <A extends unknown[], R>(op: (...args: A) => R) =>
        async (...args: A): Promise<R> => {
          if (!active) throw coded('CLOSED', 'this transaction has ended; use the store itself', { what: 'this transaction (it has ended; use the store itself)' });
          if (failure !== undefined) throw Object.assign(coded('TRANSACTION', 'an earlier statement of this transaction failed; it will roll back'), { cause: failure });
          try {
            return op(...args);
          } catch (e) {
            failure = e;
            throw e;
          }
        };
      const port: SqlPort = { run: guarded(runSync), all: guarded(allSync), batch: guarded(batchSync) };
      try {
        const result = await fn(port);
        active = false;
        if (failure !== undefined) {
          throw Object.assign(coded('TRANSACTION', 'a statement of this transaction failed (its error was caught); nothing was committed'), { cause: failure });
        }
        execSync('COMMIT');
        return result;
      } catch (e) {
        active = false;
        if (!closed) rollbackQuietly(conn);
        throw e;
      } finally {
        inTransaction = false;
      }
    },

    /**
     * `VACUUM` on the file (in WAL mode it goes through the WAL, which is then checkpointed and
     * truncated: the file shrinks now, or at SQLite's next checkpoint where another connection is
     * reading at that moment). Other connections wait for it (busy timeout).
     */
    async vacuum(): Promise<void> {
      connection();
      if (inTransaction) throw coded('TRANSACTION', 'cannot vacuum while a transaction is open');
      if (readOnly) throw coded('READ_ONLY', 'cannot vacuum a database opened read-only');
      execSync('VACUUM');
      execSync('PRAGMA wal_checkpoint(TRUNCATE)');
    },

    /** `page_count × page_size`, as the Go store's `DBSizeBytes` (WAL frames not yet checkpointed included). */
    async sizeBytes(): Promise<number> {
      const rows = allSync('SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()');
      return Number(rows[0]?.size ?? 0);
    },

    /**
     * A complete, consistent SQLite file of the current state (`VACUUM INTO` a temporary file,
     * read back and removed): rollback-journal mode, compacted, rowids kept.
     */
    async exportImage(): Promise<Uint8Array> {
      connection();
      if (inTransaction) throw coded('TRANSACTION', 'cannot export the image while a transaction is open');
      const dir = mkdtempSync(join(tmpdir(), 'pa-node-sqlite-export-'));
      try {
        const out = join(dir, 'image.db');
        // query_only refuses VACUUM INTO too; it writes another file only, and nothing else runs meanwhile.
        if (readOnly) execSync('PRAGMA query_only = OFF');
        try {
          runSync('VACUUM INTO ?', [out]);
        } finally {
          if (readOnly) execSync('PRAGMA query_only = ON');
        }
        const bytes = readFileSync(out);
        return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closeNow();
    },
  };
  return engine;
}
