/**
 * How the command opens a database file. Reading commands open it read-only (no lock, nothing
 * written), so they work while the agent runs; writing commands take ownership and fail with
 * `LOCKED` (exit 4) when a running store holds it.
 */
import { readFileSync, statSync } from 'node:fs';
import { createFileAdapter, fileAdapterPaths, holderAlive, parseLock, sqliteJournalMessage, sqliteJournalOf, type LockContent } from '../adapters/fs.js';
import { checkSqliteFile, createSqlJsEngine, openStore, readSchemaVersion, SqliteJournalError, type SqlJsEngine, type Store, type StoreWarning } from '../src/index.js';
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

/** Runs `fn` on the database opened read-only (see {@link openForReading}), closing it afterwards. */
export async function reading<T>(path: string, onWarning: WarningSink, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openForReading(path, onWarning);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
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
  // The raw file is not the database while SQLite's own journal holds part of it.
  refuseSqliteJournal(path, { forWriting: false });
  let image: Uint8Array;
  try {
    image = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  if (image.byteLength === 0) return 0;
  checkSqliteFile(image, path);
  return withImage(new Uint8Array(image), (engine) => readSchemaVersion(engine));
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

/** The sizes of the image file and of its journal, in bytes (0 when a file is missing). */
export function fileSizes(path: string): { imageBytes: number; journalBytes: number } {
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  };
  return { imageBytes: size(path), journalBytes: size(fileAdapterPaths(path).journal) };
}

/** The row count of each table of schema v1. */
export const TABLES = ['tasks', 'pending_approvals', 'session_contexts', 'thread_sessions', 'dead_letters', 'audit_log'] as const;

/** Rows per table on `engine`. */
export async function rowCounts(engine: SqlJsEngine): Promise<Record<(typeof TABLES)[number], number>> {
  const counts = {} as Record<(typeof TABLES)[number], number>;
  for (const table of TABLES) counts[table] = Number((await engine.all(`SELECT count(*) AS n FROM ${table}`))[0]?.n ?? 0);
  return counts;
}
