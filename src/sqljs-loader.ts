/**
 * Loading sql.js and its WebAssembly binary, once per JavaScript realm: where the binary comes from
 * (a URL, a path in Node, bytes, a compiled module), the checks that refuse another build's binary,
 * and the runtime quirks (workerd's missing location, sql.js's text decoder).
 */
import initSqlJs from 'sql.js';
import { UnsupportedError, ValidationError } from './errors.js';
import type { SqlValue } from './sql-port.js';

/**
 * Where the SQLite WebAssembly binary comes from.
 * - omitted: in Node, the `sql-wasm.wasm` of the installed sql.js package;
 * - a `string` or `URL`: fetched from there (browsers, bundlers: use your bundler's asset URL);
 * - bytes (`Uint8Array` / `ArrayBuffer`): compiled from memory;
 * - a compiled `WebAssembly.Module`: instantiated directly (edge runtimes that import `.wasm`).
 */
export type WasmSource = string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module;

/** The subset of sql.js the engine uses (declared here so the rest of the core never sees sql.js). */
export interface SqlJsStatement {
  bind(values: SqlValue[]): boolean;
  step(): boolean;
  get(): SqlValue[];
  getBlob(index: number): Uint8Array;
  getColumnNames(): string[];
  reset(): boolean;
  free(): boolean;
}
/** A sql.js database, as far as the engine uses it. */
export interface SqlJsDatabase {
  exec(sql: string): { columns: string[]; values: SqlValue[][] }[];
  prepare(sql: string): SqlJsStatement;
  run(sql: string, params?: SqlValue[]): unknown;
  getRowsModified(): number;
  export(): Uint8Array;
  close(): void;
  /** The `sqlite3*` handle (sql.js keeps it in this property; the export in steps needs it). */
  readonly db?: number;
}
/** What sql.js's loader resolves with. */
export interface SqlJsStatic {
  Database: new (data?: Uint8Array) => SqlJsDatabase;
  /**
   * SQLite's online backup API and the helpers to call it (sql.js exports them for its own
   * `export()`; the engine's export in steps uses them, and does without where they are missing).
   */
  _sqlite3_backup_init?: (destination: number, destinationName: number, source: number, sourceName: number) => number;
  _sqlite3_backup_step?: (backup: number, pages: number) => number;
  _sqlite3_backup_finish?: (backup: number) => number;
  _sqlite3_errmsg?: (db: number) => number;
  stringToNewUTF8?: (text: string) => number;
  _free?: (pointer: number) => void;
  UTF8ToString?: (pointer: number) => string;
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


/** Whether the loaded sql.js's text decoder keeps a leading U+FEFF (false when something else initialised it). */
export function sqlJsKeepsBom(): boolean {
  return decoderKeepsBom;
}

/** An error's message, or the thrown value as text. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
