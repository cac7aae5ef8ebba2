/**
 * Files the Go agent writes, on the node:sqlite engine: opened in place (WAL, as the Go agent left
 * them), read exactly as sql.js reads the same bytes, the Go agent's writes seen while the store is
 * open and the store's writes seen by the Go agent and the sqlite3 shell while both are open, and
 * the schema identical to the shared DDL. The Go agent is played by node:sqlite's DatabaseSync on
 * its own connection (as better-sqlite3 plays it in the Node 20 suite).
 */
import { copyFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryAdapter } from '../../adapters/memory.js';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { openStore, SCHEMA_V2, SCHEMA_V3, SCHEMA_VERSION, UnsupportedError, type Store } from '../../src/index.js';
import { snapshot } from '../api/suite.js';
import { expectSameBytes } from '../helpers/bytes.js';
import { goApprovals, goAudit, goContexts, goLetters, goTasks, goThreads, NOW, T0, writeGoFixture } from '../helpers/go-fixture.js';
import { atSchemaVersion, dumpTables, goSchemaSql, readBytes, sqliteMaster, tempDir, v1Master, type TempDir } from '../helpers/go-schema.js';
import { independentReaders } from '../helpers/independent-sqlite.js';
import { DatabaseSync, integrity, openGoDatabaseSync, scalar, type DatabaseSyncLike } from './sqlite.js';

const clock = (): number => NOW;
let tmp: TempDir;
let goFile: string;
let goBytes: Uint8Array;
const opened: Store[] = [];

beforeAll(() => {
  tmp = tempDir('pa-node22-go-');
  goFile = tmp.file('go-agent.db');
  const db = openGoDatabaseSync(goFile);
  writeGoFixture(db);
  db.close(); // checkpoints the WAL into the file and removes it, as the Go agent's shutdown does
  goBytes = readBytes(goFile);
});
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  tmp.remove();
});

/** A copy of the Go agent's file under `name`. */
function copyOfGoFile(name: string): string {
  const file = tmp.file(name);
  copyFileSync(goFile, file);
  return file;
}

async function onFile(path: string, options: { readOnly?: boolean } = {}): Promise<Store> {
  const store = await openStore({ clock, engine: createNodeSqliteEngine({ path, ...options }) });
  opened.push(store);
  return store;
}

describe('a file the Go agent wrote, opened in place', () => {
  it('is a WAL-mode file; every row reads back exactly, as sql.js reads the same bytes', async () => {
    expect([goBytes[18], goBytes[19]]).toEqual([2, 2]);
    const file = copyOfGoFile('read.db');
    const store = await onFile(file);
    for (const [id, task] of Object.entries(goTasks)) expect(await store.getTask(id), id).toStrictEqual(task);
    for (const [id, approval] of Object.entries(goApprovals)) expect(await store.getApproval(id), id).toStrictEqual(approval);
    for (const [id, context] of Object.entries(goContexts)) expect(await store.getSessionContext(id), id).toStrictEqual(context);
    for (const thread of goThreads) expect(await store.getThreadSession(thread.channel, thread.threadTs)).toStrictEqual(thread);
    for (const [id, letter] of Object.entries(goLetters)) expect(await store.getDeadLetter(id), id).toStrictEqual(letter);
    expect(await store.listAudit()).toStrictEqual([...goAudit].reverse());
    expect(await store.listRetryable()).toStrictEqual([goLetters['dl-due']]);
    expect(await store.getSessionContextByThread('C42', '1700000000.000100')).toStrictEqual(goContexts['sess-1']);

    const sqljs = await openStore({ clock, adapter: createMemoryAdapter({ image: goBytes.slice() }) });
    try {
      expect(await snapshot(store)).toStrictEqual(await snapshot(sqljs));
      expect(await store.listTasks({ status: 'completed', limit: 2 })).toStrictEqual(await sqljs.listTasks({ status: 'completed', limit: 2 }));
      expect(await store.dbSizeBytes()).toBe(await sqljs.dbSizeBytes());
    } finally {
      await sqljs.close();
    }
  });

  it('upgrades it to v2 in place, in one migration (v1 objects and rows as they were), and a second open writes nothing; SQLite leaves nothing beside it', async () => {
    const file = copyOfGoFile('upgraded.db');
    const store = await openStore({ clock, engine: createNodeSqliteEngine({ path: file }) });
    expect(await store.listTasks()).toHaveLength(Object.keys(goTasks).length);
    expect(existsSync(`${file}-shm`)).toBe(true); // open in place, in WAL mode, as the Go agent opens it
    expect(await store.queueEntry('t-minimal')).toMatchObject({ status: 'pending', attempts: 0 });
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    expect(existsSync(`${file}-shm`)).toBe(false);
    const go = new DatabaseSync(goFile, { readOnly: true });
    const upgraded = new DatabaseSync(file, { readOnly: true });
    try {
      expect(v1Master(upgraded)).toStrictEqual(sqliteMaster(go));
      expect(dumpTables(upgraded)).toStrictEqual(atSchemaVersion(dumpTables(go), String(SCHEMA_VERSION)));
      expect(scalar(upgraded, 'SELECT count(*) FROM task_queue')).toBe(Object.keys(goTasks).length);
    } finally {
      go.close();
      upgraded.close();
    }
    const bytes = readBytes(file);
    const again = await openStore({ clock, engine: createNodeSqliteEngine({ path: file }) });
    expect(await again.listTasks()).toHaveLength(Object.keys(goTasks).length);
    await again.close();
    expectSameBytes(readBytes(file), bytes);
  });

  it('read-only, it reads a v1 file as it is (no upgrade): v1 operations work, the task engine says it needs v2', async () => {
    const file = copyOfGoFile('read-only-v1.db');
    const store = await onFile(file, { readOnly: true });
    expect(await store.listTasks()).toHaveLength(Object.keys(goTasks).length);
    await expect(store.queueStats()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(store.taskHistory('t-minimal')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(store.listTransitions()).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/schema v1/) });
    await expect(store.listTransitions({ since: 0, until: Date.now(), taskId: 't-minimal', limit: 10 })).rejects.toBeInstanceOf(UnsupportedError);
    // A bad filter is refused as such before anything is read.
    await expect(store.listTransitions({ since: -1 })).rejects.toMatchObject({ code: 'VALIDATION' });
    await store.close();
    expectSameBytes(readBytes(file), goBytes);
  });

  it('sees the Go agent’s writes made while it is open, and the Go agent and the sqlite3 shell see its writes while both are open', async () => {
    const file = copyOfGoFile('shared.db');
    const store = await onFile(file);
    const go: DatabaseSyncLike = openGoDatabaseSync(file); // the agent, running beside the store
    try {
      expect(await store.getTask('t-go-new')).toBeUndefined();
      go.prepare(
        `INSERT OR REPLACE INTO tasks (id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at)
         VALUES (?, 'pending', 'restart', '{"service":"web"}', 'U5', NULL, NULL, NULL, NULL, ?, ?, NULL)`,
      ).run('t-go-new', T0 + 1000, T0 + 1000);
      go.prepare("UPDATE tasks SET status = 'running', updated_at = ? WHERE id = 't-minimal'").run(T0 + 1001);
      expect(await store.getTask('t-go-new')).toStrictEqual({
        id: 't-go-new',
        status: 'pending',
        command: 'restart',
        params: { service: 'web' },
        callerId: 'U5',
        createdAt: T0 + 1000,
        updatedAt: T0 + 1000,
      });
      expect((await store.getTask('t-minimal'))?.status).toBe('running');

      await store.completeTask('t-go-new', { result: { ok: true } });
      await store.saveThreadSession({ channel: 'C77', threadTs: '1.5' });
      const auditId = await store.appendAudit({ userId: 'U5', action: 'restart', result: 'ok', details: { by: 'store' } });
      await store.transaction(async (tx) => {
        await tx.deleteApproval('req-1');
        await tx.updateTaskStatus('t-full', 'running');
      });
      expect(go.prepare("SELECT status, result, completed_at FROM tasks WHERE id = 't-go-new'").get()).toEqual({ status: 'completed', result: '{"ok":true}', completed_at: NOW });
      expect(scalar(go, "SELECT session_key FROM thread_sessions WHERE channel = 'C77'")).toBe('agent:main:slack-C77-1.5');
      expect(scalar(go, 'SELECT details FROM audit_log WHERE id = ?', auditId)).toBe('{"by":"store"}');
      expect(scalar(go, "SELECT count(*) FROM pending_approvals WHERE request_id = 'req-1'")).toBe(0);
      expect(scalar(go, "SELECT status FROM tasks WHERE id = 't-full'")).toBe('running');

      const readers = independentReaders();
      expect(readers.map((r) => r.name)).toContain('sqlite3');
      for (const reader of readers) {
        expect(reader.query(file, "SELECT status, result, typeof(completed_at) AS t FROM tasks WHERE id = 't-go-new'"), reader.name).toEqual([
          { status: 'completed', result: '{"ok":true}', t: 'integer' },
        ]);
        expect(reader.query(file, 'SELECT count(*) AS n FROM audit_log'), reader.name).toEqual([{ n: goAudit.length + 1 }]);
      }
      expect(integrity(go)).toBe('ok');
    } finally {
      go.close();
    }
  });

  it('reads text the Go agent bound as a BLOB ([]byte) as text, a leading U+FEFF kept, and an int64 past 2^53 as sql.js reads it', async () => {
    const file = tmp.file('go-blob.db');
    const go = openGoDatabaseSync(file);
    go.prepare(
      `INSERT INTO tasks (id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at)
       VALUES (?, 'pending', ?, ?, ?, NULL, NULL, NULL, NULL, 1, ?, NULL)`,
    ).run('blob', new TextEncoder().encode('deploy ✅'), new TextEncoder().encode('{"a":1}'), '\uFEFFU1', 2n ** 53n + 3n);
    expect(scalar(go, 'SELECT typeof(command) FROM tasks')).toBe('blob');
    go.close();
    const store = await onFile(file);
    const sqljs = await openStore({ clock, adapter: createMemoryAdapter({ image: readBytes(file) }) });
    try {
      const task = await store.getTask('blob');
      expect(task).toMatchObject({ command: 'deploy ✅', params: { a: 1 }, callerId: '\uFEFFU1' });
      expect(task?.updatedAt).toBe(2 ** 53 + 4); // the nearest double, as sql.js reads it
      expect(task).toStrictEqual(await sqljs.getTask('blob'));
      expect(await store.listTasks()).toStrictEqual(await sqljs.listTasks());
    } finally {
      await sqljs.close();
    }
  });
});

describe('schema identity', () => {
  it("a new file has exactly the sqlite_master of the shared DDL and v2's and v3's objects, at the newest schema_version, in WAL mode", async () => {
    const file = tmp.file('fresh.db');
    const store = await onFile(file);
    await store.saveTask({ id: 't1', command: 'c', params: {} });
    const reference = new DatabaseSync(tmp.file('reference.db'));
    reference.exec(goSchemaSql());
    const v1 = sqliteMaster(reference);
    reference.exec([...SCHEMA_V2, ...SCHEMA_V3].join(';\n'));
    const mine = new DatabaseSync(file, { readOnly: true });
    try {
      expect(v1Master(mine)).toStrictEqual(v1);
      expect(sqliteMaster(mine)).toStrictEqual(sqliteMaster(reference));
      expect(dumpTables(mine).meta).toStrictEqual([{ key: 'schema_version', value: String(SCHEMA_VERSION) }]);
      expect(scalar(mine, 'PRAGMA journal_mode')).toBe('wal');
      expect(integrity(mine)).toBe('ok');
    } finally {
      mine.close();
      reference.close();
    }
  });

  it('a file opened in place keeps the Go agent’s schema: sqlite_master and every row as the Go agent sees them after the store wrote', async () => {
    const file = copyOfGoFile('continued.db');
    const before = new DatabaseSync(goFile, { readOnly: true });
    const master = sqliteMaster(before);
    before.close();
    const store = await onFile(file);
    await store.saveTask({ id: 't-store', command: 'c', params: { n: 1 } });
    await store.runRetention();
    await store.close();
    const go = openGoDatabaseSync(file); // the Go migration runs the whole idempotent script again
    try {
      expect(v1Master(go)).toStrictEqual(master);
      expect(scalar(go, "SELECT params FROM tasks WHERE id = 't-store'")).toBe('{"n":1}');
      // The Go agent's migration writes 1 back; the store's next open upgrades it again.
      expect(scalar(go, "SELECT value FROM meta WHERE key = 'schema_version'")).toBe('1');
      expect(integrity(go)).toBe('ok');
      // Its own writes go through the store's triggers.
      go.prepare("UPDATE tasks SET status = 'running', updated_at = ? WHERE id = 't-store'").run(NOW + 1);
    } finally {
      go.close();
    }
    const again = await onFile(file);
    expect(await again.taskHistory('t-store')).toStrictEqual([
      { to: 'pending', at: NOW },
      { from: 'pending', to: 'running', at: NOW + 1, attempt: 0 },
    ]);
  });
});
