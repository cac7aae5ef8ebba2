/**
 * The upgrade to schema v2 on a real file: a v1 database (the Go agent's fixture) with a journal of
 * writes made under v1 beside it. The journal is replayed first (its records are v1 statements),
 * then the migration runs, in memory and atomically, and the new image replaces the old one whole:
 * a crash at any moment leaves the v1 files as they were, or the upgraded image; never a mix.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileAdapter, fileAdapterPaths } from '../../adapters/fs.js';
import { encodeRecord, openStore, SCHEMA_V2, SCHEMA_VERSION, type PersistenceAdapter, type SqlStatement } from '../../src/index.js';
import { faultyAdapter } from '../helpers/faulty-adapter.js';
import { goTasks, NOW, T0, writeGoFixture } from '../helpers/go-fixture.js';
import { openGoDatabase, tempDir } from '../helpers/go-db.js';
import { storesClosedAfterEach } from '../helpers/stores.js';

const open = storesClosedAfterEach();
const dir = tempDir('pa-upgrade-');
afterAll(() => dir.remove());
let n = 0;

const TASK_INSERT =
  'INSERT OR REPLACE INTO tasks (id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** A v1 database file (the Go agent's fixture, WAL checkpointed) and, beside it, a journal written under v1. */
function v1FilesWithJournal(): string {
  const path = dir.file(`v1-${n++}.db`);
  const db = openGoDatabase(path);
  writeGoFixture(db);
  db.close();
  // A journal from before headers and ids (what a v1-era store on this file left): records 1 and 2.
  const records: SqlStatement[][] = [
    [{ sql: TASK_INSERT, params: ['t-journal', 'pending', 'deploy', '{"from":"journal"}', 'U1', null, null, null, null, T0 + 5000, T0 + 5000, null] }],
    [{ sql: "UPDATE tasks SET status = 'running', updated_at = ? WHERE id = 't-minimal'", params: [T0 + 6000] }],
  ];
  writeFileSync(fileAdapterPaths(path).journal, Buffer.concat(records.map((r, i) => encodeRecord(i + 1, r))));
  return path;
}

/** What a crash at this moment leaves: the image and journal, copied where the next process opens them. */
function crashCopy(path: string): string {
  const copy = dir.file(`crash-${n++}.db`);
  copyFileSync(path, copy);
  const journal = fileAdapterPaths(path).journal;
  if (existsSync(journal)) copyFileSync(journal, fileAdapterPaths(copy).journal);
  return copy;
}

describe('the upgrades to schema v2 and v3 on a file', () => {
  it('replays the v1 journal, then migrates: every task (the journal’s too) has its queue row; the upgraded image is written whole', async () => {
    const path = v1FilesWithJournal();
    const store = await open(createFileAdapter({ path }), { durability: 'write', clock: () => NOW });
    expect(await store.getTask('t-journal')).toMatchObject({ status: 'pending', params: { from: 'journal' } });
    expect((await store.getTask('t-minimal'))?.status).toBe('running');
    expect(await store.queueEntry('t-journal')).toMatchObject({ status: 'pending', runAt: T0 + 5000, attempts: 0 });
    expect(await store.queueEntry('t-minimal')).toMatchObject({ status: 'running' });
    expect((await store.queueStats()).running).toBe((await store.listTasks({ status: 'running' })).length);
    // The upgrade is on disk already, in the image: v2, the journal's writes folded in.
    const reader = await open(createFileAdapter({ path }), { readOnly: true });
    expect(await reader.queueEntry('t-journal')).toBeDefined();
    await reader.close();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      expect(db.prepare('SELECT count(*) FROM task_queue').pluck().get()).toBe(Object.keys(goTasks).length + 1);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });

  it('a crash while the upgraded image is written leaves the v1 files as they were, and the next open upgrades them', async () => {
    const path = v1FilesWithJournal();
    const image = readFileSync(path);
    const journal = readFileSync(fileAdapterPaths(path).journal);
    // The first checkpoint (the one that writes the upgraded image) is held: a crash now.
    const adapter = faultyAdapter(createFileAdapter({ path }));
    adapter.hold('checkpoint');
    const opening = openStore({ adapter: adapter as PersistenceAdapter, durability: 'write', onWarning: () => undefined });
    for (let i = 0; i < 200 && adapter.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(adapter.waiting).toBe(1);
    const copy = crashCopy(path);
    expect(readFileSync(copy).equals(image)).toBe(true);
    expect(readFileSync(fileAdapterPaths(copy).journal).equals(journal)).toBe(true);
    adapter.release();
    await (await opening).close();
    const again = await open(createFileAdapter({ path: copy }), { durability: 'write' });
    expect(await again.queueEntry('t-journal')).toMatchObject({ status: 'pending' });
    expect((await again.listTasks()).length).toBe(Object.keys(goTasks).length + 1);
  });

  it('the Go agent then opens the upgraded file: its script writes schema_version 1 back, its writes go through the triggers, and the next open upgrades again without losing them', async () => {
    const path = v1FilesWithJournal();
    const store = await open(createFileAdapter({ path }), { durability: 'write' });
    await store.close();
    const go = openGoDatabase(path);
    try {
      expect(go.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe('1');
      go.prepare(TASK_INSERT).run('t-go', 'pending', 'restart', '{}', 'U9', null, null, null, null, T0 + 9000, T0 + 9000, null);
      go.prepare("UPDATE tasks SET status = 'completed', completed_at = ?, updated_at = ? WHERE id = 't-journal'").run(T0 + 9100, T0 + 9100);
    } finally {
      go.close();
    }
    const again = await open(createFileAdapter({ path }), { durability: 'write' });
    expect(await again.queueEntry('t-go')).toMatchObject({ status: 'pending', runAt: T0 + 9000 });
    expect(await again.taskHistory('t-journal')).toEqual([{ from: 'pending', to: 'completed', at: T0 + 9100, attempt: 0 }]);
    expect((await again.claimTask({ workerId: 'w', leaseMs: 1000 }))?.id).toBeDefined();
    await again.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
    } finally {
      db.close();
    }
  });

  it('a file at schema v2 (claims as batches, no claim trigger) upgrades to v3 on open: its leases and history carry on, and a claim is one statement', async () => {
    const path = dir.file(`v2-${n++}.db`);
    const go = openGoDatabase(path);
    try {
      go.exec(SCHEMA_V2.join(';\n'));
      go.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '2')").run();
      go.prepare(TASK_INSERT).run('t-old', 'pending', 'deploy', '{}', 'U1', null, null, null, null, T0, T0, null);
      go.prepare(TASK_INSERT).run('t-held', 'running', 'deploy', '{}', 'U1', null, null, null, null, T0, T0, null);
      // A v2-era claim of t-held by worker w1, whose lease expired at T0 + 1000.
      go.prepare("UPDATE task_queue SET worker_id = 'w1', lease_until = ?, fence = 1, attempts = 1, max_attempts = 2, claimed_at = ? WHERE task_id = 't-held'").run(T0 + 1000, T0);
      go.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      go.close();
    }
    const store = await open(createFileAdapter({ path }), { durability: 'write', clock: () => T0 + 2000 });
    // The expired lease first: its expiry recorded, its attempt counted, the fence raised.
    expect(await store.claimTask({ workerId: 'w2', leaseMs: 1000 })).toMatchObject({ id: 't-held', status: 'running', attempt: 2, fence: 2, workerId: 'w2' });
    expect((await store.taskHistory('t-held')).at(-1)).toEqual({ from: 'running', to: 'running', at: T0 + 2000, attempt: 1, workerId: 'w1', error: `lease expired at ${T0 + 1000}` });
    expect(await store.claimTask({ workerId: 'w2', leaseMs: 1000 })).toMatchObject({ id: 't-old', status: 'running', attempt: 1, fence: 1 });
    expect((await store.taskHistory('t-old')).at(-1)).toEqual({ from: 'pending', to: 'running', at: T0 + 2000, attempt: 1, workerId: 'w2' });
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()).toBe(String(SCHEMA_VERSION));
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'task_queue'").pluck().all()).toEqual(['pa_queue_claimed']);
      expect(db.prepare('SELECT task_id, status FROM task_queue ORDER BY task_id').all()).toEqual([
        { task_id: 't-held', status: 'running' },
        { task_id: 't-old', status: 'running' },
      ]);
    } finally {
      db.close();
    }
  });
});
