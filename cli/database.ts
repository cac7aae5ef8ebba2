/**
 * How the command opens a database file. Reading commands open it read-only (no lock, nothing
 * written), so they work while the agent runs; writing commands take ownership and fail with
 * `LOCKED` (exit 4) when a running store holds it.
 */
import { readFileSync, statSync } from 'node:fs';
import { createFileAdapter, fileAdapterPaths } from '../adapters/fs.js';
import { createSqlJsEngine, openStore, readSchemaVersion, type SqlJsEngine, type Store, type StoreWarning } from '../src/index.js';
import { CliError, EXIT } from './errors.js';

/** Store warnings (a torn journal tail, a degraded store) go here instead of the console. */
export type WarningSink = (warning: StoreWarning) => void;

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
  return openStore({ adapter: createFileAdapter({ path }), readOnly: true, onWarning });
}

/**
 * Opens the database for writing (creating it when `create`): takes ownership, so a running store
 * makes it fail with `LOCKED`.
 */
export async function openForWriting(path: string, onWarning: WarningSink, { create = false, clock }: { create?: boolean; clock?: () => number } = {}): Promise<Store> {
  if (!create) requireFile(path);
  return openStore({ adapter: createFileAdapter({ path }), onWarning, ...(clock ? { clock } : {}) });
}

/** A consistent copy of everything acknowledged so far (image plus journal), as one SQLite file. */
export async function snapshot(path: string, onWarning: WarningSink): Promise<Uint8Array> {
  const store = await openForReading(path, onWarning);
  try {
    return await store.exportImage();
  } finally {
    await store.close();
  }
}

/** A SQLite engine on a copy of `image`, for the queries the store's API does not have (counts, pragmas). */
export function inspect(image: Uint8Array): Promise<SqlJsEngine> {
  return createSqlJsEngine({ image });
}

/** Runs `fn` on an engine over `image`, closing it afterwards. */
export async function withImage<T>(image: Uint8Array, fn: (engine: SqlJsEngine) => Promise<T>): Promise<T> {
  const engine = await inspect(image);
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

/** Who owns the database now, from its lock file: `undefined` when no store holds it. */
export function lockHolder(path: string): { pid?: number; host?: string; since?: string } | undefined {
  try {
    const parsed = JSON.parse(readFileSync(fileAdapterPaths(path).lock, 'utf8')) as { pid?: unknown; host?: unknown; since?: unknown };
    return {
      ...(typeof parsed.pid === 'number' ? { pid: parsed.pid } : {}),
      ...(typeof parsed.host === 'string' ? { host: parsed.host } : {}),
      ...(typeof parsed.since === 'string' || typeof parsed.since === 'number' ? { since: new Date(parsed.since).toISOString() } : {}),
    };
  } catch {
    return undefined;
  }
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
