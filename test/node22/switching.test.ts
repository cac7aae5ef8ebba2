/**
 * Switching between the engines never loses data, and the node:sqlite engine's own rules: a file a
 * sql.js store holds or left with a journal is refused (and the way out works), a sql.js store
 * refuses a file a node:sqlite store has open, readOnly refuses every write, SQLite's busy timeout
 * becomes LOCKED, and files that are not databases are refused untouched. Real files, real child
 * processes (a sql.js store killed with SIGKILL, the sqlite3 shell holding SQLite's write lock).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFileAdapter, fileAdapterPaths } from '../../adapters/fs.js';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { LockError, ReadOnlyError, SCHEMA_VERSION, StoreError, UnsupportedError, openStore, type Store } from '../../src/index.js';
import { ensureBuilt } from '../crash/built.js';
import { digests } from '../helpers/files.js';
import { repoRoot, tempDir, type TempDir } from '../helpers/go-schema.js';
import { DatabaseSync, integrity, openGoDatabaseSync, scalar } from './sqlite.js';

let tmp: TempDir;
let n = 0;
const opened: Store[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  tmp = tempDir('pa-node22-switch-');
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => tmp.remove());

/** A new directory for one test's database; returns the database's path. */
function newDb(): { dir: string; path: string } {
  const dir = tmp.file(`case-${n++}`);
  mkdirSync(dir);
  return { dir, path: join(dir, 'agent.db') };
}

async function nodeStore(path: string, options: { readOnly?: boolean; busyTimeoutMs?: number } = {}): Promise<Store> {
  const store = await openStore({ engine: createNodeSqliteEngine({ path, ...options }) });
  opened.push(store);
  return store;
}

async function sqljsStore(path: string, readOnly = false): Promise<Store> {
  const store = await openStore({ adapter: createFileAdapter({ path }), readOnly, onWarning: () => undefined });
  opened.push(store);
  return store;
}

/** What `promise` rejected with (fails when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

/** Starts `command`, resolves once it printed `line`. */
function started(command: string, args: string[], input: string | undefined, line: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.split('\n').includes(line)) resolve(child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`${command} ended (code ${code}, signal ${signal}) before printing ${line}: ${err}`)));
    if (input !== undefined) child.stdin.write(input);
  });
}

/** Kills `child` with SIGKILL and waits until it is gone. */
function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A sql.js store that wrote `count` durable tasks to `path` and was then killed with SIGKILL. */
async function crashedSqlJsStore(path: string, count: number): Promise<void> {
  const child = await started(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/node22/sqljs-writer.ts'), path, String(count)], undefined, 'written');
  await killed(child);
}

describe('a file a sql.js store holds or left unfinished', () => {
  it('with a journal of acknowledged writes (the store was killed) is refused with UNSUPPORTED saying how, changing nothing; after agent-store checkpoint it opens with every write', async () => {
    const { dir, path } = newDb();
    await crashedSqlJsStore(path, 20);
    const files = fileAdapterPaths(path);
    expect(existsSync(files.journal) && existsSync(files.lock)).toBe(true);
    const before = digests(dir);
    const error = await rejection(nodeStore(path));
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(error.message).toContain(`agent-store checkpoint ${path}`);
    expect(error.message).toContain('createFileAdapter');
    expect(digests(dir)).toEqual(before); // no -wal, no -shm, not a byte changed

    // The way the message names: fold the journal in (the dead store's lock is taken over).
    ensureBuilt();
    execFileSync(process.execPath, [join(repoRoot, 'dist/cli/agent-store.js'), 'checkpoint', path], { stdio: 'pipe' });
    const store = await nodeStore(path);
    expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `sqljs-${i}`).sort());
  });

  it('opened once with the fs adapter and closed, the same file opens with every write', async () => {
    const { path } = newDb();
    await crashedSqlJsStore(path, 5);
    await rejection(nodeStore(path));
    const sqljs = await sqljsStore(path);
    await sqljs.close();
    const store = await nodeStore(path);
    expect(await store.listTasks()).toHaveLength(5);
  });

  it('owned by a live sql.js store is refused with LOCKED naming its process, before SQLite sees the file; once it closes, the file opens', async () => {
    const { dir, path } = newDb();
    const sqljs = await sqljsStore(path);
    await sqljs.saveTask({ id: 'from-sqljs', command: 'c', params: {} });
    await sqljs.checkpoint(); // the journal is empty: the lock alone keeps the engine out
    const before = digests(dir);
    for (const readOnly of [false, true]) {
      const error = await rejection(nodeStore(path, { readOnly }));
      expect(error).toBeInstanceOf(LockError);
      expect((error as LockError).holder).toMatchObject({ pid: process.pid });
      expect(error.message).toMatch(/sql\.js store/);
    }
    expect(digests(dir)).toEqual(before);
    await sqljs.close();
    const store = await nodeStore(path);
    expect((await store.getTask('from-sqljs'))?.id).toBe('from-sqljs');
  });

  it('with a lock left by a process that died and an empty journal opens (the dead lock keeps nothing shut)', async () => {
    const { path } = newDb();
    const sqljs = await sqljsStore(path);
    await sqljs.saveTask({ id: 't', command: 'c', params: {} });
    await sqljs.close();
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = await new Promise<number>((resolve) => dead.on('exit', () => resolve(dead.pid as number)));
    writeFileSync(fileAdapterPaths(path).lock, JSON.stringify({ pid, host: (await import('node:os')).hostname(), token: 'x', since: new Date().toISOString() }));
    const store = await nodeStore(path);
    expect((await store.getTask('t'))?.id).toBe('t');
  });

  it('with a lock file that does not parse is refused with LOCKED (a store may be writing it)', async () => {
    const { path } = newDb();
    writeFileSync(fileAdapterPaths(path).lock, '{"pid":');
    const error = await rejection(nodeStore(path));
    expect(error.code).toBe('LOCKED');
    expect(existsSync(path)).toBe(false);
  });

  it('for a new database too, the engine’s -shm is there from its open (before any write), so a sql.js store opening next refuses to write', async () => {
    const { path } = newDb();
    const engine = createNodeSqliteEngine({ path });
    expect(await engine.all('SELECT 1 AS one')).toEqual([{ one: 1 }]); // opened a new file; nothing written through it
    expect(existsSync(`${path}-shm`)).toBe(true);
    expect(await rejection(sqljsStore(path))).toMatchObject({ code: 'SQLITE_JOURNAL', kind: 'shm' });
    await engine.close();
    const sqljs = await sqljsStore(path); // closed: SQLite removed its -wal and -shm
    expect(await sqljs.listTasks()).toEqual([]);
  });
});

describe('a sql.js store on a file a node:sqlite store has open', () => {
  it('refuses to write it (SQLite’s -shm), a reader refuses its -wal with content; once it closes, sql.js opens it with every write', async () => {
    const { path } = newDb();
    const store = await nodeStore(path);
    await store.saveTask({ id: 'from-node-sqlite', command: 'c', params: {} });
    const writer = await rejection(sqljsStore(path));
    expect(writer).toMatchObject({ code: 'SQLITE_JOURNAL' });
    expect(['shm', 'wal']).toContain((writer as unknown as { kind: string }).kind);
    const reader = await rejection(sqljsStore(path, true));
    expect(reader).toMatchObject({ code: 'SQLITE_JOURNAL', kind: 'wal' });
    await store.close();
    const sqljs = await sqljsStore(path);
    expect((await sqljs.getTask('from-node-sqlite'))?.id).toBe('from-node-sqlite');
    await sqljs.saveTask({ id: 'back-on-sqljs', command: 'c', params: {} });
    await sqljs.close();
    const again = await nodeStore(path);
    expect((await again.listTasks()).map((t) => t.id).sort()).toEqual(['back-on-sqljs', 'from-node-sqlite']);
  });
});

describe('readOnly', () => {
  it('reads, sees another connection’s later writes, and refuses every write with READ_ONLY, changing nothing', async () => {
    const { path } = newDb();
    const go = openGoDatabaseSync(path);
    go.prepare("INSERT INTO audit_log (user_id, action, resource, result, details, created_at) VALUES ('U1', 'a', NULL, 'ok', NULL, 1)").run();
    const store = await nodeStore(path, { readOnly: true });
    expect(store.readOnly).toBe(true);
    expect(store.health().state).toBe('read-only');
    expect(await store.listAudit()).toHaveLength(1);
    go.prepare("INSERT INTO audit_log (user_id, action, resource, result, details, created_at) VALUES ('U2', 'b', NULL, 'ok', NULL, 2)").run();
    expect((await store.listAudit()).map((e) => e.userId)).toEqual(['U2', 'U1']);
    const writes: [string, () => Promise<unknown>][] = [
      ['saveTask', () => store.saveTask({ id: 't', command: 'c', params: {} })],
      ['appendAudit', () => store.appendAudit({ userId: 'U', action: 'a', result: 'r' })],
      ['deleteApproval (of nothing)', () => store.deleteApproval('none')],
      ['runRetention', () => store.runRetention()],
      ['transaction', () => store.transaction((tx) => tx.saveTask({ id: 'u', command: 'c', params: {} }))],
    ];
    for (const [what, write] of writes) {
      const error = await rejection(write());
      expect(error, what).toBeInstanceOf(ReadOnlyError);
      expect(error.code, what).toBe('READ_ONLY');
    }
    expect(scalar(go, 'SELECT count(*) FROM audit_log')).toBe(2);
    expect(scalar(go, 'SELECT count(*) FROM tasks')).toBe(0);
    const image = await store.exportImage();
    const copy = join(tmp.dir, `ro-export-${n++}.db`);
    writeFileSync(copy, image);
    const exported = new DatabaseSync(copy, { readOnly: true });
    expect(scalar(exported, 'SELECT count(*) FROM audit_log')).toBe(2);
    expect(integrity(exported)).toBe('ok');
    exported.close();
    go.close();
  });

  it('refuses a missing file with NOT_FOUND and creates nothing', async () => {
    const { dir, path } = newDb();
    expect(await rejection(nodeStore(path, { readOnly: true }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(digests(dir)).toEqual({});
  });
});

describe("SQLite's busy timeout", () => {
  it('a write while the sqlite3 shell holds the write lock fails with LOCKED after the timeout and writes nothing; a transaction too, before its function runs; once released, both succeed', async () => {
    const { path } = newDb();
    const store = await nodeStore(path, { busyTimeoutMs: 100 });
    await store.saveTask({ id: 'before', command: 'c', params: {} });
    const shell = await started('sqlite3', [path], "BEGIN IMMEDIATE;\nSELECT 'held';\n", 'held');
    const error = await rejection(store.saveTask({ id: 'blocked', command: 'c', params: {} }));
    expect(error).toBeInstanceOf(LockError);
    expect((error as LockError).holder.description).toMatch(/busy timeout \(100 ms\)/);
    let ran = false;
    const inTx = await rejection(
      store.transaction(async (tx) => {
        ran = true;
        await tx.saveTask({ id: 'blocked-tx', command: 'c', params: {} });
      }),
    );
    expect(inTx.code).toBe('LOCKED');
    expect(ran).toBe(false);
    expect((await rejection(store.runRetention())).code).toBe('LOCKED'); // an atomic batch
    // Reads go on while another connection writes (WAL).
    expect((await store.listTasks()).map((t) => t.id)).toEqual(['before']);
    shell.stdin?.end('ROLLBACK;\n');
    await new Promise((resolve) => shell.on('exit', resolve));
    await store.saveTask({ id: 'after', command: 'c', params: {} });
    await store.transaction((tx) => tx.saveTask({ id: 'after-tx', command: 'c', params: {} }));
    expect((await store.listTasks()).map((t) => t.id).sort()).toEqual(['after', 'after-tx', 'before']);
  });

  it('two node:sqlite stores on one file: one holding a transaction makes the other’s write LOCKED; both see each other’s commits', async () => {
    const { path } = newDb();
    const a = await nodeStore(path, { busyTimeoutMs: 50 });
    const b = await nodeStore(path, { busyTimeoutMs: 50 });
    await a.saveTask({ id: 'a1', command: 'c', params: {} });
    expect((await b.getTask('a1'))?.id).toBe('a1');
    let release = (): void => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holding = a.transaction(async (tx) => {
      await tx.saveTask({ id: 'a2', command: 'c', params: {} });
      await gate;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await rejection(b.saveTask({ id: 'b1', command: 'c', params: {} }))).code).toBe('LOCKED');
    expect(await b.getTask('a2')).toBeUndefined(); // not committed yet
    release();
    await holding;
    await b.saveTask({ id: 'b1', command: 'c', params: {} });
    expect((await a.listTasks()).map((t) => t.id).sort()).toEqual(['a1', 'a2', 'b1']);
  });
});

describe('files that are not databases are refused untouched', () => {
  it('bytes that are not SQLite: CORRUPT (NOT_SQLITE); a zero-byte file: CORRUPT (EMPTY); a missing directory: NOT_FOUND; a newer schema: SCHEMA_VERSION', async () => {
    const foreign = newDb();
    writeFileSync(foreign.path, 'these bytes are no SQLite database, whatever their length may be. '.repeat(100));
    const before = digests(foreign.dir);
    expect(await rejection(nodeStore(foreign.path))).toMatchObject({ code: 'CORRUPT', reason: 'NOT_SQLITE' });
    expect(digests(foreign.dir)).toEqual(before);

    const empty = newDb();
    writeFileSync(empty.path, '');
    expect(await rejection(nodeStore(empty.path))).toMatchObject({ code: 'CORRUPT', reason: 'EMPTY' });
    expect(digests(empty.dir)).toEqual({ 'agent.db': digests(empty.dir)['agent.db'] });

    expect(await rejection(nodeStore(join(tmp.dir, 'no-such-dir', 'agent.db')))).toMatchObject({ code: 'NOT_FOUND' });

    const newer = newDb();
    const go = openGoDatabaseSync(newer.path);
    go.exec(`UPDATE meta SET value = '${SCHEMA_VERSION + 1}' WHERE key = 'schema_version'`);
    go.close();
    const newerBefore = digests(newer.dir);
    expect(await rejection(nodeStore(newer.path))).toMatchObject({ code: 'SCHEMA_VERSION' });
    expect(digests(newer.dir)).toEqual(newerBefore);
  });
});
