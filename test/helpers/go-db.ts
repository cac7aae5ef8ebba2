/**
 * Databases built the way the Go agent builds `agent.db`: better-sqlite3 (a native SQLite, like the
 * Go store's modernc.org/sqlite) on a real file, the shared schema script, WAL mode.
 */
import Database from 'better-sqlite3';
import { goSchemaSql } from './go-schema.js';

// Re-exported: what needs no better-sqlite3 lives in go-schema.ts (the Node 22 suites import it).
export { atSchemaVersion, dumpTables, GO_TABLES, goSchemaPath, goSchemaSql, readBytes, repoRoot, sqliteMaster, tempDir, v1Master, STORE_OBJECTS, type QueryingDatabase, type Row, type TempDir } from './go-schema.js';

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
