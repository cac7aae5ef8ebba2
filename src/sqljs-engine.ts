import { ClosedError, CorruptDatabaseError, SqlError, StoreError, TransactionError, ValidationError } from './errors.js';
import { SyncEngine, type EmbeddedEngine, type ImageExport } from './engine.js';
import { imageCapacity, newImageBuffer } from './persistence.js';
import { checkSqliteFile } from './sqlite-file.js';
import type { SqlRow, SqlRunResult, SqlStatement, SqlValue } from './sql-port.js';
import { errorText, loadSqlJs, sqlJsKeepsBom, type SqlJsDatabase, type SqlJsStatement, type SqlJsStatic, type WasmSource } from './sqljs-loader.js';

// Statements are cached by SQL text; the domain builds a bounded set, so this cap is only a guard.
const STATEMENT_CACHE_LIMIT = 256;

const blobText = new TextDecoder('utf-8', { ignoreBOM: true });
const SCHEMA_CHANGE = /^\s*(ALTER|CREATE|DROP)\b/i;

function startsWithBom(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

/** Wraps a sql.js error (sql.js throws plain Errors carrying SQLite's message) in a typed one. */
function translate(e: unknown, sql: string): StoreError {
  if (e instanceof StoreError) return e;
  const message = errorText(e);
  if (/file is not a database|database disk image is malformed|malformed database schema/i.test(message)) {
    return new CorruptDatabaseError(`the database is damaged or not a SQLite file: ${message}`, { cause: e });
  }
  return new SqlError(`${message} (in: ${sql.slice(0, 120)})`, { cause: e });
}

/**
 * The image handed to sql.js, in memory the engine owns, with room to grow. sql.js's in-memory file
 * system copies a new file's bytes with `slice()` and then reallocates (and copies) it by 1.125x
 * the first time SQLite extends it: with a large image that is three copies alive at once. This
 * `slice()` gives the file system a view of the same memory instead, sized to its whole buffer,
 * which becomes the file's capacity. Only the bytes written take memory (fresh pages are not
 * resident), so the headroom costs nothing until it is used. Were sql.js to stop calling
 * `slice()`, it would copy as before: correctness never depends on this.
 */
class OwnedImage extends Uint8Array {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    // Only the file system's whole-file copy is turned into a view; any other slice is a real copy.
    if ((start ?? 0) === 0 && (end ?? this.length) === this.length) {
      const buffer = this.buffer as ArrayBuffer;
      // Over a resizable buffer, a view that tracks its length: the file's capacity grows with it.
      return buffer.resizable ? new Uint8Array(buffer, this.byteOffset) : new Uint8Array(buffer, this.byteOffset, buffer.byteLength - this.byteOffset);
    }
    return super.slice(start, end);
  }
}

// Room kept ahead of the database in a resizable image buffer: at least this, or a quarter of it.
const MIN_ROOM_BYTES = 16 * 1024 * 1024;

/**
 * Keeps a resizable image buffer (see `newImageBuffer`) ahead of the database in it: after each
 * statement, the header's page count (SQLite rewrites it at every commit) against the buffer's
 * length; short of room, the buffer grows in place (`resize()`: no copy; fresh pages are not
 * resident until written). sql.js's file system, whose view of the file tracks the buffer's length,
 * then never has to copy the whole image into a larger array when SQLite extends the file (it
 * grows by 1.125x, each time copying it all: 240 ms at 400 MiB). Held weakly: were the file system
 * to copy it anyway, the buffer is no longer the file and is let go.
 */
class ImageRoom {
  readonly #buffer: WeakRef<ArrayBuffer>;

  private constructor(buffer: ArrayBuffer) {
    this.#buffer = new WeakRef(buffer);
  }

  static of(image: Uint8Array | undefined): ImageRoom | undefined {
    const buffer = image?.buffer;
    return buffer instanceof ArrayBuffer && buffer.resizable && image?.byteOffset === 0 && typeof WeakRef === 'function' ? new ImageRoom(buffer) : undefined;
  }

  /** The page count in the buffer's header (what SQLite last wrote there), or undefined once the buffer is gone. */
  pages(): number | undefined {
    const buffer = this.#buffer.deref();
    return buffer && buffer.byteLength >= 100 ? new DataView(buffer, 0, 100).getUint32(28) : undefined;
  }

  /** Grows the buffer when the database has come within its room of the end; false once the buffer is gone. */
  keep(): boolean {
    const buffer = this.#buffer.deref();
    if (!buffer || buffer.byteLength < 100) return false;
    const header = new DataView(buffer, 0, 100);
    const pageSize = header.getUint16(16);
    const bytes = header.getUint32(28) * (pageSize === 1 ? 65536 : pageSize);
    if (bytes + Math.max(MIN_ROOM_BYTES, bytes / 4) <= buffer.byteLength) return true;
    const wanted = Math.min(buffer.maxByteLength, imageCapacity(bytes));
    if (wanted > buffer.byteLength) buffer.resize(wanted);
    return true;
  }
}

/**
 * Checks that non-empty bytes are a whole SQLite file (see `checkSqliteFile`), and returns bytes sql.js can own and open
 * in memory: a copy with room to grow (the caller's bytes stay untouched), or, when the caller
 * gives them up (`given`), the same memory, growing into its buffer's spare capacity.
 */
function ownedImage(image: Uint8Array, given: boolean): Uint8Array {
  if (image.byteLength === 0) return image;
  // SQLite's header, and a length that is exactly its pages: a short file is refused here, before
  // SQLite could open it and a writer make the damage permanent.
  checkSqliteFile(image);
  let owned: OwnedImage;
  // Adopted only as a plain Uint8Array at the start of its own ArrayBuffer (never a Node Buffer,
  // which may sit in a pool shared with other Buffers); anything else is copied.
  if (given && Object.getPrototypeOf(image) === Uint8Array.prototype && image.byteOffset === 0 && image.buffer instanceof ArrayBuffer) {
    owned = new OwnedImage(image.buffer, image.byteOffset, image.byteLength);
  } else {
    owned = new OwnedImage(newImageBuffer(imageCapacity(image.byteLength)), 0, image.byteLength);
    owned.set(image);
  }
  // Bytes 18-19 = 2 mark a WAL database. The image is complete on its own (a WAL file is never part
  // of it), so it opens in rollback mode.
  if (owned[18] === 2 || owned[19] === 2) {
    owned[18] = 1;
    owned[19] = 1;
  }
  return owned;
}

const SQLITE_OK = 0;
const SQLITE_DONE = 101;
const SQLITE_MAGIC = 'SQLite format 3\0';

// One empty database per page size: the file a copy starts as (SQLite's backup needs a database).
const templates = new Map<number, Uint8Array>();

function emptyDatabase(SQL: SqlJsStatic, pageSize: number): Uint8Array {
  let template = templates.get(pageSize);
  if (!template) {
    const db = new SQL.Database();
    try {
      db.exec(`PRAGMA page_size=${pageSize}; PRAGMA user_version=1`);
      template = db.export();
    } finally {
      db.close();
    }
    templates.set(pageSize, template);
  }
  return template;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at);
}

/**
 * An export in steps through SQLite's online backup API, into a second database whose file is
 * memory the engine allocated (the {@link OwnedImage} trick: its file system writes straight into
 * it, so the finished image needs no copy). Writes that the engine commits between steps reach the
 * copy too (SQLite updates a backup when its source changes through the same connection), so the
 * copy holds every commit up to the step that completes it.
 */
class SteppedExport implements ImageExport {
  readonly #SQL: SqlJsStatic;
  readonly #owner: SqlJsEngine;
  readonly #buffer: ArrayBuffer;
  readonly #pageSize: number;
  #dest: SqlJsDatabase | undefined;
  #backup: number;

  constructor(SQL: SqlJsStatic, owner: SqlJsEngine, dest: SqlJsDatabase, backup: number, buffer: ArrayBuffer, pageSize: number) {
    this.#SQL = SQL;
    this.#owner = owner;
    this.#dest = dest;
    this.#backup = backup;
    this.#buffer = buffer;
    this.#pageSize = pageSize;
  }

  step(pages: number, complete: () => readonly SqlStatement[]): Uint8Array | undefined {
    const dest = this.#dest;
    if (!dest || this.#backup === 0) throw new ClosedError('this image export');
    if (this.#owner.inTransaction) throw new TransactionError('cannot export the image while a transaction is open');
    try {
      const rc = (this.#SQL._sqlite3_backup_step as NonNullable<SqlJsStatic['_sqlite3_backup_step']>)(this.#backup, Math.max(1, Math.floor(pages)));
      if (rc === SQLITE_OK) return undefined;
      if (rc !== SQLITE_DONE) throw new SqlError(`exporting the image failed (SQLite error ${rc})`);
      const statements = complete();
      const finished = (this.#SQL._sqlite3_backup_finish as NonNullable<SqlJsStatic['_sqlite3_backup_finish']>)(this.#backup);
      this.#backup = 0;
      if (finished !== SQLITE_OK) throw new SqlError(`exporting the image failed (SQLite error ${finished} at its end)`);
      for (const s of statements) dest.run(s.sql, (s.params ?? []) as SqlValue[]);
      const pageCount = Number(dest.exec('PRAGMA page_count')[0]?.values[0]?.[0]);
      dest.close();
      this.#dest = undefined;
      const size = pageCount * this.#pageSize;
      const image = new Uint8Array(this.#buffer, 0, Math.min(size, this.#buffer.byteLength));
      // The copy's file must have stayed in this memory (a file system that had moved it would
      // leave an older header here): the header names every page, and the memory holds them.
      const header = new TextDecoder().decode(image.subarray(0, 16));
      if (size > this.#buffer.byteLength || header !== SQLITE_MAGIC || readUint32(image, 28) !== pageCount) {
        throw new SqlError('exporting the image in steps failed: the copy did not stay in its memory');
      }
      return image;
    } catch (e) {
      this.abort();
      throw translate(e, 'export');
    }
  }

  abort(): void {
    if (this.#backup !== 0) {
      try {
        this.#SQL._sqlite3_backup_finish?.(this.#backup);
      } catch {
        // Only freeing is left to do.
      }
      this.#backup = 0;
    }
    if (this.#dest) {
      try {
        this.#dest.close();
      } catch {
        // Only freeing is left to do.
      }
      this.#dest = undefined;
    }
    this.#owner.exportEnded(this);
  }
}

/** Options for {@link createSqlJsEngine}. */
export interface SqlJsEngineOptions {
  /** Where the WASM comes from. @default the installed sql.js package's binary (Node) */
  wasm?: WasmSource;
  /** A complete SQLite database file to start from. @default an empty database */
  image?: Uint8Array;
  /**
   * `true` gives `image`'s memory to the engine, which then writes into it (and into its buffer's
   * spare capacity) instead of copying it. @default false (the bytes are copied, never changed)
   */
  imageOwned?: boolean;
  /**
   * The most memory SQLite's page cache may use, in KiB. sql.js's file system lives in JavaScript,
   * so every page the cache misses is copied out of it again; a cache near the database size keeps
   * reads fast (it costs WASM heap only as pages are read).
   * @default 65536 (64 MiB)
   */
  cacheSizeKiB?: number;
}

const DEFAULT_CACHE_KIB = 64 * 1024;

// What every sql.js engine runs at open: one connection owns the database, the rollback journal
// lives in memory, SQLite does not sync (durability is the adapter's job), a large page cache.
const enginePragmas = (cacheKiB: number): string =>
  `PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA cache_size=${-cacheKiB};`;

/** The sql.js engine: an in-memory SQLite database in WebAssembly with a warm statement cache. */
export class SqlJsEngine extends SyncEngine {
  readonly name = 'sql.js';
  #db: SqlJsDatabase | undefined;
  readonly #statements = new Map<string, SqlJsStatement>();
  readonly #columns = new WeakMap<SqlJsStatement, string[]>();
  readonly #keepsBom: boolean;
  readonly #SQL: SqlJsStatic | undefined;
  // Exports in steps under way (SQLite keeps each backup up to date with the engine's commits).
  readonly #exports = new Set<SteppedExport>();
  // The image's resizable buffer, kept ahead of the database (undefined where it is not resizable).
  #room: ImageRoom | undefined;
  readonly #cacheKiB: number;

  constructor(db: SqlJsDatabase, keepsBom = sqlJsKeepsBom(), SQL?: SqlJsStatic, image?: Uint8Array, cacheKiB = DEFAULT_CACHE_KIB) {
    super();
    this.#db = db;
    this.#keepsBom = keepsBom;
    this.#SQL = SQL;
    this.#room = ImageRoom.of(image);
    this.#cacheKiB = cacheKiB;
  }

  /**
   * @internal Whether the database lives in a buffer with room to grow in place (see ImageRoom): the
   * buffer is there and its header holds the database's page count as SQLite last wrote it.
   */
  get growsInPlace(): boolean {
    const pages = this.#room?.pages();
    return pages !== undefined && pages === Number(this.allSync('PRAGMA page_count')[0]?.page_count);
  }

  /**
   * `VACUUM`, between transactions, then the database opened again on a copy with room to grow: the
   * rebuild shrinks sql.js's file into an array of its exact size, which would be copied whole
   * each time the database outgrows it (see ImageRoom). The copy goes through SQLite's backup (sql.js's
   * `export()`), like a checkpoint's; where it cannot be made, the engine goes on as the rebuild left it.
   */
  override async vacuum(): Promise<void> {
    await super.vacuum();
    const SQL = this.#SQL;
    const db = this.#open();
    if (!SQL || this.#exports.size > 0) return;
    let next: SqlJsDatabase | undefined;
    try {
      const image = ownedImage(db.export(), false);
      next = new SQL.Database(image);
      next.exec(enginePragmas(this.#cacheKiB));
      this.#dropStatements();
      db.close();
      this.#db = next;
      this.#room = ImageRoom.of(image);
    } catch {
      if (next && this.#db !== next) next.close();
    }
  }

  // After a statement that may have extended the file (see ImageRoom). Never throws: the statement
  // has run (a write has committed); a buffer that cannot grow leaves growing to the file system.
  #keepRoom(): void {
    if (!this.#room) return;
    try {
      if (!this.#room.keep()) this.#room = undefined;
    } catch {
      this.#room = undefined;
    }
  }

  /** How many prepared statements are cached (bounded; all freed on close). */
  get cachedStatements(): number {
    return this.#statements.size;
  }

  #open(): SqlJsDatabase {
    if (!this.#db) throw new ClosedError('the sql.js engine');
    return this.#db;
  }

  #prepared(sql: string): SqlJsStatement {
    let stmt = this.#statements.get(sql);
    if (stmt) return stmt;
    if (this.#statements.size >= STATEMENT_CACHE_LIMIT) {
      const [oldest, old] = this.#statements.entries().next().value as [string, SqlJsStatement];
      old.free();
      this.#statements.delete(oldest);
    }
    stmt = this.#open().prepare(sql);
    this.#statements.set(sql, stmt);
    return stmt;
  }

  runSync(sql: string, params: readonly SqlValue[] = []): SqlRunResult {
    const db = this.#open();
    if (SCHEMA_CHANGE.test(sql)) this.#dropStatements();
    try {
      const stmt = this.#prepared(sql);
      try {
        stmt.bind(params as SqlValue[]);
        while (stmt.step()) {
          /* drain (RETURNING rows of a write are read with all()) */
        }
      } finally {
        stmt.reset();
      }
      this.#keepRoom();
      return { changes: db.getRowsModified() };
    } catch (e) {
      throw translate(e, sql);
    }
  }

  allSync(sql: string, params: readonly SqlValue[] = []): SqlRow[] {
    this.#open();
    try {
      const stmt = this.#prepared(sql);
      const rows: SqlRow[] = [];
      // Column names are cached per statement (DDL drops the statement cache; a count mismatch
      // refreshes them too).
      let columns = this.#columns.get(stmt);
      try {
        stmt.bind(params as SqlValue[]);
        while (stmt.step()) {
          const values = stmt.get() as (SqlValue | Uint8Array)[];
          if (columns?.length !== values.length) {
            columns = stmt.getColumnNames();
            this.#columns.set(stmt, columns);
          }
          const row: SqlRow = {};
          for (let i = 0; i < columns.length; i++) {
            let value = values[i] ?? null;
            // The schema has no BLOB columns, but a writer may bind text as a BLOB (a Go []byte).
            if (value instanceof Uint8Array) value = blobText.decode(value);
            // Where sql.js's decoder drops a leading U+FEFF (see loadSqlJs), the bytes tell
            // whether one was there.
            else if (!this.#keepsBom && typeof value === 'string' && startsWithBom(stmt.getBlob(i))) value = `\uFEFF${value}`;
            row[columns[i] as string] = value;
          }
          rows.push(row);
        }
      } finally {
        stmt.reset();
      }
      this.#keepRoom();
      return rows;
    } catch (e) {
      throw translate(e, sql);
    }
  }

  batchSync(statements: readonly SqlStatement[]): SqlRunResult[] {
    this.runSync('SAVEPOINT pa_batch');
    try {
      const results = statements.map((s) => this.runSync(s.sql, s.params));
      this.runSync('RELEASE pa_batch');
      return results;
    } catch (e) {
      try {
        this.#open().exec('ROLLBACK TO pa_batch; RELEASE pa_batch');
      } catch {
        // SQLite may have rolled back already; the error to report is the statement's.
      }
      throw e;
    }
  }

  /** Runs a multi-statement script (DDL, pragmas) without parameters. */
  execSync(sql: string): void {
    this.#dropStatements();
    try {
      this.#open().exec(sql);
    } catch (e) {
      throw translate(e, sql);
    }
    this.#keepRoom();
  }

  // After a schema change, cached statements (and their column names) may describe the old schema.
  #dropStatements(): void {
    for (const stmt of this.#statements.values()) stmt.free();
    this.#statements.clear();
  }

  protected rollbackSync(): void {
    this.#db?.exec('ROLLBACK');
  }

  exportImageSync(): Uint8Array {
    const db = this.#open();
    if (this.inTransaction) throw new TransactionError('cannot export the image while a transaction is open');
    try {
      return db.export();
    } catch (e) {
      throw translate(e, 'export');
    }
  }

  async exportImage(): Promise<Uint8Array> {
    return this.exportImageSync();
  }

  /**
   * Starts an export in steps (see {@link ImageExport}); several may run at once. `undefined` where
   * this sql.js build lacks what it needs (the export then runs whole).
   */
  beginImageExport(): ImageExport | undefined {
    const db = this.#open();
    const SQL = this.#SQL;
    const handle = db.db;
    if (!SQL?._sqlite3_backup_init || !SQL._sqlite3_backup_step || !SQL._sqlite3_backup_finish || !SQL.stringToNewUTF8 || !SQL._free || typeof handle !== 'number') return undefined;
    if (this.inTransaction) throw new TransactionError('cannot export the image while a transaction is open');
    const pageSize = Number(this.allSync('PRAGMA page_size')[0]?.page_size);
    const pageCount = Number(this.allSync('PRAGMA page_count')[0]?.page_count);
    const template = emptyDatabase(SQL, pageSize);
    const buffer = new ArrayBuffer(imageCapacity(pageCount * pageSize));
    const file = new OwnedImage(buffer, 0, template.length);
    file.set(template);
    let dest: SqlJsDatabase | undefined;
    try {
      dest = new SQL.Database(file);
      // A copy that needs no journal and no sync (it is thrown away on failure), with a small page
      // cache (its pages go straight to its file). The user_version write shows whether that file
      // is `buffer`: where the file system copied it instead, the export runs whole.
      dest.exec('PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=16; PRAGMA user_version=1515870810');
      if (readUint32(new Uint8Array(buffer, 0, 100), 60) !== 1515870810 || typeof dest.db !== 'number') {
        dest.close();
        return undefined;
      }
      const main = SQL.stringToNewUTF8('main');
      let backup: number;
      try {
        backup = SQL._sqlite3_backup_init(dest.db, main, handle, main);
      } finally {
        SQL._free(main);
      }
      if (backup === 0) {
        dest.close();
        return undefined;
      }
      const started = new SteppedExport(SQL, this, dest, backup, buffer, pageSize);
      this.#exports.add(started);
      return started;
    } catch (e) {
      try {
        dest?.close();
      } catch {
        // Only freeing is left to do.
      }
      throw translate(e, 'export');
    }
  }

  /** @internal An export in steps ended (completed, failed or given up). */
  exportEnded(ended: SteppedExport): void {
    this.#exports.delete(ended);
  }

  async close(): Promise<void> {
    const db = this.#db;
    if (!db) return;
    for (const running of [...this.#exports]) running.abort();
    this.#dropStatements();
    this.#db = undefined;
    db.close();
  }
}

/**
 * Opens a sql.js engine, from an image or empty, with the pragmas this store relies on:
 * one connection owns the database (`locking_mode=EXCLUSIVE`), the rollback journal lives in memory,
 * SQLite does not sync (durability is the persistence adapter's job, not the WASM file system's),
 * and the page cache is large (see {@link SqlJsEngineOptions.cacheSizeKiB}).
 */
export async function createSqlJsEngine(options: SqlJsEngineOptions = {}): Promise<SqlJsEngine> {
  const cacheKiB = options.cacheSizeKiB ?? DEFAULT_CACHE_KIB;
  if (!Number.isSafeInteger(cacheKiB) || cacheKiB < 64) {
    throw ValidationError.of('options', `cacheSizeKiB must be an integer of at least 64, not ${String(cacheKiB)}`);
  }
  const SQL = await loadSqlJs(options.wasm);
  const image = options.image ? ownedImage(options.image, options.imageOwned === true) : undefined;
  let db: SqlJsDatabase;
  try {
    db = new SQL.Database(image && image.byteLength > 0 ? image : undefined);
  } catch (e) {
    throw translate(e, 'open');
  }
  const engine = new SqlJsEngine(db, sqlJsKeepsBom(), SQL, image && image.byteLength > 0 ? image : undefined, cacheKiB);
  try {
    // Reading the schema first makes a damaged file fail here, before anything is written.
    engine.allSync('PRAGMA schema_version');
    engine.execSync(enginePragmas(cacheKiB));
  } catch (e) {
    await engine.close();
    throw e;
  }
  return engine;
}

/** Options of {@link createSqlJsEmbeddedEngine}: those of {@link createSqlJsEngine} but the image. */
export type SqlJsEmbeddedOptions = Pick<SqlJsEngineOptions, 'wasm' | 'cacheSizeKiB'>;

/**
 * sql.js as an {@link EmbeddedEngine}: what `openStore` runs on an adapter when it is given no
 * engine (with its `wasm` and `cacheSizeKiB` options).
 * @example
 * const store = await openStore({ adapter, engine: createSqlJsEmbeddedEngine({ wasm: wasmUrl }) });
 */
export function createSqlJsEmbeddedEngine(options: SqlJsEmbeddedOptions = {}): EmbeddedEngine {
  const { wasm, cacheSizeKiB } = options;
  return {
    embedded: true,
    name: 'sql.js',
    open: ({ image, imageOwned }) => createSqlJsEngine({ wasm, cacheSizeKiB, ...(image ? { image, imageOwned: imageOwned === true } : {}) }),
  };
}
