/**
 * node:sqlite in the Node 22 suites: the subset of its API they use, declared here (the project's
 * @types/node is Node 20's, which has none), and the Go agent played by it (WAL, busy timeout,
 * foreign keys, the shared schema script), as better-sqlite3 plays it in the Node 20 suite.
 */
import { goSchemaSql } from '../helpers/go-schema.js';

/** The part of `StatementSync` the tests use. */
export interface StatementSyncLike {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  all(...params: unknown[]): Record<string, unknown>[];
  get(...params: unknown[]): Record<string, unknown> | undefined;
}

/** The part of `DatabaseSync` the tests use. */
export interface DatabaseSyncLike {
  exec(sql: string): void;
  prepare(sql: string): StatementSyncLike;
  close(): void;
}

const sqlite = process.getBuiltinModule('node:sqlite') as { DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => DatabaseSyncLike } | undefined;
if (!sqlite) throw new Error(`the node:sqlite suites need Node 22.13 or later (this is ${process.version}): run them with npm run test:node22`);

/** node:sqlite's `DatabaseSync`. */
export const DatabaseSync = sqlite.DatabaseSync;

/** Opens (creating) `file` as the Go store opens `agent.db`: WAL, busy timeout, foreign keys, then the schema v1 script. */
export function openGoDatabaseSync(file: string): DatabaseSyncLike {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON');
  db.exec(goSchemaSql());
  return db;
}

/** `PRAGMA integrity_check`, its rows joined (`ok` for a sound database). */
export function integrity(db: DatabaseSyncLike): string {
  return db
    .prepare('PRAGMA integrity_check')
    .all()
    .map((r) => String(r.integrity_check))
    .join('; ');
}

/** One value of a one-row query. */
export function scalar(db: DatabaseSyncLike, sql: string, ...params: unknown[]): unknown {
  const row = db.prepare(sql).get(...params);
  return row === undefined ? undefined : Object.values(row)[0];
}
