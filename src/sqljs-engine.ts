import initSqlJs from 'sql.js';
import { ClosedError, CorruptDatabaseError, SqlError, StoreError, TransactionError, UnsupportedError, ValidationError } from './errors.js';
import { SyncEngine } from './engine.js';
import { imageCapacity } from './persistence.js';
import type { SqlRow, SqlRunResult, SqlStatement, SqlValue } from './sql-port.js';

/**
 * Where the SQLite WebAssembly binary comes from.
 * - omitted: in Node, the `sql-wasm.wasm` of the installed sql.js package;
 * - a `string` or `URL`: fetched from there (browsers, bundlers: use your bundler's asset URL);
 * - bytes (`Uint8Array` / `ArrayBuffer`): compiled from memory;
 * - a compiled `WebAssembly.Module`: instantiated directly (edge runtimes that import `.wasm`).
 */
export type WasmSource = string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module;

/** The subset of sql.js this engine uses (declared here so the rest of the core never sees sql.js). */
interface SqlJsStatement {
  bind(values: SqlValue[]): boolean;
  step(): boolean;
  get(): SqlValue[];
  getBlob(index: number): Uint8Array;
  getColumnNames(): string[];
  reset(): boolean;
  free(): boolean;
}
interface SqlJsDatabase {
  exec(sql: string): { columns: string[]; values: SqlValue[][] }[];
  prepare(sql: string): SqlJsStatement;
  getRowsModified(): number;
  export(): Uint8Array;
  close(): void;
}
interface SqlJsStatic {
  Database: new (data?: Uint8Array) => SqlJsDatabase;
}
interface SqlJsConfig {
  locateFile?: (file: string) => string;
  instantiateWasm?: (
    imports: WebAssembly.Imports,
    success: (instance: WebAssembly.Instance, module?: WebAssembly.Module) => void,
  ) => object;
}
const init = initSqlJs as unknown as (config?: SqlJsConfig) => Promise<SqlJsStatic>;

// sql.js keeps one SQLite instance per JavaScript realm: its loader caches the first initialisation,
// failures included, and ignores the options of every later call. So this module loads it once,
// prepares the binary itself where it can (a failed fetch or compile can then be retried), and
// remembers a failure of sql.js's own loading instead of waiting on it forever.
let sqlJs: Promise<SqlJsStatic> | undefined;
let poisoned: UnsupportedError | undefined;
let wasmMemory: WebAssembly.Memory | undefined;
// Whether sql.js's text decoder keeps a leading U+FEFF (false when something else initialised it).
let decoderKeepsBom = false;

function checkDecoderKeepsBom(SQL: SqlJsStatic): boolean {
  const db = new SQL.Database();
  try {
    return db.exec("SELECT char(65279) || 'x' AS v")[0]?.values[0]?.[0] === '\uFEFFx';
  } finally {
    db.close();
  }
}

function runningInNode(): boolean {
  const g = globalThis as { process?: { versions?: { node?: string } } };
  return typeof g.process?.versions?.node === 'string';
}

function nodeReadFile(): ((path: string | URL) => Promise<Uint8Array>) | undefined {
  const g = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
  const fs = g.process?.getBuiltinModule?.('node:fs/promises') as { readFile(path: string | URL): Promise<Uint8Array> } | undefined;
  return fs ? (path) => fs.readFile(path) : undefined;
}

/**
 * The exports of the SQLite binary sql.js's JavaScript expects: the `dist/sql-wasm.wasm` of the
 * sql.js version this package pins (1.16.0; a test compares it with the installed one). Emscripten
 * minifies the names per build, so a binary of another sql.js version (or any other WASM) has
 * other exports: it is refused before sql.js sees it, because sql.js would fail inside its own
 * asynchronous start-up, where no error reaches the caller (the open would hang).
 */
export const SQLJS_WASM_EXPORTS =
  'O:memory,P:function,Q:table,R:function,S:function,T:function,U:function,V:function,W:function,X:function,Y:function,Z:function,_:function,$:function,' +
  'aa:function,ba:function,ca:function,da:function,ea:function,fa:function,ga:function,ha:function,ia:function,ja:function,ka:function,la:function,' +
  'ma:function,na:function,oa:function,pa:function,qa:function,ra:function,sa:function,ta:function,ua:function,va:function,wa:function,xa:function,' +
  'ya:function,za:function,Aa:function,Ba:function,Ca:function,Da:function,Ea:function,Fa:function,Ga:function,Ha:function,Ia:function,Ja:function,' +
  'Ka:function,La:function,Ma:function,Na:function,Oa:function,Pa:function';

/** A module's exports as `name:kind`, comma-separated, in order. */
export function wasmExports(module: WebAssembly.Module): string {
  return WebAssembly.Module.exports(module)
    .map((e) => `${e.name}:${e.kind}`)
    .join(',');
}

async function compiledModule(wasm: WasmSource): Promise<WebAssembly.Module | string> {
  const module = await compileSource(wasm);
  if (typeof module !== 'string' && wasmExports(module) !== SQLJS_WASM_EXPORTS) {
    throw new Error(
      `this WebAssembly module is not the SQLite binary this package's sql.js (1.16.0) needs (its exports differ: another sql.js version's binary, or another module). Pass @platform-agent/store/sql-wasm.wasm`,
    );
  }
  return module;
}

async function compileSource(wasm: WasmSource): Promise<WebAssembly.Module | string> {
  if (typeof WebAssembly !== 'undefined' && wasm instanceof WebAssembly.Module) return wasm;
  if (wasm instanceof Uint8Array || wasm instanceof ArrayBuffer) return WebAssembly.compile(wasm as BufferSource);
  if (typeof wasm === 'string' || (typeof URL !== 'undefined' && wasm instanceof URL)) {
    const href = String(wasm);
    // In Node everything but a web URL is a file: a path (`C:\\…` included) or a file: URL. The core
    // imports no Node module; Node (>= 20.16) hands out its built-ins at run time, which bundlers
    // never see.
    if (runningInNode() && !/^(https?|data|blob):/i.test(href)) {
      const readFile = nodeReadFile();
      if (!readFile) return href; // older Node: sql.js's own loader reads it (it cannot retry a failure)
      return WebAssembly.compile((await readFile(href.startsWith('file:') ? new URL(href) : href)) as BufferSource);
    }
    const response = await fetch(href);
    if (!response.ok) throw new Error(`fetching ${href} answered ${response.status} ${response.statusText}`);
    return WebAssembly.compile(await response.arrayBuffer());
  }
  throw new TypeError(`unexpected wasm source ${String(wasm)}`);
}

function isWasmSource(wasm: unknown): wasm is WasmSource {
  return (
    typeof wasm === 'string' ||
    (typeof URL !== 'undefined' && wasm instanceof URL) ||
    wasm instanceof Uint8Array ||
    wasm instanceof ArrayBuffer ||
    (typeof WebAssembly !== 'undefined' && wasm instanceof WebAssembly.Module)
  );
}

/**
 * Loads sql.js, once per realm. The first call's `wasm` decides where the binary comes from; later
 * calls share that instance (every store in a realm runs on one SQLite build anyway).
 */
export function loadSqlJs(wasm?: WasmSource): Promise<SqlJsStatic> {
  if (wasm !== undefined && !isWasmSource(wasm)) {
    return Promise.reject(
      ValidationError.of('wasm option', 'the wasm option must be a URL, the bytes of sql-wasm.wasm, or a compiled WebAssembly.Module'),
    );
  }
  if (poisoned) return Promise.reject(poisoned);
  // Published before the first await, so a concurrent call joins this load instead of racing it.
  const loading = (sqlJs ??= startSqlJs(wasm));
  loading.catch(() => {
    // A failure before sql.js's own loader ran (fetch, read, compile) can be retried.
    if (!poisoned && sqlJs === loading) sqlJs = undefined;
  });
  return loading;
}

async function startSqlJs(wasm: WasmSource | undefined): Promise<SqlJsStatic> {
  let source: WebAssembly.Module | string | undefined;
  try {
    source = wasm === undefined ? undefined : await compiledModule(wasm);
  } catch (cause) {
    throw new UnsupportedError(`cannot load the SQLite WebAssembly binary: ${errorText(cause)}`, { cause });
  }
  let failInstantiate: (e: unknown) => void = () => {};
  const instantiateFailed = new Promise<never>((_, reject) => (failInstantiate = reject));
  const config: SqlJsConfig = {};
  if (typeof source === 'string') config.locateFile = () => source;
  else if (source) {
    const module = source;
    config.instantiateWasm = (imports, success) => {
      WebAssembly.instantiate(module, imports)
        .then((instance) => {
          wasmMemory = Object.values(instance.exports).find((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory);
          // sql.js throws here when the module is valid WASM but not its own binary.
          success(instance, module);
        })
        .catch(failInstantiate);
      return {};
    };
  }
  // sql.js decodes all text with one TextDecoder, created synchronously inside init(). A default
  // decoder drops a leading U+FEFF from every value; this one keeps it. The global is restored
  // before any other code can run.
  const NativeDecoder = globalThis.TextDecoder;
  let started: Promise<SqlJsStatic>;
  if (typeof NativeDecoder === 'function') {
    globalThis.TextDecoder = class extends NativeDecoder {
      constructor(label?: string, options?: TextDecoderOptions) {
        super(label, { ...options, ignoreBOM: true });
      }
    };
  }
  // sql.js's loader takes a worker global scope (WorkerGlobalScope) for a web worker and reads
  // `self.location.href` for its script's directory. Cloudflare's workerd has the scope but no
  // location: an empty one stands in for the synchronous start (the binary is handed over, never
  // fetched relative to it), and is removed before any other code runs.
  const scope = globalThis as { WorkerGlobalScope?: unknown; location?: unknown };
  const stubLocation = scope.WorkerGlobalScope !== undefined && scope.location === undefined;
  if (stubLocation) {
    if (!source) {
      if (typeof NativeDecoder === 'function') globalThis.TextDecoder = NativeDecoder;
      throw new UnsupportedError(
        'this runtime (a worker scope without location, such as Cloudflare workerd) has no default place for the SQLite WebAssembly binary: pass it as the wasm option, a WebAssembly.Module (import wasm from "@platform-agent/store/sql-wasm.wasm"; workerd does not compile WebAssembly from bytes)',
      );
    }
    Object.defineProperty(globalThis, 'location', { value: { href: '' }, configurable: true, writable: true });
  }
  try {
    started = init(config);
  } finally {
    if (typeof NativeDecoder === 'function') globalThis.TextDecoder = NativeDecoder;
    if (stubLocation) delete scope.location;
  }
  try {
    const SQL = await Promise.race([started, instantiateFailed]);
    decoderKeepsBom = checkDecoderKeepsBom(SQL);
    return SQL;
  } catch (cause) {
    poisoned = new UnsupportedError(
      `cannot load the SQLite WebAssembly binary (sql.js cannot retry in this realm): ${errorText(cause)}`,
      { cause },
    );
    throw poisoned;
  }
}

/**
 * Bytes of the WASM heap (all stores of this realm share it), when this module instantiated the
 * binary itself (a `wasm` option was given); `undefined` when sql.js's own loader did.
 */
export function wasmHeapBytes(): number | undefined {
  return wasmMemory?.buffer.byteLength;
}

const SQLITE_MAGIC = 'SQLite format 3\0';
// Statements are cached by SQL text; the domain builds a bounded set, so this cap is only a guard.
const STATEMENT_CACHE_LIMIT = 256;

const blobText = new TextDecoder('utf-8', { ignoreBOM: true });
const SCHEMA_CHANGE = /^\s*(ALTER|CREATE|DROP)\b/i;

function startsWithBom(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
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
      return new Uint8Array(this.buffer as ArrayBuffer, this.byteOffset, this.buffer.byteLength - this.byteOffset);
    }
    return super.slice(start, end);
  }
}

/**
 * Checks that non-empty bytes start like a SQLite file, and returns bytes sql.js can own and open
 * in memory: a copy with room to grow (the caller's bytes stay untouched), or, when the caller
 * gives them up (`given`), the same memory, growing into its buffer's spare capacity.
 */
function ownedImage(image: Uint8Array, given: boolean): Uint8Array {
  if (image.byteLength === 0) return image;
  let magic = '';
  for (let i = 0; i < 16 && i < image.byteLength; i++) magic += String.fromCharCode(image[i] ?? 0);
  if (image.byteLength < 100 || magic !== SQLITE_MAGIC) {
    throw new CorruptDatabaseError(`the image (${image.byteLength} bytes) is not a SQLite database: its header is not "SQLite format 3"`);
  }
  let owned: OwnedImage;
  // Adopted only as a plain Uint8Array at the start of its own ArrayBuffer (never a Node Buffer,
  // which may sit in a pool shared with other Buffers); anything else is copied.
  if (given && Object.getPrototypeOf(image) === Uint8Array.prototype && image.byteOffset === 0 && image.buffer instanceof ArrayBuffer) {
    owned = new OwnedImage(image.buffer, image.byteOffset, image.byteLength);
  } else {
    owned = new OwnedImage(new ArrayBuffer(imageCapacity(image.byteLength)), 0, image.byteLength);
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

/** The sql.js engine: an in-memory SQLite database in WebAssembly with a warm statement cache. */
export class SqlJsEngine extends SyncEngine {
  readonly name = 'sql.js';
  #db: SqlJsDatabase | undefined;
  readonly #statements = new Map<string, SqlJsStatement>();
  readonly #columns = new WeakMap<SqlJsStatement, string[]>();
  readonly #keepsBom: boolean;

  constructor(db: SqlJsDatabase, keepsBom = decoderKeepsBom) {
    super();
    this.#db = db;
    this.#keepsBom = keepsBom;
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
      try {
        stmt.bind(params as SqlValue[]);
        while (stmt.step()) {
          const values = stmt.get() as (SqlValue | Uint8Array)[];
          // Column names are cached per statement (DDL drops the statement cache; a count
          // mismatch refreshes them too).
          let columns = this.#columns.get(stmt);
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

  async close(): Promise<void> {
    const db = this.#db;
    if (!db) return;
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
  const engine = new SqlJsEngine(db);
  try {
    // Reading the schema first makes a damaged file fail here, before anything is written.
    engine.allSync('PRAGMA schema_version');
    engine.execSync(
      `PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA cache_size=${-cacheKiB};`,
    );
  } catch (e) {
    await engine.close();
    throw e;
  }
  return engine;
}
