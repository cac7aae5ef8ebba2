/**
 * How the command opens a database file. Reading commands open it read-only (no lock, nothing
 * written), so they work while the agent runs; writing commands take ownership and fail with
 * `LOCKED` (exit 4) when a running store holds it.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createNodeSqliteEngine, nodeSqliteAvailable } from '../engines/node-sqlite.js';
import { createFileAdapter, fileAdapterPaths, holderAlive, journalRecordBytes, parseLock, sqliteJournalMessage, sqliteJournalOf, type LockContent } from '../adapters/fs.js';
import { CHECKPOINT_KEY, checkSqliteFile, createSqlJsEngine, openStore, type CheckpointStamp, type SqlPort, type SqlRow, type SqlValue, readSchemaVersion, SqliteJournalError, type SqlJsEngine, type Store, type StoreWarning } from '../src/index.js';
import { SYNC_PORT, type SyncPort } from '../src/engine.js';
import { refuseForeign } from '../src/migrations.js';
import { CliError, EXIT } from './errors.js';

/** Store warnings (a torn journal tail, a degraded store) and the command's own go here instead of the console. */
export type WarningSink = (warning: StoreWarning | { readonly code: string; readonly message: string }) => void;

/**
 * Refuses a database with SQLite's own journal beside it (a `-wal` with content, a hot `-journal`,
 * or for writers a `-shm` of a program that may run), as the fs adapter does at open: the same
 * rule, for the commands that read or write a database without opening a store (`check`, `restore`).
 */
export function refuseSqliteJournal(path: string, { forWriting = true }: { forWriting?: boolean } = {}): void {
  const found = sqliteJournalOf(fileAdapterPaths(path), forWriting);
  if (found) throw new SqliteJournalError(sqliteJournalMessage(path, found), found);
}

/**
 * Refuses a path that is not an existing regular file (or, with `missingOk`, one that exists and is
 * not a regular file), with the command's own message: the same exit code in every command.
 */
export function requireFile(path: string, what = 'database', { missingOk = false }: { missingOk?: boolean } = {}): void {
  let info;
  try {
    info = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (missingOk) return;
      throw new CliError(EXIT.NOT_FOUND, 'NOT_FOUND', `no ${what} at ${path}`, { cause: e });
    }
    throw e;
  }
  if (!info.isFile()) throw new CliError(EXIT.NOT_FOUND, 'NOT_A_FILE', `${path} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, not a ${what} file`);
}

/**
 * Opens the database read-only: the image and the journal as they are now, replayed in memory.
 * No lock is taken and nothing is written, so it works while the agent writes.
 */
export async function openForReading(path: string, onWarning: WarningSink): Promise<Store> {
  requireFile(path);
  return openStore({ adapter: createFileAdapter({ path }), readOnly: true, onWarning });
}

/**
 * Opens the database for writing (creating it when `create` and there is no file; a zero-byte file
 * is refused as what a failed copy leaves, never taken for a new database): takes ownership, so a running store makes it fail with `LOCKED`, and a SQLite
 * program on the file with `SQLITE_JOURNAL`.
 */
export async function openForWriting(path: string, onWarning: WarningSink, { create = false, clock }: { create?: boolean; clock?: () => number } = {}): Promise<Store> {
  requireFile(path, 'database', { missingOk: create });
  return openStore({ adapter: createFileAdapter({ path, create: create ? 'if-missing' : 'never' }), onWarning, ...(clock ? { clock } : {}) });
}

/** Runs `fn` on the database opened for writing (see {@link openForWriting}), closing it afterwards (a final checkpoint). */
export async function writing<T>(path: string, onWarning: WarningSink, fn: (store: Store) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  const store = await openForWriting(path, onWarning, options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Whether the command can read `path` with node:sqlite (Node 22 and later) instead of loading it
 * into sql.js: real SQLite on the file, which reads only the pages a command needs and also sees
 * what a running Go agent's `-wal` holds. Only where that reads the database whole and leaves no
 * trace: no sql.js journal with writes beside it and no live sql.js owner (their writes are not in
 * the file), no hot rollback journal (only a writer may roll it back). A WAL-mode file with no
 * `-wal`/`-shm` beside it (its agent has stopped) is read as `immutable`, which leaves none behind
 * (a read-only connection otherwise would, and a sql.js writer then refuses the file). Anything
 * else, and every file sql.js would refuse, is read by sql.js, with its messages. `undefined`: not
 * natively; else the engine's options.
 */
export function readsNatively(path: string): { readOnly: true; immutable: boolean } | undefined {
  if (!nodeSqliteAvailable()) return undefined;
  const paths = fileAdapterPaths(path);
  // A journal with records, or one that cannot be read (its errors are sql.js's path to report).
  try {
    if (journalRecordBytes(paths.journal) > 0) return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  if (existsSync(paths.lock) && lockHolder(path)?.stale !== true) return undefined;
  if (sqliteJournalOf(paths, false)?.kind === 'rollback') return undefined;
  const head = new Uint8Array(100);
  let read = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      read = readSync(fd, head, 0, 100, 0);
    } finally {
      closeSync(fd);
    }
    checkSqliteFile(head.subarray(0, read), path, statSync(path).size);
  } catch {
    return undefined;
  }
  const wal = head[18] === 2 || head[19] === 2;
  return { readOnly: true, immutable: wal && !existsSync(paths.sqliteWal) && !existsSync(paths.sqliteShm) };
}

/** Runs `fn` on the database opened read-only (see {@link openForReading}; node:sqlite where {@link readsNatively}), closing it afterwards. */
export async function reading<T>(path: string, onWarning: WarningSink, fn: (store: Store) => Promise<T>): Promise<T> {
  requireFile(path);
  const store = (await nativeStore(path)) ?? (await openForReading(path, onWarning));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A read-only store on node:sqlite where the command can read the file so, at schema v1 or later (an older file is migrated in memory, which only sql.js can). */
export async function nativeStore(path: string): Promise<Store | undefined> {
  const native = readsNatively(path);
  if (!native) return undefined;
  if ((await inspectNatively(path, native, (engine) => readSchemaVersion(engine))) < 1) return undefined;
  return openStore({ engine: createNodeSqliteEngine({ path, ...native }) });
}

/**
 * Refuses another program's database (see `foreignDatabase`) read through node:sqlite, as a
 * store's open over sql.js does: it is not read as an empty agent database.
 */
export async function refuseIfForeign(engine: SqlPort): Promise<void> {
  if ((await readSchemaVersion(engine)) === 0) await refuseForeign(engine);
}

/** Runs `fn` on node:sqlite over the file itself, opened as {@link readsNatively} said, closing it afterwards. */
export async function inspectNatively<T>(path: string, native: { readOnly: true; immutable: boolean }, fn: (engine: SqlPort) => Promise<T>): Promise<T> {
  const engine = createNodeSqliteEngine({ path, ...native });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** The part of node:sqlite `backupNatively` uses. */
interface NodeSqliteBackup {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => { exec(sql: string): void; prepare(sql: string): { get(): Record<string, unknown> | undefined }; close(): void };
  backup?: (source: unknown, destination: string, options?: { rate?: number }) => Promise<number>;
}

/**
 * Copies the database at `path` (opened as {@link readsNatively} said) to `destination`, a new
 * file, with SQLite's online backup (node:sqlite's `backup()`, Node 22.16 and later): pages
 * copied as they are, in one step, so one read transaction (a running agent's commits land before
 * the copy or after it, never in it). The copy keeps a rollback journal, as a plain file does (a
 * WAL-mode source's header would make it WAL). `false`, and nothing written, where this Node has
 * no `backup()`.
 */
export async function backupNatively(path: string, native: { readOnly: true; immutable: boolean }, destination: string): Promise<boolean> {
  const sqlite = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:sqlite') as NodeSqliteBackup | undefined;
  if (!sqlite || typeof sqlite.backup !== 'function') return false;
  const source = new sqlite.DatabaseSync(native.immutable ? `${pathToFileURL(path).href}?immutable=1` : path, { readOnly: true });
  try {
    source.exec('PRAGMA busy_timeout = 5000');
    // -1: every page in one step.
    await sqlite.backup(source, destination, { rate: -1 });
  } finally {
    source.close();
  }
  const copy = new sqlite.DatabaseSync(destination);
  try {
    if (String(copy.prepare('PRAGMA journal_mode').get()?.journal_mode).toLowerCase() === 'wal') copy.exec('PRAGMA journal_mode = DELETE');
  } finally {
    copy.close();
  }
  return true;
}

/**
 * The synchronous reader the core's synchronous helpers (`readImageMeta`) take, over an engine
 * that runs statements synchronously: sql.js's own `allSync`, node:sqlite's through `SYNC_PORT`.
 */
export function syncReader(engine: SqlPort): { allSync(sql: string, params?: readonly SqlValue[]): SqlRow[] } {
  const own = (engine as Partial<SqlJsEngine>).allSync;
  if (typeof own === 'function') return { allSync: own.bind(engine) };
  const port = (engine as { [SYNC_PORT]?: SyncPort })[SYNC_PORT];
  if (!port) throw new Error('this engine runs no statement synchronously');
  return { allSync: (sql, params) => port.all(sql, params) };
}

/**
 * Runs `fn` on SQL over the database as it stands (image and journal), for what the store's API does
 * not have (counts, pragmas): on the file itself through node:sqlite where {@link readsNatively},
 * else on sql.js over a snapshot.
 */
export async function inspecting<T>(path: string, onWarning: WarningSink, fn: (sql: SqlPort) => Promise<T>): Promise<T> {
  requireFile(path);
  const native = readsNatively(path);
  if (native) {
    return inspectNatively(path, native, async (engine) => {
      await refuseIfForeign(engine);
      return fn(engine);
    });
  }
  return withImage(await snapshot(path, onWarning), fn);
}

/** A consistent copy of everything acknowledged so far (image plus journal), as one SQLite file. */
export function snapshot(path: string, onWarning: WarningSink): Promise<Uint8Array> {
  return reading(path, onWarning, (store) => store.exportImage());
}

/** Runs `fn` on a SQLite engine over a copy of `image` (for what the store's API does not have: counts, pragmas), closing it afterwards. */
export async function withImage<T>(image: Uint8Array, fn: (engine: SqlJsEngine) => Promise<T>): Promise<T> {
  const engine = await createSqlJsEngine({ image });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/**
 * The schema version stored in the image file itself (0 when it has none), without the journal and
 * without migrating: what `migrate` would start from.
 */
export async function fileSchemaVersion(path: string): Promise<number> {
  return (await fileImage(path)).schemaVersion;
}

/**
 * What the image file itself says (without the journal, without migrating): its schema version (0
 * when it has none) and the stamp of the checkpoint that wrote it, if any.
 */
export async function fileImage(path: string): Promise<{ schemaVersion: number; checkpoint?: CheckpointStamp }> {
  const facts = async (engine: SqlPort) => {
    const schemaVersion = await readSchemaVersion(engine);
    const checkpoint = schemaVersion > 0 ? checkpointStamp(await engine.all('SELECT value FROM meta WHERE key = ?', [CHECKPOINT_KEY])) : undefined;
    return { schemaVersion, ...(checkpoint ? { checkpoint } : {}) };
  };
  const native = readsNatively(path);
  if (native) return inspectNatively(path, native, facts);
  // The raw file is not the database while SQLite's own journal holds part of it.
  refuseSqliteJournal(path, { forWriting: false });
  let image: Uint8Array;
  try {
    image = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 0 };
    throw e;
  }
  if (image.byteLength === 0) return { schemaVersion: 0 };
  checkSqliteFile(image, path);
  return withImage(new Uint8Array(image), facts);
}

/** An image's checkpoint stamp (its `meta` row's value), when it has a readable one. */
function checkpointStamp(rows: readonly { value?: unknown }[]): CheckpointStamp | undefined {
  try {
    const stamp = JSON.parse(String(rows[0]?.value)) as Partial<CheckpointStamp> | null;
    if (typeof stamp?.at !== 'number' || typeof stamp.exportMs !== 'number' || typeof stamp.journalBytes !== 'number') return undefined;
    return { at: stamp.at, exportMs: stamp.exportMs, journalBytes: stamp.journalBytes, ...(typeof stamp.previousMs === 'number' ? { previousMs: stamp.previousMs } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * Who owns the database now, from its lock file: `undefined` when no store holds it (or the lock
 * does not parse). `stale` when the lock names a process that is gone (the next writer takes it
 * over): the fs adapter's own rule (`holderAlive`), so the command and the store never disagree.
 */
export function lockHolder(path: string): { pid?: number; host?: string; since?: string; stale: boolean } | undefined {
  let content: LockContent | undefined;
  try {
    content = parseLock(readFileSync(fileAdapterPaths(path).lock, 'utf8'));
  } catch {
    return undefined;
  }
  if (!content) return undefined;
  const since = new Date(content.since);
  return {
    pid: content.pid,
    host: content.host,
    ...(Number.isFinite(since.getTime()) ? { since: since.toISOString() } : {}),
    stale: !holderAlive(content),
  };
}

/** The sizes of the image file and of its journal's records, in bytes (0 when a file is missing). */
export function fileSizes(path: string): { imageBytes: number; journalBytes: number } {
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  let journalBytes = 0;
  try {
    journalBytes = journalRecordBytes(fileAdapterPaths(path).journal);
  } catch {
    // Unreadable: reported as none here; the commands that read the journal say why.
  }
  return { imageBytes: size(path), journalBytes };
}

/** The row count of each table of schema v1. */
export const TABLES = ['tasks', 'pending_approvals', 'session_contexts', 'thread_sessions', 'dead_letters', 'audit_log'] as const;

/** Rows per table on `engine`. */
export async function rowCounts(engine: SqlPort): Promise<Record<(typeof TABLES)[number], number>> {
  const counts = {} as Record<(typeof TABLES)[number], number>;
  for (const table of TABLES) counts[table] = Number((await engine.all(`SELECT count(*) AS n FROM ${table}`))[0]?.n ?? 0);
  return counts;
}
