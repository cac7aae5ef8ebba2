/**
 * How the command opens a database file. Reading commands open it read-only (no lock, nothing
 * written), so they work while the agent runs; writing commands take ownership and fail with
 * `LOCKED` (exit 4) when a running store holds it.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { createFileAdapter, fileAdapterPaths } from '../adapters/fs.js';
import { createSqlJsEngine, openStore, readSchemaVersion, type SqlJsEngine, type Store, type StoreWarning } from '../src/index.js';
import { CliError, EXIT } from './errors.js';

/** Store warnings (a torn journal tail, a degraded store) and the command's own go here instead of the console. */
export type WarningSink = (warning: StoreWarning | { readonly code: string; readonly message: string }) => void;

/**
 * What SQLite itself keeps beside a database it has open in WAL mode (the Go agent does): committed
 * pages in `-wal` that the file does not hold yet. This store reads only the file, so such a
 * database must not be written here (the log would later be replayed onto the new image and
 * corrupt it), and reading it misses the log's content.
 */
function sqliteSidecars(path: string): string | undefined {
  const size = (file: string) => {
    try {
      return statSync(file).size;
    } catch {
      return undefined;
    }
  };
  const wal = size(`${path}-wal`);
  if (wal !== undefined && wal > 0) return `${path}-wal (${wal} bytes)`;
  if (size(`${path}-shm`) !== undefined) return `${path}-shm`;
  return undefined;
}

/** Refuses to write a database that a SQLite program (the Go agent, the sqlite3 shell) has open in WAL mode. */
export function refuseSqliteWal(path: string): void {
  const found = sqliteSidecars(path);
  if (found === undefined) return;
  throw new CliError(
    EXIT.LOCKED,
    'SQLITE_WAL',
    `${path} has SQLite's write-ahead log beside it (${found}): a SQLite program (the Go agent, the sqlite3 shell) has it open, or crashed with it open. Close that program (or run sqlite3 ${path} "PRAGMA wal_checkpoint(TRUNCATE)" once it is closed) first; nothing was changed`,
  );
}

/** Refuses a path that is not an existing regular file, with the command's own message. */
export function requireFile(path: string, what = 'database'): void {
  let info;
  try {
    info = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(EXIT.NOT_FOUND, 'NOT_FOUND', `no ${what} at ${path}`, { cause: e });
    throw e;
  }
  if (!info.isFile()) throw new CliError(EXIT.NOT_FOUND, 'NOT_FOUND', `${path} is not a file`);
}

/**
 * Opens the database read-only: the image and the journal as they are now, replayed in memory.
 * No lock is taken and nothing is written, so it works while the agent writes.
 */
export async function openForReading(path: string, onWarning: WarningSink): Promise<Store> {
  requireFile(path);
  const found = sqliteSidecars(path);
  if (found !== undefined) onWarning({ code: 'SQLITE_WAL', message: `${found} is beside ${path}: a SQLite program has it open in WAL mode; what its log holds and the file does not yet is not shown` });
  return openStore({ adapter: createFileAdapter({ path }), readOnly: true, onWarning });
}

/**
 * Opens the database for writing (creating it when `create`): takes ownership, so a running store
 * makes it fail with `LOCKED`.
 */
export async function openForWriting(path: string, onWarning: WarningSink, { create = false, clock }: { create?: boolean; clock?: () => number } = {}): Promise<Store> {
  if (!create) requireFile(path);
  refuseSqliteWal(path);
  return openStore({ adapter: createFileAdapter({ path }), onWarning, ...(clock ? { clock } : {}) });
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
  let image: Uint8Array;
  try {
    image = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  if (image.byteLength === 0) return 0;
  return withImage(new Uint8Array(image), (engine) => readSchemaVersion(engine));
}

/**
 * Who owns the database now, from its lock file: `undefined` when no store holds it. `stale` when
 * the lock names a process on this host that is gone (the next writer takes it over).
 */
export function lockHolder(path: string): { pid?: number; host?: string; since?: string; stale: boolean } | undefined {
  let parsed: { pid?: unknown; host?: unknown; since?: unknown };
  try {
    parsed = JSON.parse(readFileSync(fileAdapterPaths(path).lock, 'utf8')) as typeof parsed;
  } catch {
    return undefined;
  }
  const pid = typeof parsed.pid === 'number' && Number.isSafeInteger(parsed.pid) && parsed.pid > 0 ? parsed.pid : undefined;
  const host = typeof parsed.host === 'string' ? parsed.host : undefined;
  let stale = false;
  if (pid !== undefined && host === hostname()) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      stale = (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  const since = typeof parsed.since === 'string' || typeof parsed.since === 'number' ? new Date(parsed.since) : undefined;
  return {
    ...(pid !== undefined ? { pid } : {}),
    ...(host !== undefined ? { host } : {}),
    ...(since && Number.isFinite(since.getTime()) ? { since: since.toISOString() } : {}),
    stale,
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
