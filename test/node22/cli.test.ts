/**
 * The `agent-store` command on Node 22, where it reads through node:sqlite: a running Go agent's
 * database is read whole (its `-wal` too) instead of refused, nothing is left behind, and where
 * node:sqlite could not read the file whole (a sql.js journal with writes, a WAL-mode file with no
 * `-wal` beside it) the command reads it with sql.js as on Node 20.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
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
});
