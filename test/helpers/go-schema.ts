/**
 * The Go store's schema, the repository's root and temporary directories: the part of the Go-file
 * helpers that needs no native SQLite binding, so suites that run under another Node (the node:sqlite
 * engine's, on Node 22) can use it. `go-db.ts` re-exports all of it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is `test/helpers/go-schema.ts`). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The Go store's schema v1: a verbatim copy of the shared reference
 * (`../shared/reference/go-store-schema-v1.sql`), kept in the repository so the tests need nothing
 * outside it.
 */
export const goSchemaPath = path.resolve(repoRoot, 'test/fixtures/go-store-schema-v1.sql');

/** The Go store's schema v1 script, exactly as the shared reference holds it. */
export function goSchemaSql(): string {
  return readFileSync(goSchemaPath, 'utf8');
}

/** A temporary directory; `remove()` deletes it with everything in it. */
export interface TempDir {
  /** The directory's absolute path. */
  readonly dir: string;
  /** A path inside the directory. */
  file(name: string): string;
  /** Deletes the directory. */
  remove(): void;
}

/** Creates a fresh temporary directory. */
export function tempDir(prefix = 'pa-store-'): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    file: (name) => path.join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The tables of schema v1 (and SQLite's own `sqlite_sequence`, which AUTOINCREMENT creates). */
export const GO_TABLES = [
  'audit_log',
  'dead_letters',
  'meta',
  'pending_approvals',
  'session_contexts',
  'sqlite_sequence',
  'tasks',
  'thread_sessions',
] as const;

/** A row as a SQLite binding returns it. */
export type Row = Record<string, unknown>;

/** What reading a database needs of a SQLite binding (better-sqlite3, node:sqlite's DatabaseSync). */
export interface QueryingDatabase {
  prepare(sql: string): { all(...params: unknown[]): unknown[] };
}

// Plain objects whatever the binding (node:sqlite's rows have no prototype), so rows compare as equal.
const rows = (db: QueryingDatabase, sql: string): Row[] => db.prepare(sql).all().map((r) => ({ ...(r as Row) }));

/** `SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name` of an open database. */
export function sqliteMaster(db: QueryingDatabase): Row[] {
  return rows(db, 'SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name');
}

/** Every row of every table, in rowid order: the whole content of a database. */
export function dumpTables(db: QueryingDatabase): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const table of GO_TABLES) {
    // meta by key: the Go schema script's INSERT OR REPLACE of schema_version gives it a new rowid.
    out[table] = rows(db, `SELECT * FROM ${table} ORDER BY ${table === 'meta' ? 'key' : 'rowid'}`);
  }
  return out;
}

/** Reads a file's bytes as a plain Uint8Array (not a Buffer, whose `slice` does not copy). */
export function readBytes(file: string): Uint8Array {
  const buffer = readFileSync(file);
  return new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
}

/**
 * What schemas v2 and v3 add beside v1's objects (the task engine's tables, their indices, the
 * triggers on `tasks`, and v3's claim trigger on `task_queue`). The schema identity test checks this
 * list against what the migrations create.
 */
export const STORE_OBJECTS = [
  'idx_task_history_at',
  'idx_task_history_task',
  'idx_task_idempotency_expires',
  'idx_task_queue_due',
  'idx_task_queue_lease',
  'idx_task_queue_op',
  'pa_queue_claimed',
  'pa_tasks_deleted',
  'pa_tasks_saved_history',
  'pa_tasks_saved_queue',
  'pa_tasks_status',
  'sqlite_autoindex_task_idempotency_1',
  'sqlite_autoindex_task_queue_1',
  'task_history',
  'task_idempotency',
  'task_queue',
] as const;

/** `sqliteMaster` without what schemas v2 and v3 add: what a v1 file (the Go agent's) has. */
export function v1Master(db: QueryingDatabase): Row[] {
  return sqliteMaster(db).filter((row) => !(STORE_OBJECTS as readonly unknown[]).includes(row.name));
}

/** `content` (a `dumpTables` result) as it reads with `meta.schema_version` = `version`. */
export function atSchemaVersion(content: Record<string, Row[]>, version: string): Record<string, Row[]> {
  return { ...content, meta: (content.meta ?? []).map((row) => (row.key === 'schema_version' ? { ...row, value: version } : row)) };
}
