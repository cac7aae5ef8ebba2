/**
 * The `agent-store` command on Node 22, where it reads through node:sqlite: a running Go agent's
 * database is read whole (its `-wal` too) instead of refused, nothing is left behind, and where
 * node:sqlite could not read the file whole (a sql.js journal with writes, a WAL-mode file with no
 * `-wal` beside it) the command reads it with sql.js as on Node 20.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileAdapter } from '../../adapters/fs.js';
import { openStore } from '../../src/index.js';
import { ensureBuilt } from '../crash/built.js';
import { digests } from '../helpers/files.js';
import { repoRoot, tempDir, type TempDir } from '../helpers/go-schema.js';
import { DatabaseSync, openGoDatabaseSync, scalar } from './sqlite.js';

const BIN = join(repoRoot, 'dist/cli/agent-store.js');
let tmp: TempDir;
let n = 0;

beforeAll(() => {
  ensureBuilt();
  tmp = tempDir('pa-node22-cli-');
}, 180_000);
afterAll(() => tmp.remove());

function newDb(): { dir: string; path: string } {
  const dir = tmp.file(`case-${n++}`);
  mkdirSync(dir);
  return { dir, path: join(dir, 'agent.db') };
}

/** Runs the built command on this Node (22), `--json`, and parses its output. */
function cli(args: readonly string[]): Promise<{ code: number; json: unknown; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args, '--json'], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as unknown as number) : 0, json: stdout ? JSON.parse(stdout) : undefined, stderr });
    });
  });
}

function insertTasks(db: ReturnType<typeof openGoDatabaseSync>, from: number, count: number): void {
  const insert = db.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES (?, 'pending', 'deploy', '{}', 'U1', ?, ?)");
  for (let i = from; i < from + count; i++) insert.run(`go-${i}`, i, i);
}

describe('agent-store on Node 22 (node:sqlite)', () => {
  it("reads a running Go agent's database whole, its -wal included, and changes neither the file nor its log", async () => {
    const { dir, path } = newDb();
    const go = openGoDatabaseSync(path);
    try {
      go.exec('PRAGMA wal_autocheckpoint = 0'); // the rows stay in the -wal, as between the agent's checkpoints
      insertTasks(go, 0, 25);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      // (-shm is SQLite's shared memory between connections: every reader takes a read mark there.)
      const files = () => {
        const { 'agent.db-shm': _shm, ...rest } = digests(dir);
        return rest;
      };
      const before = files();
      expect(Object.keys(before)).toEqual(['agent.db', 'agent.db-wal']);
      const info = await cli(['info', path]);
      expect(info.code, info.stderr).toBe(0);
      expect(info.json).toMatchObject({ schemaVersion: 1, tables: { tasks: 25 } });
      // node:sqlite's "experimental feature" warning is not the user's business: nothing on stderr.
      expect(info.stderr).toBe('');
      const tasks = await cli(['tasks', path, '--limit', '3']);
      expect(tasks.code, tasks.stderr).toBe(0);
      expect((tasks.json as { id: string }[]).map((t) => t.id)).toEqual(['go-24', 'go-23', 'go-22']);
      expect(files()).toEqual(before);
      // A backup holds what only the -wal held.
      const backup = tmp.file(`backup-${n++}.db`);
      const ran = await cli(['backup', path, backup]);
      expect(ran.code, ran.stderr).toBe(0);
      const copy = new DatabaseSync(backup, { readOnly: true });
      expect(scalar(copy, 'SELECT count(*) FROM tasks')).toBe(25);
      copy.close();
      // SQLite's own backup, made a plain file: a rollback journal (not the agent's WAL), nothing
      // beside it, readable by its owner only.
      expect(ran.json).toMatchObject({ backup, tables: { tasks: 25 } });
      expect(readFileSync(backup)[18]).toBe(1);
      expect(existsSync(`${backup}-wal`) || existsSync(`${backup}-shm`) || existsSync(`${backup}-journal`)).toBe(false);
      expect(statSync(backup).mode & 0o777).toBe(0o600);
      // The agent goes on writing; the next read sees it.
      insertTasks(go, 25, 5);
      expect(((await cli(['info', path])).json as { tables: { tasks: number } }).tables.tasks).toBe(30);
    } finally {
      go.close();
    }
  });

  it("sql reads a running Go agent's database through node:sqlite, its -wal included; a write is refused (exit 8) and nothing changes", async () => {
    const { dir, path } = newDb();
    const go = openGoDatabaseSync(path);
    try {
      go.exec('PRAGMA wal_autocheckpoint = 0');
      insertTasks(go, 0, 12);
      const files = () => {
        const { 'agent.db-shm': _shm, ...rest } = digests(dir);
        return rest;
      };
      const before = files();
      const read = await cli(['sql', path, 'SELECT count(*) AS n, max(id) AS last FROM tasks WHERE created_at >= ?', '--params', '[2]']);
      expect(read.code, read.stderr).toBe(0);
      expect(read.json).toEqual([{ n: 10, last: 'go-9' }]);
      for (const statement of ['DELETE FROM tasks', "WITH x AS (SELECT 1) INSERT INTO tasks (id, status, command, params, created_at, updated_at) SELECT 'y', 'pending', 'c', '{}', 1, 1 FROM x", 'PRAGMA journal_mode = DELETE']) {
        const refused = await cli(['sql', path, statement]);
        expect(refused.code, statement).toBe(8);
        expect(refused.json, statement).toMatchObject({ error: { code: 'VALIDATION' } });
      }
      expect(files()).toEqual(before);
      expect(scalar(go, 'SELECT count(*) FROM tasks')).toBe(12);
    } finally {
      go.close();
    }
  });

  it('a database with writes only in its sql.js journal is read with sql.js, journal and all', async () => {
    const { path } = newDb();
    const store = await openStore({ adapter: createFileAdapter({ path }), onWarning: () => undefined });
    for (let i = 0; i < 4; i++) await store.saveTask({ id: `t${i}`, command: 'deploy', params: {} });
    // No close(): the writes are in agent.db.pa-journal, not in the file.
    expect(statSync(`${path}.pa-journal`).size).toBeGreaterThan(0);
    const info = await cli(['info', path]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.json).toMatchObject({ tables: { tasks: 4 } });
    await store.close();
  });

  it('a WAL-mode file whose agent has stopped (no -wal beside it) is read, and nothing is left beside it', async () => {
    const { dir, path } = newDb();
    const go = openGoDatabaseSync(path);
    insertTasks(go, 0, 3);
    go.close(); // the last connection checkpoints and removes -wal and -shm
    expect(readFileSync(path)[18]).toBe(2);
    expect(existsSync(`${path}-wal`)).toBe(false);
    const before = digests(dir);
    const info = await cli(['info', path]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.json).toMatchObject({ tables: { tasks: 3 } });
    expect(digests(dir)).toEqual(before);
    // A sql.js writer can still take it.
    const checkpoint = await cli(['checkpoint', path]);
    expect(checkpoint.code, checkpoint.stderr).toBe(0);
  });

  describe('check reads the file through node:sqlite where it can', () => {
    type Report = { ok: boolean; engine: string; checks: { name: string; ok: boolean; detail: string }[]; notes: string[] };
    /** A database the store wrote and closed (no journal records): what node:sqlite checks alone. */
    async function closedStore(tasks = 40): Promise<{ dir: string; path: string }> {
      const db = newDb();
      const store = await openStore({ adapter: createFileAdapter({ path: db.path }), onWarning: () => undefined });
      for (let i = 0; i < tasks; i++) await store.saveTask({ id: `t${i}`, command: 'deploy', params: { pad: 'x'.repeat(400), i } });
      await store.close();
      return db;
    }

    /** Scribbles over the cells of the tasks table's root page (in use, unlike a free page). */
    function damageTasksRoot(path: string): void {
      const reader = new DatabaseSync(path, { readOnly: true });
      const root = Number(scalar(reader, "SELECT rootpage FROM sqlite_master WHERE name = 'tasks'"));
      reader.close();
      const bytes = readFileSync(path);
      const page = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
      for (let i = 12; i < page; i++) bytes[(root - 1) * page + i] = (i * 31) & 0xff;
      writeFileSync(path, bytes);
    }

    it('a good database: every check passes on node:sqlite, named as on sql.js, and nothing changes', async () => {
      const { dir, path } = await closedStore();
      const before = digests(dir);
      const ran = await cli(['check', path]);
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stderr).toBe('');
      const report = ran.json as Report;
      expect(report.engine).toBe('node:sqlite');
      expect(report.checks.map((c) => [c.name, c.ok])).toEqual([['image', true], ['journal', true], ['replay', true], ['schema', true]]);
      expect(report.checks.find((c) => c.name === 'replay')?.detail).toMatch(/integrity ok; 40 rows/);
      expect(digests(dir)).toEqual(before);
    });

    it('a damaged page: exit 5 with the image named; a changed schema: exit 1 with what differs', async () => {
      const damaged = await closedStore(200);
      damageTasksRoot(damaged.path);
      const bad = await cli(['check', damaged.path]);
      expect(bad.code, bad.stderr).toBe(5);
      const report = bad.json as Report;
      expect(report.engine).toBe('node:sqlite');
      expect(report.checks.find((c) => c.name === 'image')).toMatchObject({ ok: false });

      const changed = await closedStore();
      const w = new DatabaseSync(changed.path);
      w.exec('DROP INDEX idx_tasks_status; CREATE TABLE notes (x TEXT)');
      w.close();
      const ran = await cli(['check', changed.path]);
      expect(ran.code, ran.stderr).toBe(1);
      const schema = ran.json as Report;
      expect(schema.engine).toBe('node:sqlite');
      expect(schema.checks.find((c) => c.name === 'schema')).toMatchObject({ ok: false, detail: expect.stringContaining('missing: index idx_tasks_status') });
      expect(schema.notes.join('\n')).toContain('table notes');
    });

    it('backup refuses a database whose pages fail quick_check: exit 5, no backup and no temp file left', async () => {
      const damaged = await closedStore(200);
      damageTasksRoot(damaged.path);
      const outDir = tmp.file(`backups-${n++}`);
      mkdirSync(outDir);
      const ran = await cli(['backup', damaged.path, join(outDir, 'copy.db')]);
      expect(ran.code, ran.stderr).toBe(5);
      expect((ran.json as { error: { message: string } }).error.message).toMatch(/failed its check/);
      expect(readdirSync(outDir)).toEqual([]);
    });

    it("a Go agent's v1 file, and a database with journal records, are checked on sql.js as before", async () => {
      const { path } = newDb();
      const go = openGoDatabaseSync(path);
      insertTasks(go, 0, 5);
      go.close();
      // As on Node 20: the schema a store upgrades it to when it opens it, with a note.
      const v1 = await cli(['check', path]);
      expect(v1.code, v1.stderr).toBe(0);
      expect((v1.json as Report).checks.find((c) => c.name === 'schema')).toMatchObject({ ok: true });
      expect((v1.json as Report).engine).toBe('sql.js');
      expect((v1.json as Report).notes.join('\n')).toMatch(/the file says schema v1/);

      const journaled = newDb();
      const store = await openStore({ adapter: createFileAdapter({ path: journaled.path }), onWarning: () => undefined });
      await store.saveTask({ id: 'only-in-the-journal', command: 'deploy', params: {} });
      const ran = await cli(['check', journaled.path]);
      expect(ran.code, ran.stderr).toBe(0);
      expect((ran.json as Report).engine).toBe('sql.js');
      expect((ran.json as Report).checks.find((c) => c.name === 'journal')?.detail).toMatch(/1 to replay|records/);
      await store.close();
    });
  });

  it('export on node:sqlite reads a page at a time and writes exactly what the lists give', async () => {
    const { path } = newDb();
    const store = await openStore({ adapter: createFileAdapter({ path }), onWarning: () => undefined });
    // More tasks than one page (1,000), many sharing a millisecond: the pages go by time, then rowid.
    await store.transaction(async (tx) => {
      for (let i = 0; i < 2_345; i++) await tx.saveTask({ id: `t-${String(i).padStart(5, '0')}`, command: 'deploy', params: { i, note: i % 7 === 0 ? 'ünïcödé ✓' : null } });
      for (let i = 0; i < 12; i++) {
        await tx.saveApproval({ requestId: `r-${i}`, taskId: `t-${String(i).padStart(5, '0')}`, callerId: 'U1', permission: 'deploy', action: 'deploy', resource: `svc-${i}`, channelId: 'C1', threadTs: `${i}.0` });
        await tx.saveSessionContext({ sessionId: `s-${i}`, channel: 'C1', threadTs: `${i}.0`, userId: 'U1' });
        await tx.saveThreadSession({ channel: 'C1', threadTs: `${i}.5`, sessionKey: `k-${i}` });
        await tx.saveDeadLetter({ id: `d-${i}`, targetChannel: 'C1', targetThread: `${i}.0`, message: `m-${i}`, error: 'rate limited' });
        await tx.appendAudit({ userId: 'U1', action: 'approve', resource: `r-${i}`, result: 'ok', details: { i } });
      }
    });
    await store.close();
    // What the sql.js path writes: each list, reversed (oldest first).
    const reader = await openStore({ adapter: createFileAdapter({ path }), readOnly: true });
    const expected = [
      ...(await reader.listTasks()).reverse().map((record) => ({ kind: 'task', record })),
      ...(await reader.listApprovals()).reverse().map((record) => ({ kind: 'approval', record })),
      ...(await reader.listSessionContexts()).reverse().map((record) => ({ kind: 'sessionContext', record })),
      ...(await reader.listThreadSessions()).reverse().map((record) => ({ kind: 'threadSession', record })),
      ...(await reader.listDeadLetters()).reverse().map((record) => ({ kind: 'deadLetter', record })),
      ...(await reader.listAudit()).reverse().map((record) => ({ kind: 'audit', record })),
    ].map((line) => JSON.stringify(line));
    await reader.close();
    const out = tmp.file(`export-${n++}.jsonl`);
    const ran = await cli(['export', path, '--out', out]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.json).toMatchObject({ engine: 'node:sqlite', counts: { task: 2_345, approval: 12, sessionContext: 12, threadSession: 12, deadLetter: 12, audit: 12 } });
    const [header, ...lines] = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(header as string)).toMatchObject({ kind: 'header', counts: { task: 2_345 } });
    expect(lines.length).toBe(expected.length);
    expect(lines).toEqual(expected);
  });
});
