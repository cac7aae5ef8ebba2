/**
 * Databases built the way the Go agent builds `agent.db`: better-sqlite3 (a native SQLite, like the
 * Go store's modernc.org/sqlite) on a real file, the shared schema script, WAL mode.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is `test/helpers/go-db.ts`). */
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

/**
 * Opens (creating) `file` the way the Go store opens `agent.db`: WAL, busy timeout, foreign keys,
 * then the whole schema v1 script (the Go migration runs it on every open).
 */
export function openGoDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.exec(goSchemaSql());
  return db;
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

/** A row as better-sqlite3 returns it. */
export type Row = Record<string, unknown>;

/** `SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name` of an open database. */
export function sqliteMaster(db: Database.Database): Row[] {
  return db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name').all() as Row[];
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

/** Every row of every table, in rowid order: the whole content of a database. */
export function dumpTables(db: Database.Database): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  for (const table of GO_TABLES) {
    // meta by key: the Go schema script's INSERT OR REPLACE of schema_version gives it a new rowid.
    out[table] = db.prepare(`SELECT * FROM ${table} ORDER BY ${table === 'meta' ? 'key' : 'rowid'}`).all() as Row[];
  }
  return out;
}

/** Reads a file's bytes as a plain Uint8Array (not a Buffer, whose `slice` does not copy). */
export function readBytes(file: string): Uint8Array {
  const buffer = readFileSync(file);
  return new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
}
