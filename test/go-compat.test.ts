/**
 * Go compatibility: files the Go agent writes open and read back exactly, files this store writes
 * are what the Go agent reads, both schemas are identical, and files that are not ours are refused
 * untouched. The Go side is played by better-sqlite3 (native SQLite) running the shared schema
 * script in WAL mode, and checked again with an independent SQLite (the `sqlite3` shell or python3).
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryAdapter } from '../adapters/memory.js';
import {
  CorruptDatabaseError,
  SCHEMA_V2,
  SCHEMA_V3,
  SCHEMA_VERSION,
  SchemaVersionError,
  StoreError,
  openStore,
  type Store,
} from '../src/index.js';
import {
  atSchemaVersion,
  dumpTables,
  GO_TABLES,
  goSchemaPath,
  goSchemaSql,
  openGoDatabase,
  readBytes,
  sqliteMaster,
  tempDir,
  v1Master,
  STORE_OBJECTS,
  type Row,
  type TempDir,
} from './helpers/go-db.js';
import { expectSameBytes } from './helpers/bytes.js';
import { goApprovals, goAudit, goContexts, goLetters, goTasks, goThreads, NOW, T0, writeGoFixture } from './helpers/go-fixture.js';
import { independentReaders } from './helpers/independent-sqlite.js';

const clock = (): number => NOW;

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir('pa-go-compat-');
});
afterAll(() => {
  tmp.remove();
});

async function openImage(image: Uint8Array): Promise<Store> {
  return openStore({ adapter: createMemoryAdapter({ image }), clock });
}

/** Writes `image` to a new temp file and opens it read-only in better-sqlite3. */
function inBetterSqlite(image: Uint8Array, name: string): { db: Database.Database; file: string } {
  const file = tmp.file(name);
  writeFileSync(file, image);
  return { db: new Database(file, { readonly: true, fileMustExist: true }), file };
}

/** Settles `promise` and returns what it rejected with (fails when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
}

describe('the shared schema script', () => {
  it('is there, beside the clone', () => {
    expect(existsSync(goSchemaPath), goSchemaPath).toBe(true);
    expect(goSchemaSql()).toContain('CREATE TABLE IF NOT EXISTS tasks');
  });
});

// ---------------------------------------------------------------------------------------------
// A file the Go agent wrote (its rows: test/helpers/go-fixture.ts).

describe('a database file the Go agent wrote', () => {
  let goFile: string;
  let goBytes: Uint8Array;
  let goMaster: Row[];
  let goContent: Record<string, Row[]>;

  beforeAll(() => {
    goFile = tmp.file('go-agent.db');
    const db = openGoDatabase(goFile);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    writeGoFixture(db);
    goMaster = sqliteMaster(db);
    goContent = dumpTables(db);
    db.close(); // checkpoints the WAL into the main file and removes it
    expect(existsSync(`${goFile}-wal`)).toBe(false);
    goBytes = readBytes(goFile);
  });

  it('is a WAL-mode file whose rows leave every optional column NULL somewhere and set everywhere else', () => {
    expect([goBytes[18], goBytes[19]]).toEqual([2, 2]);
    const nullable: Record<string, string[]> = {
      tasks: ['response_channel', 'response_thread', 'result', 'error', 'completed_at'],
      pending_approvals: ['channel_id', 'thread_ts'],
      session_contexts: ['user_id'],
      dead_letters: ['target_thread', 'next_retry_at', 'resolved_at'],
      audit_log: ['resource', 'details'],
    };
    for (const [table, columns] of Object.entries(nullable)) {
      const rows = goContent[table] ?? [];
      for (const column of columns) {
        expect(rows.some((r) => r[column] === null), `${table}.${column} NULL somewhere`).toBe(true);
      }
      expect(
        rows.some((r) => columns.every((c) => r[c] !== null)),
        `${table} has a row with every optional column set`,
      ).toBe(true);
    }
  });

  it('reads back every row exactly through the API (NULL → absent, JSON text → value, other text → the string)', async () => {
    const input = goBytes.slice();
    const store = await openImage(input);
    try {
      for (const [id, task] of Object.entries(goTasks)) expect(await store.getTask(id), id).toStrictEqual(task);
      const byCreatedDesc = Object.values(goTasks).sort((a, b) => b.createdAt - a.createdAt);
      expect(await store.listTasks()).toStrictEqual(byCreatedDesc);
      expect(await store.listTasks({ status: 'completed' })).toStrictEqual(byCreatedDesc.filter((t) => t.status === 'completed'));
      expect(await store.listTasks({ limit: 2 })).toStrictEqual(byCreatedDesc.slice(0, 2));
      expect(await store.requeuePendingTasks()).toStrictEqual([goTasks['t-minimal']]);
      expect(await store.getTask('t-missing')).toBeUndefined();

      for (const [id, approval] of Object.entries(goApprovals)) expect(await store.getApproval(id), id).toStrictEqual(approval);
      expect(await store.listApprovals()).toStrictEqual([goApprovals['req-2'], goApprovals['req-1']]);
      expect(await store.listApprovals({ taskId: 't-full' })).toStrictEqual([goApprovals['req-1']]);

      for (const [id, context] of Object.entries(goContexts)) expect(await store.getSessionContext(id), id).toStrictEqual(context);
      expect(await store.getSessionContextByThread('C42', '1700000000.000100')).toStrictEqual(goContexts['sess-1']);
      expect(await store.getSessionContextByThread('D7', '1700000001.000300')).toStrictEqual(goContexts['sess-2']);
      expect(await store.getSessionContextByThread('D7', 'no-such-thread')).toBeUndefined();
      expect(await store.listSessionContexts()).toStrictEqual([goContexts['sess-2'], goContexts['sess-1']]);

      for (const thread of goThreads) {
        expect(await store.getThreadSession(thread.channel, thread.threadTs)).toStrictEqual(thread);
      }
      expect(await store.listThreadSessions()).toStrictEqual([goThreads[1], goThreads[0]]);
      expect(await store.listThreadSessions({ channel: 'C42' })).toStrictEqual([goThreads[0]]);

      for (const [id, letter] of Object.entries(goLetters)) expect(await store.getDeadLetter(id), id).toStrictEqual(letter);
      expect(await store.listDeadLetters()).toStrictEqual([
        goLetters['dl-waiting'],
        goLetters['dl-due'],
        goLetters['dl-resolved'],
        goLetters['dl-given-up'],
      ]);
      expect(await store.listDeadLetters({ state: 'given_up' })).toStrictEqual([goLetters['dl-given-up']]);
      expect(await store.listDeadLetters({ state: 'resolved' })).toStrictEqual([goLetters['dl-resolved']]);
      expect(await store.listDeadLetters({ state: 'due' })).toStrictEqual([goLetters['dl-due']]);
      expect(await store.listDeadLetters({ state: 'waiting' })).toStrictEqual([goLetters['dl-waiting']]);
      // A NULL next_retry_at (given up) is never retryable; a resolved letter neither.
      expect(await store.listRetryable()).toStrictEqual([goLetters['dl-due']]);

      expect(await store.listAudit()).toStrictEqual([...goAudit].reverse());
      expect(await store.listAudit({ userId: 'U9' })).toStrictEqual([goAudit[1]]);

      // (Migrated to v2 in memory: larger than the Go file; as large as its own image.)
      expect(await store.dbSizeBytes()).toBe((await store.exportImage()).length);
    } finally {
      await store.close();
    }
    expectSameBytes(input, goBytes);
  });

  it('migrates to v2 on open: the v1 tables, indices and rows as they were, the task engine beside them, a queue row per task', async () => {
    const input = goBytes.slice();
    const store = await openImage(input);
    let image: Uint8Array;
    try {
      image = await store.exportImage();
      expect(await store.queueEntry('t-minimal')).toMatchObject({ taskId: 't-minimal', status: 'pending', attempts: 0, maxAttempts: 1 });
      // Nothing was recorded for what happened before v2.
      expect(await store.taskHistory('t-full')).toEqual([]);
    } finally {
      await store.close();
    }
    const { db } = inBetterSqlite(image, 'go-reexported.db');
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      expect(v1Master(db)).toStrictEqual(goMaster);
      expect(sqliteMaster(db).map((r) => r.name).filter((n) => (STORE_OBJECTS as readonly unknown[]).includes(n))).toEqual([...STORE_OBJECTS]);
      // The rows as they were; meta at the new version, with the id of the image the upgrade wrote.
      const { meta, ...rest } = dumpTables(db);
      const { meta: goMeta, ...goRest } = atSchemaVersion(goContent, String(SCHEMA_VERSION));
      expect(rest).toStrictEqual(goRest);
      expect(meta?.filter((row) => row.key !== 'store_image_id')).toStrictEqual(goMeta);
      expect(meta?.find((row) => row.key === 'store_image_id')?.value).toMatch(/^[0-9a-f]{32}$/);
      expect(db.prepare('SELECT task_id, status, run_at FROM task_queue ORDER BY task_id').all()).toStrictEqual(
        Object.values(goTasks)
          .map((t) => ({ task_id: t.id, status: t.status, run_at: t.createdAt }))
          .sort((a, b) => a.task_id.localeCompare(b.task_id)),
      );
    } finally {
      db.close();
    }
    expectSameBytes(input, goBytes);
  });

  it('leaves the bytes it was given byte-for-byte unchanged, even after writes', async () => {
    const input = goBytes.slice();
    const store = await openImage(input);
    try {
      await store.updateTaskStatus('t-running', 'completed');
      await store.completeTask('t-minimal', { result: { done: true } });
      await store.saveTask({ id: 't-new', command: 'new', params: { a: 1 } });
      await store.deleteApproval('req-1');
      await store.touchSessionContext('sess-1');
      await store.touchThreadSession('C42', '1700000000.000100');
      await store.incrementRetry('dl-due', NOW + 1);
      await store.resolveDeadLetter('dl-waiting');
      await store.appendAudit({ userId: 'U1', action: 'a', result: 'ok' });
      await store.runRetention();
      expect((await store.getTask('t-new'))?.command).toBe('new');
      await store.exportImage();
    } finally {
      await store.close();
    }
    expectSameBytes(input, goBytes);
    expectSameBytes(readBytes(goFile), goBytes);
  });

  it('reads text the Go agent stored starting with U+FEFF (a byte order mark) with that character', async () => {
    const file = tmp.file('go-bom.db');
    const db = openGoDatabase(file);
    db.prepare(
      `INSERT OR REPLACE INTO tasks (id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at)
       VALUES (?, 'pending', ?, '{}', ?, NULL, NULL, NULL, NULL, 1, 1, NULL)`,
    ).run('\uFEFFt', '\uFEFFdeploy', '\uFEFFU1');
    // The file really holds the three bytes EF BB BF in front of the text.
    expect(db.prepare('SELECT hex(command) FROM tasks').pluck().get()).toBe('EFBBBF6465706C6F79');
    db.close();
    const store = await openImage(readBytes(file));
    try {
      expect(await store.listTasks()).toStrictEqual([
        { id: '\uFEFFt', status: 'pending', command: '\uFEFFdeploy', params: {}, callerId: '\uFEFFU1', createdAt: 1, updatedAt: 1 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('has its failed task (status completed + error) reported as Go stored it', async () => {
    const store = await openImage(goBytes);
    try {
      const failed = await store.getTask('t-failed-go');
      expect(failed?.status).toBe('completed');
      expect(failed?.error).toBe('exit status 1');
      expect(failed).not.toHaveProperty('result');
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A file this store wrote, read the Go way.

describe('an image this store exported, read as the Go agent would', () => {
  let image: Uint8Array;
  let file: string;
  const W = 1_690_000_000_000;

  beforeAll(async () => {
    const store = await openStore({ clock });
    try {
      await store.saveTask({ id: 'w-min', command: 'deploy', params: { env: 'prod' } });
      await store.saveTask({
        id: 'w-full',
        status: 'running',
        command: `it's "quoted" \\ '; DROP TABLE tasks; --`,
        params: [1, { a: 'ü', b: [true, null, 2.5] }, '😀'],
        callerId: 'U1',
        responseChannel: 'C1',
        responseThread: '1700000000.000100',
        result: { ok: true, lines: ['a', 'b'] },
        error: 'partial',
        createdAt: W + 1,
        updatedAt: W + 2,
        completedAt: W + 3,
      });
      await store.saveTask({ id: 'w-done', command: 'status', params: null, createdAt: W + 10, updatedAt: W + 10 });
      await store.completeTask('w-done', { result: 'all good' });
      await store.saveTask({ id: 'w-fail', command: 'restart', params: {}, createdAt: W + 20, updatedAt: W + 20 });
      await store.completeTask('w-fail', { error: 'boom' });

      await store.saveApproval({ requestId: 'r-min', taskId: 'w-full', callerId: 'U1', permission: 'p', action: 'a', resource: 'res' });
      await store.saveApproval({
        requestId: 'r-full',
        taskId: 'w-full',
        callerId: 'U2',
        permission: 'deploy:prod',
        action: 'approve',
        resource: 'service/api',
        channelId: 'C1',
        threadTs: '1.2',
        createdAt: W + 30,
      });

      await store.saveSessionContext({ sessionId: 's-min', channel: 'C1', threadTs: '1.1' });
      await store.saveSessionContext({ sessionId: 's-full', channel: 'C2', threadTs: '2.2', userId: 'U2', createdAt: W + 40, lastUsed: W + 41 });

      await store.saveThreadSession({ channel: 'C1', threadTs: '1.1' });
      await store.saveThreadSession({ channel: 'C2', threadTs: '2.2', sessionKey: 'custom-key', createdAt: W + 50, lastMessageAt: W + 51 });

      await store.saveDeadLetter({ id: 'd-min', targetChannel: 'C1', message: 'm', error: 'e' });
      await store.saveDeadLetter({
        id: 'd-full',
        targetChannel: 'C2',
        targetThread: '2.2',
        message: 'msg ✅',
        error: 'rate_limited',
        createdAt: W + 60,
        retryCount: 3,
        nextRetryAt: W + 61,
        resolvedAt: W + 62,
      });

      await store.appendAudit({ userId: 'U1', action: 'approval_denied', result: 'denied' });
      await store.appendAudit({
        userId: 'U2',
        action: 'deploy',
        resource: 'service/api',
        result: 'ok',
        details: { by: 'U2', steps: [1, 2, { nested: 'ü' }] },
        createdAt: W + 70,
      });

      image = await store.exportImage();
    } finally {
      await store.close();
    }
    file = tmp.file('written-by-store.db');
    writeFileSync(file, image);
  });

  it(`is a rollback-journal SQLite file that better-sqlite3 finds intact, at schema_version ${SCHEMA_VERSION}`, () => {
    expect(new TextDecoder().decode(image.subarray(0, 15))).toBe('SQLite format 3');
    expect([image[18], image[19]]).toEqual([1, 1]);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
      // The Go store's one row, and what the store records of an image it writes or exports (see
      // docs/durability.md), keys the Go agent never reads: its id, and the journal
      // records it holds (the 16 writes above).
      expect(db.prepare('SELECT key, value FROM meta ORDER BY key').all()).toEqual([
        { key: 'schema_version', value: String(SCHEMA_VERSION) },
        { key: 'store_image_id', value: expect.stringMatching(/^[0-9a-f]{32}$/) },
        { key: 'store_journal_sequence', value: '16' },
      ]);
    } finally {
      db.close();
    }
  });

  it('has the rows the Go store reads: NULL for absent optionals, JSON text, integer timestamps', () => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare('SELECT * FROM tasks ORDER BY id').all()).toStrictEqual([
        {
          id: 'w-done',
          status: 'completed',
          command: 'status',
          params: 'null',
          caller_id: '',
          response_channel: null,
          response_thread: null,
          result: '"all good"',
          error: null,
          created_at: W + 10,
          updated_at: NOW,
          completed_at: NOW,
        },
        {
          id: 'w-fail',
          status: 'failed',
          command: 'restart',
          params: '{}',
          caller_id: '',
          response_channel: null,
          response_thread: null,
          result: null,
          error: 'boom',
          created_at: W + 20,
          updated_at: NOW,
          completed_at: NOW,
        },
        {
          id: 'w-full',
          status: 'running',
          command: `it's "quoted" \\ '; DROP TABLE tasks; --`,
          params: '[1,{"a":"ü","b":[true,null,2.5]},"😀"]',
          caller_id: 'U1',
          response_channel: 'C1',
          response_thread: '1700000000.000100',
          result: '{"ok":true,"lines":["a","b"]}',
          error: 'partial',
          created_at: W + 1,
          updated_at: W + 2,
          completed_at: W + 3,
        },
        {
          id: 'w-min',
          status: 'pending',
          command: 'deploy',
          params: '{"env":"prod"}',
          caller_id: '',
          response_channel: null,
          response_thread: null,
          result: null,
          error: null,
          created_at: NOW,
          updated_at: NOW,
          completed_at: null,
        },
      ]);
      expect(db.prepare('SELECT * FROM pending_approvals ORDER BY request_id').all()).toStrictEqual([
        {
          request_id: 'r-full',
          task_id: 'w-full',
          caller_id: 'U2',
          permission: 'deploy:prod',
          action: 'approve',
          resource: 'service/api',
          channel_id: 'C1',
          thread_ts: '1.2',
          created_at: W + 30,
        },
        {
          request_id: 'r-min',
          task_id: 'w-full',
          caller_id: 'U1',
          permission: 'p',
          action: 'a',
          resource: 'res',
          channel_id: null,
          thread_ts: null,
          created_at: NOW,
        },
      ]);
      expect(db.prepare('SELECT * FROM session_contexts ORDER BY session_id').all()).toStrictEqual([
        { session_id: 's-full', channel: 'C2', thread_ts: '2.2', user_id: 'U2', created_at: W + 40, last_used: W + 41 },
        { session_id: 's-min', channel: 'C1', thread_ts: '1.1', user_id: null, created_at: NOW, last_used: NOW },
      ]);
      expect(db.prepare('SELECT * FROM thread_sessions ORDER BY channel').all()).toStrictEqual([
        { channel: 'C1', thread_ts: '1.1', session_key: 'agent:main:slack-C1-1.1', created_at: NOW, last_message_at: NOW },
        { channel: 'C2', thread_ts: '2.2', session_key: 'custom-key', created_at: W + 50, last_message_at: W + 51 },
      ]);
      expect(db.prepare('SELECT * FROM dead_letters ORDER BY id').all()).toStrictEqual([
        {
          id: 'd-full',
          target_channel: 'C2',
          target_thread: '2.2',
          message: 'msg ✅',
          error: 'rate_limited',
          created_at: W + 60,
          retry_count: 3,
          next_retry_at: W + 61,
          resolved_at: W + 62,
        },
        {
          id: 'd-min',
          target_channel: 'C1',
          target_thread: null,
          message: 'm',
          error: 'e',
          created_at: NOW,
          retry_count: 0,
          next_retry_at: null,
          resolved_at: null,
        },
      ]);
      expect(db.prepare('SELECT * FROM audit_log ORDER BY id').all()).toStrictEqual([
        { id: 1, user_id: 'U1', action: 'approval_denied', resource: null, result: 'denied', details: null, created_at: NOW },
        {
          id: 2,
          user_id: 'U2',
          action: 'deploy',
          resource: 'service/api',
          result: 'ok',
          details: '{"by":"U2","steps":[1,2,{"nested":"ü"}]}',
          created_at: W + 70,
        },
      ]);

      // Storage classes as the Go store's scanners expect them: TEXT for text and JSON, INTEGER for
      // every timestamp and counter (never REAL, even for values beyond 32 bits).
      const storageClasses = (sql: string): Set<unknown> =>
        new Set((db.prepare(sql).raw().all() as unknown[][]).flat().filter((v) => v !== 'null'));
      expect(
        storageClasses(
          'SELECT typeof(created_at), typeof(updated_at), typeof(completed_at) FROM tasks UNION ALL ' +
            'SELECT typeof(created_at), typeof(created_at), typeof(created_at) FROM pending_approvals UNION ALL ' +
            'SELECT typeof(created_at), typeof(last_used), typeof(last_used) FROM session_contexts UNION ALL ' +
            'SELECT typeof(created_at), typeof(last_message_at), typeof(last_message_at) FROM thread_sessions UNION ALL ' +
            'SELECT typeof(created_at), typeof(retry_count), typeof(next_retry_at) FROM dead_letters UNION ALL ' +
            'SELECT typeof(resolved_at), typeof(created_at), typeof(retry_count) FROM dead_letters UNION ALL ' +
            'SELECT typeof(created_at), typeof(id), typeof(id) FROM audit_log',
        ),
      ).toEqual(new Set(['integer']));
      expect(
        storageClasses(
          'SELECT typeof(id), typeof(status), typeof(command), typeof(params), typeof(caller_id), typeof(result) FROM tasks UNION ALL ' +
            'SELECT typeof(user_id), typeof(action), typeof(resource), typeof(result), typeof(details), typeof(user_id) FROM audit_log',
        ),
      ).toEqual(new Set(['text']));
    } finally {
      db.close();
    }
  });

  it('reads the same with an independent SQLite (sqlite3 shell or python3), which finds it intact', () => {
    const readers = independentReaders();
    expect(readers.length).toBeGreaterThan(0);
    for (const reader of readers) {
      expect(reader.query(file, 'PRAGMA integrity_check'), reader.name).toEqual([{ integrity_check: 'ok' }]);
      expect(reader.query(file, "SELECT value FROM meta WHERE key = 'schema_version'"), reader.name).toEqual([{ value: String(SCHEMA_VERSION) }]);
      expect(
        reader.query(file, "SELECT id, command, params, result, error, completed_at, typeof(created_at) AS t FROM tasks WHERE id IN ('w-full', 'w-min') ORDER BY id"),
        reader.name,
      ).toEqual([
        {
          id: 'w-full',
          command: `it's "quoted" \\ '; DROP TABLE tasks; --`,
          params: '[1,{"a":"ü","b":[true,null,2.5]},"😀"]',
          result: '{"ok":true,"lines":["a","b"]}',
          error: 'partial',
          completed_at: W + 3,
          t: 'integer',
        },
        { id: 'w-min', command: 'deploy', params: '{"env":"prod"}', result: null, error: null, completed_at: null, t: 'integer' },
      ]);
      expect(reader.query(file, 'SELECT id, target_thread, message, next_retry_at, resolved_at FROM dead_letters ORDER BY id'), reader.name).toEqual([
        { id: 'd-full', target_thread: '2.2', message: 'msg ✅', next_retry_at: W + 61, resolved_at: W + 62 },
        { id: 'd-min', target_thread: null, message: 'm', next_retry_at: null, resolved_at: null },
      ]);
      expect(reader.query(file, 'SELECT count(*) AS n FROM audit_log WHERE details IS NULL'), reader.name).toEqual([{ n: 1 }]);
    }
  });

  it('survives the Go agent opening it (WAL, schema script again) and writing, then opens here again', async () => {
    const goFile = tmp.file('continued-by-go.db');
    writeFileSync(goFile, image);
    const db = openGoDatabase(goFile); // the Go migration runs the whole idempotent script on every open
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const reference = new Database(file, { readonly: true, fileMustExist: true });
      try {
        // The Go migration's script changes nothing but schema_version, which it writes back to 1
        // (the store runs its own migration again at the next open, which finds everything there).
        expect(sqliteMaster(db)).toStrictEqual(sqliteMaster(reference));
        expect(dumpTables(db)).toStrictEqual(atSchemaVersion(dumpTables(reference), '1'));
      } finally {
        reference.close();
      }
      db.prepare(
        `INSERT OR REPLACE INTO tasks (id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at)
         VALUES ('go-1', 'pending', 'from-go', '{"x":1}', 'U7', NULL, NULL, NULL, NULL, 5, 5, NULL)`,
      ).run();
    } finally {
      db.close();
    }
    const store = await openImage(readBytes(goFile));
    try {
      expect(await store.getTask('go-1')).toStrictEqual({
        id: 'go-1',
        status: 'pending',
        command: 'from-go',
        params: { x: 1 },
        callerId: 'U7',
        createdAt: 5,
        updatedAt: 5,
      });
      expect((await store.getTask('w-full'))?.params).toEqual([1, { a: 'ü', b: [true, null, 2.5] }, '😀']);
      expect((await store.listTasks()).length).toBe(5);
      // The Go agent's insert went through the triggers: the task has its queue row and its history.
      expect(await store.queueEntry('go-1')).toMatchObject({ taskId: 'go-1', status: 'pending', runAt: 5, attempts: 0 });
      expect(await store.taskHistory('go-1')).toStrictEqual([{ to: 'pending', at: 5 }]);
      expect(await store.claimTask({ workerId: 'w', leaseMs: 1000 })).toMatchObject({ id: 'go-1', attempt: 1 });
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Schema identity.

describe('schema identity', () => {
  it("a fresh store's image has exactly the sqlite_master of the shared DDL run in better-sqlite3", async () => {
    const store = await openStore({ clock });
    let image: Uint8Array;
    try {
      image = await store.exportImage();
    } finally {
      await store.close();
    }
    const reference = new Database(':memory:');
    reference.exec(goSchemaSql());
    const { db } = inBetterSqlite(image, 'fresh-store.db');
    try {
      // v1's objects exactly as the Go DDL makes them; beside them only what v2 and v3 add.
      const ours = v1Master(db);
      const theirs = sqliteMaster(reference);
      expect(ours).toStrictEqual(theirs);
      expect(ours.filter((r) => r.type === 'table').map((r) => r.name)).toEqual([...GO_TABLES]);
      reference.exec([...SCHEMA_V2, ...SCHEMA_V3].join(';\n'));
      expect(sqliteMaster(db)).toStrictEqual(sqliteMaster(reference));
      expect(sqliteMaster(reference).map((r) => r.name).filter((n) => !theirs.some((t) => t.name === n))).toEqual([...STORE_OBJECTS]);
      for (const row of theirs) {
        const name = String(row.name);
        if (row.type === 'table') {
          expect(db.pragma(`table_xinfo(${name})`), name).toStrictEqual(reference.pragma(`table_xinfo(${name})`));
          expect(db.pragma(`index_list(${name})`), name).toStrictEqual(reference.pragma(`index_list(${name})`));
        } else {
          expect(db.pragma(`index_xinfo(${name})`), name).toStrictEqual(reference.pragma(`index_xinfo(${name})`));
        }
      }
      // Beside the Go store's rows, only the id the store gives every image it writes.
      expect(db.prepare("SELECT key, value FROM meta WHERE key NOT LIKE 'store\\_%' ESCAPE '\\' ORDER BY key").all()).toStrictEqual([{ key: 'schema_version', value: String(SCHEMA_VERSION) }]);
      expect(db.prepare("SELECT key FROM meta WHERE key LIKE 'store\\_%' ESCAPE '\\'").pluck().all()).toEqual(['store_image_id']);
    } finally {
      db.close();
      reference.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Refusals.

describe('files that are not this store’s are refused, untouched', () => {
  it(`refuses a schema_version newer than it knows (${SCHEMA_VERSION + 1}) with SchemaVersionError and leaves the bytes as they were`, async () => {
    const file = tmp.file('from-the-future.db');
    const db = openGoDatabase(file);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 1));
    db.prepare("INSERT INTO tasks (id, command, params, created_at, updated_at) VALUES ('t', 'c', '{}', 1, 1)").run();
    db.close();
    const bytes = readBytes(file);
    const original = bytes.slice();

    const error = await rejection(openStore({ adapter: createMemoryAdapter({ image: bytes }), clock }));
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as SchemaVersionError).code).toBe('SCHEMA_VERSION');
    expect((error as SchemaVersionError).found).toBe(String(SCHEMA_VERSION + 1));
    expect((error as SchemaVersionError).supported).toBe(SCHEMA_VERSION);
    expectSameBytes(bytes, original);
    expectSameBytes(readBytes(file), original);
  });

  it('refuses a schema_version that is not a number with SchemaVersionError', async () => {
    const file = tmp.file('odd-version.db');
    const db = openGoDatabase(file);
    db.prepare("UPDATE meta SET value = '1.5-beta' WHERE key = 'schema_version'").run();
    db.close();
    const bytes = readBytes(file);
    const original = bytes.slice();
    const error = await rejection(openStore({ adapter: createMemoryAdapter({ image: bytes }), clock }));
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect((error as StoreError).code).toBe('SCHEMA_VERSION');
    expectSameBytes(bytes, original);
  });

  describe('refuses bytes that are not an intact SQLite file with CorruptDatabaseError', () => {
    let sqlite: Uint8Array;
    const PAGE = 4096;

    beforeAll(() => {
      const file = tmp.file('to-damage.db');
      const db = openGoDatabase(file);
      const insert = db.prepare("INSERT INTO tasks (id, command, params, created_at, updated_at) VALUES (?, ?, '{}', ?, ?)");
      for (let i = 0; i < 300; i++) insert.run(`t-${i}`, 'x'.repeat(400), i, i);
      db.close();
      sqlite = readBytes(file);
      // Make sure the damage below hits real data: the file spans many pages.
      expect(sqlite.length).toBeGreaterThan(20 * PAGE);
      expect(new DataView(sqlite.buffer, sqlite.byteOffset).getUint16(16)).toBe(PAGE);
    });

    const damaged = (name: string, make: (bytes: Uint8Array) => Uint8Array): [string, () => Uint8Array] => [name, () => make(sqlite.slice())];
    const withBytes = (changes: Record<number, number>) => (b: Uint8Array): Uint8Array => {
      for (const [offset, value] of Object.entries(changes)) b[Number(offset)] = value;
      return b;
    };
    const cases: [string, () => Uint8Array][] = [
      ['random bytes', () => new Uint8Array(randomBytes(16 * 1024)).map((v, i) => (i === 0 && v === 0x53 ? 0 : v))],
      ['a short random blob', () => new Uint8Array(randomBytes(37))],
      ['a text file', () => new TextEncoder().encode('# agent config\nAGENT_DB_PATH=./agent.db\n'.repeat(50))],
      ['a short text file', () => new TextEncoder().encode('hello\n')],
      ['JSON text', () => new TextEncoder().encode(JSON.stringify({ tasks: [{ id: 't1' }] }).repeat(20))],
      damaged('a SQLite file truncated to half', (b) => b.slice(0, Math.floor(b.length / 2))),
      damaged('a SQLite file truncated to its first page', (b) => b.slice(0, PAGE)),
      damaged('a SQLite file missing its last page', (b) => b.slice(0, b.length - PAGE)),
      damaged('a SQLite file truncated mid-page', (b) => b.slice(0, 3 * PAGE + 1234)),
      damaged('a SQLite file truncated inside its header', (b) => b.slice(0, 60)),
      damaged('a SQLite file with a damaged magic string', withBytes({ 0: 0x73, 7: 0x00 })),
      damaged('a SQLite file with a zeroed header', (b) => b.fill(0, 0, 100)),
      damaged('a SQLite file with an invalid page size in its header', withBytes({ 16: 0x03, 17: 0x00 })),
      damaged('a SQLite file with damaged payload fractions in its header', withBytes({ 21: 0x00, 22: 0x63, 23: 0x63 })),
      damaged('a SQLite file whose first page body is zeroed', (b) => b.fill(0, 100, PAGE)),
      damaged('the SQLite magic followed by garbage', (b) => {
        const garbage = new Uint8Array(randomBytes(b.length));
        garbage.set(b.subarray(0, 16));
        return garbage;
      }),
    ];

    it.each(cases)('%s', async (_name, make) => {
      const bytes = make();
      const original = bytes.slice();
      const error = await rejection(openStore({ adapter: createMemoryAdapter({ image: bytes }), clock }));
      expect(error).toBeInstanceOf(CorruptDatabaseError);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('CORRUPT');
      expect((error as StoreError).message).toMatch(/^\[@platform-agent\/store\] /);
      expectSameBytes(bytes, original);
    });
  });

  it('refuses an empty Uint8Array (a zero-byte file read into memory) as EMPTY; no image at all is a new database at the newest schema', async () => {
    const empty = await rejection(openStore({ adapter: createMemoryAdapter({ image: new Uint8Array(0) }), clock }));
    expect(empty).toBeInstanceOf(CorruptDatabaseError);
    expect(empty).toMatchObject({ code: 'CORRUPT', reason: 'EMPTY' });
    const store = await openStore({ adapter: createMemoryAdapter(), clock });
    let image: Uint8Array;
    try {
      expect(await store.listTasks()).toEqual([]);
      expect(await store.listAudit()).toEqual([]);
      await store.saveTask({ id: 't1', command: 'c', params: {} });
      expect((await store.getTask('t1'))?.createdAt).toBe(NOW);
      image = await store.exportImage();
    } finally {
      await store.close();
    }
    const { db } = inBetterSqlite(image, 'from-empty.db');
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      expect(db.prepare('SELECT id FROM tasks').pluck().all()).toEqual(['t1']);
    } finally {
      db.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// WAL-mode files.

describe('a WAL-mode file written by better-sqlite3', () => {
  it('opens (header bytes 18/19 = 2), and its export opens in better-sqlite3 and an independent SQLite', async () => {
    const file = tmp.file('wal-mode.db');
    const db = openGoDatabase(file);
    const insert = db.prepare(
      'INSERT INTO session_contexts (session_id, channel, thread_ts, user_id, created_at, last_used) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (let i = 0; i < 50; i++) insert.run(`s-${i}`, `C${i % 5}`, `${i}.0`, i % 2 === 0 ? null : `U${i}`, T0 + i, T0 + 2 * i);
    db.close();
    const bytes = readBytes(file);
    expect([bytes[18], bytes[19]]).toEqual([2, 2]);
    const original = bytes.slice();

    const store = await openImage(bytes);
    let image: Uint8Array;
    try {
      const all = await store.listSessionContexts();
      expect(all).toHaveLength(50);
      expect(all[0]).toStrictEqual({ sessionId: 's-49', channel: 'C4', threadTs: '49.0', userId: 'U49', createdAt: T0 + 49, lastUsed: T0 + 98 });
      expect(await store.getSessionContext('s-0')).toStrictEqual({ sessionId: 's-0', channel: 'C0', threadTs: '0.0', createdAt: T0, lastUsed: T0 });
      await store.saveSessionContext({ sessionId: 's-new', channel: 'C9', threadTs: '9.9', createdAt: 1, lastUsed: 2 });
      image = await store.exportImage();
    } finally {
      await store.close();
    }
    expectSameBytes(bytes, original);

    const exported = inBetterSqlite(image, 'wal-mode-exported.db');
    try {
      expect(exported.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(exported.db.prepare('SELECT count(*) FROM session_contexts').pluck().get()).toBe(51);
      expect(exported.db.prepare("SELECT user_id FROM session_contexts WHERE session_id = 's-0'").pluck().get()).toBeNull();
    } finally {
      exported.db.close();
    }
    for (const reader of independentReaders()) {
      expect(reader.query(exported.file, 'PRAGMA integrity_check'), reader.name).toEqual([{ integrity_check: 'ok' }]);
      expect(reader.query(exported.file, 'SELECT count(*) AS n FROM session_contexts'), reader.name).toEqual([{ n: 51 }]);
      expect(
        reader.query(exported.file, "SELECT session_id, user_id, last_used FROM session_contexts WHERE session_id IN ('s-1', 's-new') ORDER BY session_id"),
        reader.name,
      ).toEqual([
        { session_id: 's-1', user_id: 'U1', last_used: T0 + 2 },
        { session_id: 's-new', user_id: null, last_used: 2 },
      ]);
    }
  });
});
