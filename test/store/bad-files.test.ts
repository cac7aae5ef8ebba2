/**
 * Files real machines hand the fs adapter, refused before anything is written: SQLite's own
 * journals beside a database (a live and a crashed WAL, a hot rollback journal, a WAL index of a
 * running program), a zero-byte file, a directory, and every truncation length of a small
 * database. Each case asserts the typed error and that every file in the directory has the same
 * SHA-256 afterwards (and that no file appeared). The cases every adapter shares (foreign and
 * damaged journals, images cut short) are in test/adapters/bad-states.ts.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileAdapter, type FileAdapterOptions } from '../../adapters/fs.js';
import { CorruptDatabaseError, openStore, PersistenceError, SqliteJournalError, StoreError } from '../../src/index.js';
import { digests } from '../helpers/files.js';
import { goSchemaSql, openGoDatabase, tempDir } from '../helpers/go-db.js';

const tmp = tempDir('pa-bad-files-');
afterAll(() => tmp.remove());
let dirs = 0;

/** A new directory of the corpus. */
function newDir(): string {
  const dir = tmp.file(`case-${++dirs}`);
  mkdirSync(dir);
  return dir;
}


/** Opens the store on `path` writable and read-only; both must reject like `check`; no byte in `dir` changes. */
async function expectRefused(path: string, check: (e: unknown, readOnly: boolean) => void, options: Partial<FileAdapterOptions> = {}, modes: readonly boolean[] = [false, true]): Promise<void> {
  const dir = join(path, '..');
  const before = digests(dir);
  for (const readOnly of modes) {
    const outcome = await openStore({ adapter: createFileAdapter({ path, ...options }), readOnly, onWarning: () => undefined }).then(
      async (store) => {
        await store.close();
        return new Error('it opened');
      },
      (e: unknown) => e,
    );
    expect(outcome, `readOnly ${readOnly}`).toBeInstanceOf(StoreError);
    expect((outcome as Error).message).toMatch(/^\[@platform-agent\/store\] /);
    check(outcome, readOnly);
  }
  expect(digests(dir)).toEqual(before);
}

function goDatabase(file: string, tasks: number): Database.Database {
  const db = openGoDatabase(file);
  const insert = db.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES (?, 'pending', 'deploy', '{}', 'U1', ?, ?)");
  for (let i = 0; i < tasks; i++) insert.run(`go-${i}`, i, i);
  return db;
}

describe("SQLite's own journal beside the database", () => {
  it('a live WAL (the Go agent running, its log holding committed writes): SQLITE_JOURNAL, nothing read or written', async () => {
    const dir = newDir();
    const path = join(dir, 'agent.db');
    const go = goDatabase(path, 3);
    try {
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      await expectRefused(path, (e) => {
        expect(e).toBeInstanceOf(SqliteJournalError);
        expect(e).toMatchObject({ code: 'SQLITE_JOURNAL', kind: 'wal', path: `${path}-wal` });
        expect((e as Error).message).toMatch(/write-ahead log .*agent\.db-wal \(\d+ bytes\).*PRAGMA wal_checkpoint\(TRUNCATE\).*Nothing was read or changed/);
      });
      // The Go agent still sees everything, and can go on writing.
      go.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES ('after', 'pending', 'x', '{}', 'U1', 9, 9)").run();
      expect(go.prepare('SELECT count(*) AS n FROM tasks').get()).toEqual({ n: 4 });
    } finally {
      go.close();
    }
  });

  it('a crashed WAL (the log left behind, no index): SQLITE_JOURNAL; once SQLite folds it in, every row is there', async () => {
    const live = join(newDir(), 'agent.db');
    const go = goDatabase(live, 5);
    const dir = newDir();
    const path = join(dir, 'agent.db');
    // What a crash leaves: the file and its log as they are on disk at that moment.
    copyFileSync(live, path);
    copyFileSync(`${live}-wal`, `${path}-wal`);
    go.close();
    await expectRefused(path, (e) => expect(e).toMatchObject({ code: 'SQLITE_JOURNAL', kind: 'wal' }));
    // What the message says to do: open it once with SQLite, which folds the log into the file.
    const sqlite = new Database(path);
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    sqlite.pragma('journal_mode = DELETE');
    sqlite.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const store = await openStore({ adapter: createFileAdapter({ path }), onWarning: () => undefined });
    expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['go-0', 'go-1', 'go-2', 'go-3', 'go-4']);
    await store.close();
  });

  it('a hot rollback journal (a transaction that crashed half-written into the file): SQLITE_JOURNAL; SQLite rolls it back', async () => {
    const live = join(newDir(), 'agent.db');
    const writer = new Database(live);
    writer.exec(goSchemaSql());
    writer.pragma('journal_mode = DELETE');
    writer.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES ('kept', 'pending', 'x', '{}', 'U1', 1, 1)").run();
    // A tiny page cache makes SQLite write changed pages into the file before the commit: a crash
    // then leaves a hot journal holding the pages it must restore.
    writer.pragma('cache_size = 1');
    writer.exec('BEGIN');
    const insert = writer.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES (?, 'pending', 'x', ?, 'U1', 2, 2)");
    for (let i = 0; i < 400; i++) insert.run(`uncommitted-${i}`, JSON.stringify({ pad: 'y'.repeat(300) }));
    const dir = newDir();
    const path = join(dir, 'agent.db');
    copyFileSync(live, path);
    copyFileSync(`${live}-journal`, `${path}-journal`);
    writer.exec('ROLLBACK');
    writer.close();
    expect(statSync(`${path}-journal`).size).toBeGreaterThan(0);
    expect(readFileSync(`${path}-journal`)[0]).not.toBe(0);
    await expectRefused(path, (e) => expect(e).toMatchObject({ code: 'SQLITE_JOURNAL', kind: 'rollback', path: `${path}-journal` }));
    const sqlite = new Database(path); // the first read rolls the journal back
    expect(sqlite.prepare('SELECT id FROM tasks').pluck().all()).toEqual(['kept']);
    sqlite.close();
    expect(existsSync(`${path}-journal`)).toBe(false);
    const store = await openStore({ adapter: createFileAdapter({ path }), onWarning: () => undefined });
    expect((await store.listTasks()).map((t) => t.id)).toEqual(['kept']);
    await store.close();
  });

  it('a WAL index of a running program, its log empty: writing is refused (SQLITE_JOURNAL, shm), reading works', async () => {
    const dir = newDir();
    const path = join(dir, 'agent.db');
    const go = goDatabase(path, 2);
    try {
      go.pragma('wal_checkpoint(TRUNCATE)'); // an idle agent: everything in the file, the log empty
      expect(statSync(`${path}-wal`).size).toBe(0);
      expect(existsSync(`${path}-shm`)).toBe(true);
      await expectRefused(path, (e) => expect(e).toMatchObject({ code: 'SQLITE_JOURNAL', kind: 'shm' }), {}, [false]);
      const reader = await openStore({ adapter: createFileAdapter({ path }), readOnly: true, onWarning: () => undefined });
      expect((await reader.listTasks()).map((t) => t.id).sort()).toEqual(['go-0', 'go-1']);
      await reader.close();
    } finally {
      go.close();
    }
  });
});

describe('files that are no database', () => {
  it("a zero-byte file: CORRUPT (EMPTY) with what to do, also read-only; create: 'if-empty' starts a new database there", async () => {
    const dir = newDir();
    const path = join(dir, 'agent.db');
    writeFileSync(path, '');
    await expectRefused(path, (e) => {
      expect(e).toBeInstanceOf(CorruptDatabaseError);
      expect(e).toMatchObject({ code: 'CORRUPT', reason: 'EMPTY' });
      expect((e as Error).message).toContain("create: 'if-empty'");
    });
    await expectRefused(path, (e) => expect(e).toMatchObject({ reason: 'EMPTY' }), { create: 'never' });
    const store = await openStore({ adapter: createFileAdapter({ path, create: 'if-empty' }), onWarning: () => undefined });
    await store.saveTask({ id: 't1', command: 'deploy', params: {} });
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT id FROM tasks').pluck().all()).toEqual(['t1']);
    db.close();
  });

  it("a missing file is a new database, unless create: 'never' (NOT_FOUND, nothing created)", async () => {
    const dir = newDir();
    const path = join(dir, 'agent.db');
    const error = await openStore({ adapter: createFileAdapter({ path, create: 'never' }), onWarning: () => undefined }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NOT_FOUND' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a directory: PERSISTENCE (EISDIR) saying it is a directory, untouched', async () => {
    const dir = newDir();
    const path = join(dir, 'agent.db');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'x');
    await expectRefused(path, (e) => {
      expect(e).toBeInstanceOf(PersistenceError);
      expect(e).toMatchObject({ reason: 'EISDIR' });
      expect((e as Error).message).toContain('is a directory, not a database file');
    });
    expect(readdirSync(path)).toEqual(['inside']);
  });

  it('a database cut short at every length, and one byte long: CORRUPT (TRUNCATED / TRAILING_BYTES), the file untouched', async () => {
    // A small database: the Go schema with a few rows, in 512-byte pages.
    const source = join(newDir(), 'small.db');
    const db = new Database(source);
    db.pragma('page_size = 512');
    db.exec(goSchemaSql());
    db.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES ('t', 'pending', 'x', '{}', 'U1', 1, 1)").run();
    db.close();
    const full = readFileSync(source);
    expect(full.length % 512).toBe(0);
    const dir = newDir();
    const path = join(dir, 'agent.db');
    const reasons = new Map<string, number>();
    for (let length = 1; length <= full.length + 1; length++) {
      if (length === full.length) continue;
      const bytes = length <= full.length ? full.subarray(0, length) : Buffer.concat([full, Buffer.from([0])]);
      writeFileSync(path, bytes);
      const error = await openStore({ adapter: createFileAdapter({ path }), onWarning: () => undefined }).catch((e: unknown) => e);
      if (!(error instanceof CorruptDatabaseError)) expect.fail(`a ${length}-byte cut of a ${full.length}-byte database was not refused: ${String(error)}`);
      reasons.set(error.reason, (reasons.get(error.reason) ?? 0) + 1);
      if (!readFileSync(path).equals(bytes)) expect.fail(`the ${length}-byte file changed`);
      if (readdirSync(dir).length !== 1) expect.fail(`files appeared beside the ${length}-byte file: ${readdirSync(dir).join(', ')}`);
    }
    expect(Object.fromEntries(reasons)).toEqual({ TRUNCATED: full.length - 1, TRAILING_BYTES: 1 });
    // A read-only open refuses them the same way (a sample: every page boundary and one byte either side).
    for (let length = 512; length < full.length; length += 512) {
      for (const cut of [length - 1, length, length + 1]) {
        writeFileSync(path, full.subarray(0, cut));
        await expectRefused(path, (e) => expect(e).toMatchObject({ reason: 'TRUNCATED' }), {}, [true]);
      }
    }
    // And whole, it opens.
    writeFileSync(path, full);
    const store = await openStore({ adapter: createFileAdapter({ path }), readOnly: true });
    expect((await store.listTasks()).map((t) => t.id)).toEqual(['t']);
    await store.close();
  });
});

describe("another program's SQLite database", () => {
  it('tables, none of the agent\'s, no schema version: CORRUPT (NOT_AGENT_DATABASE) for a writer and a reader, and not a byte written', async () => {
    const dir = newDir();
    const path = join(dir, 'recipes.db');
    const other = new Database(path);
    // A `meta` table of its own (a common name) does not make it the agent's.
    other.exec("CREATE TABLE recipes (name TEXT NOT NULL); CREATE INDEX recipes_name ON recipes(name); INSERT INTO recipes VALUES ('soup'), ('bread'); CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)");
    other.close();
    await expectRefused(path, (e) => {
      expect(e).toBeInstanceOf(CorruptDatabaseError);
      expect((e as CorruptDatabaseError).reason).toBe('NOT_AGENT_DATABASE');
      expect((e as Error).message).toMatch(/not an agent database: it has tables \(meta, recipes\) but none of the agent's/);
    });
  });

  it('an empty SQLite database (no tables) is the store\'s to fill, and the Go agent\'s v1 file without a version row yet is an agent database', async () => {
    const dir = newDir();
    const empty = join(dir, 'empty.db');
    const e = new Database(empty);
    e.exec('CREATE TABLE scratch (x INTEGER); DROP TABLE scratch');
    e.close();
    const store = await openStore({ adapter: createFileAdapter({ path: empty }), onWarning: () => undefined });
    await store.saveTask({ id: 'first', command: 'deploy', params: {} });
    await store.close();
    expect(new Database(empty, { readonly: true }).prepare('SELECT count(*) AS n FROM tasks').get()).toEqual({ n: 1 });
    // The agent's tables with no meta row (as its schema script leaves them before it records a version).
    const partial = join(dir, 'partial.db');
    const p = new Database(partial);
    p.exec(goSchemaSql());
    p.exec("DELETE FROM meta WHERE key = 'schema_version'");
    p.close();
    const adopted = await openStore({ adapter: createFileAdapter({ path: partial }), onWarning: () => undefined });
    expect(await adopted.listTasks()).toEqual([]);
    await adopted.close();
  });
});
