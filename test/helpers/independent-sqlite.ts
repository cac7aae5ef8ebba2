/**
 * Reading a database file with a SQLite build independent of sql.js and better-sqlite3: the
 * `sqlite3` command-line shell, or else python3's `sqlite3` module (the system's libsqlite3).
 */
import { execFileSync } from 'node:child_process';

/** One independent SQLite reader. */
export interface IndependentReader {
  /** Which program reads: `sqlite3` (the shell) or `python3` (its sqlite3 module). */
  readonly name: 'sqlite3' | 'python3';
  /** Runs one query on `file` and returns its rows as objects keyed by column name. */
  query(file: string, sql: string): Record<string, unknown>[];
}

function runs(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const sqlite3Shell: IndependentReader = {
  name: 'sqlite3',
  query(file, sql) {
    const out = execFileSync('sqlite3', ['-bail', '-json', file, sql], { encoding: 'utf8', timeout: 30_000 });
    // The shell prints nothing at all (not `[]`) for a query without rows.
    return out.trim() === '' ? [] : (JSON.parse(out) as Record<string, unknown>[]);
  },
};

const PYTHON_QUERY = [
  'import json, sqlite3, sys',
  'con = sqlite3.connect(sys.argv[1])',
  'cur = con.execute(sys.argv[2])',
  'cols = [d[0] for d in cur.description]',
  'print(json.dumps([dict(zip(cols, r)) for r in cur.fetchall()]))',
  'con.close()',
].join('\n');

const python3Module: IndependentReader = {
  name: 'python3',
  query(file, sql) {
    const out = execFileSync('python3', ['-c', PYTHON_QUERY, file, sql], { encoding: 'utf8', timeout: 30_000 });
    return JSON.parse(out) as Record<string, unknown>[];
  },
};

/**
 * The independent readers this machine has: the `sqlite3` shell when it is on PATH, python3's
 * sqlite3 module when python3 is. Throws when there is neither, so a test using it fails rather
 * than silently checking nothing.
 */
export function independentReaders(): IndependentReader[] {
  const readers: IndependentReader[] = [];
  if (runs('sqlite3', ['-version'])) readers.push(sqlite3Shell);
  if (runs('python3', ['-c', 'import sqlite3'])) readers.push(python3Module);
  if (readers.length === 0) {
    throw new Error('neither the sqlite3 shell nor python3 (with its sqlite3 module) is available: install one of them');
  }
  return readers;
}
