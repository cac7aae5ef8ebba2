/**
 * The built `agent-store` command on real files: every command, its `--json` output parsed and
 * compared with what better-sqlite3 (a SQLite independent of sql.js) reads from the same file, and
 * the failures (missing, locked by a running store, corrupt, newer schema, bad usage) with their
 * exit codes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../crash/built.js';
import { openGoDatabase, repoRoot, tempDir, type TempDir } from '../helpers/go-db.js';
import { goTasks, writeGoFixture } from '../helpers/go-fixture.js';
import { SCHEMA_VERSION } from '../../src/index.js';
import { cli, cliJson, NODE22, queueWithWriter, saveWithWriter, startWriter } from './run.js';
import { journalRecordBytes } from '../../adapters/fs.js';

let tmp: TempDir;
let demo: string;

function query<T = Record<string, unknown>>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

function count(file: string, sql: string, ...params: unknown[]): number {
  return Number(Object.values(query(file, sql, ...params)[0] ?? {})[0]);
}

function copyOf(name: string): string {
  const file = tmp.file(name);
  copyFileSync(demo, file);
  return file;
}

interface JsonError {
  error: { code: string; exitCode: number; message: string };
}

beforeAll(async () => {
  ensureBuilt(); // builds when dist/ is stale (run on its own): hence the long timeout below
  tmp = tempDir('pa-cli-');
  demo = tmp.file('demo.db');
  // A fixed end (a weekday afternoon): the same history whatever the hour the tests run at (a
  // history ending at night has few tasks in its last hours, and may have no approval waiting).
  const ran = await cli(['demo', demo, '--days', '3', '--per-day', '150', '--seed', '7', '--end', '2026-11-04T15:00Z', '--json']);
  expect(ran.code, ran.stderr).toBe(0);
  expect(JSON.parse(ran.stdout)).toMatchObject({ filled: true, wrote: { tasks: 450 } });
}, 180_000);

afterAll(() => tmp?.remove());

describe('help and usage', () => {
  it('lists every command, and each has --help with its usage', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    const names = ['info', 'tasks', 'approvals', 'sessions', 'threads', 'dlq', 'audit', 'history', 'replay', 'check', 'retention', 'checkpoint', 'migrate', 'backup', 'restore', 'export', 'import', 'serve', 'demo'];
    for (const name of names) expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(help.stdout).toContain('exit codes: 0 ok · 1 failed (check found problems, an output or task id exists)');
    for (const name of names) {
      const one = await cli([name, '--help']);
      expect(one.code, name).toBe(0);
      expect(one.stdout).toContain(`usage: agent-store ${name} `);
      expect(one.stdout).toContain('--json');
    }
  });

  it('exits 2 for no command, an unknown command or option, a missing argument or a bad value', async () => {
    expect((await cli([])).code).toBe(2);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const option = await cli(['tasks', demo, '--colour']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option '--colour'[\s\S]*usage: agent-store tasks/);
    expect((await cli(['tasks'])).code).toBe(2);
    expect((await cli(['tasks', demo, 'extra'])).code).toBe(2);
    const status = await cliJson<JsonError>(['tasks', demo, '--status', 'done'], 2);
    expect(status.error).toMatchObject({ code: 'USAGE', exitCode: 2 });
    expect(status.error.message).toContain('--status must be one of pending, running');
    expect((await cli(['tasks', demo, '--limit', '0'])).code).toBe(2);
    expect((await cli(['audit', demo, '--since', 'yesterday'])).code).toBe(2);
    expect((await cli(['retention', demo, '--max-age', 'nope=1d'])).code).toBe(2);
    const future = tmp.file('future.db');
    expect((await cli(['demo', future, '--end', new Date(Date.now() + 86_400_000).toISOString()])).code).toBe(2);
    expect(existsSync(future)).toBe(false);
  });
});

describe('reading commands', () => {
  it('info: schema version, sizes, rows per table, oldest and newest task', async () => {
    const info = await cliJson<{
      schemaVersion: number;
      imageBytes: number;
      journalBytes: number;
      owner: unknown;
      checkpoint: { last: { at: number; exportMs: number; journalBytes: number } | null; journalBytes: number; thresholdBytes: number };
      tables: Record<string, number>;
      tasks: { oldest: unknown; newest: unknown; byStatus: Record<string, number> };
    }>(['info', demo]);
    expect(info.schemaVersion).toBe(SCHEMA_VERSION);
    expect(info.imageBytes).toBe(statSync(demo).size);
    expect(info.journalBytes).toBe(0);
    expect(info.owner).toBeNull();
    // demo checkpoints once it has filled the database: the image says how that went.
    expect(info.checkpoint).toMatchObject({ last: { at: expect.any(Number), exportMs: expect.any(Number), journalBytes: expect.any(Number) }, journalBytes: 0, thresholdBytes: 16 * 2 ** 20 });
    expect(info.checkpoint.last?.journalBytes).toBeGreaterThan(0);
    for (const table of ['tasks', 'pending_approvals', 'session_contexts', 'thread_sessions', 'dead_letters', 'audit_log']) {
      expect(info.tables[table], table).toBe(count(demo, `SELECT count(*) FROM ${table}`));
    }
    expect(info.tables.tasks).toBe(450);
    const [oldest] = query<{ id: string; created_at: number }>(demo, 'SELECT id, created_at FROM tasks ORDER BY created_at ASC, rowid ASC LIMIT 1');
    const [newest] = query<{ id: string; created_at: number }>(demo, 'SELECT id, created_at FROM tasks ORDER BY created_at DESC, rowid DESC LIMIT 1');
    expect(info.tasks.oldest).toEqual({ id: oldest?.id, createdAt: oldest?.created_at });
    expect(info.tasks.newest).toEqual({ id: newest?.id, createdAt: newest?.created_at });
    for (const { status, n } of query<{ status: string; n: number }>(demo, 'SELECT status, count(*) AS n FROM tasks GROUP BY status')) expect(info.tasks.byStatus[status]).toBe(n);
    const text = await cli(['info', demo]);
    expect(text.stdout).toMatch(/tasks\s+450/);
    expect(text.stdout).toMatch(/checkpoint\s+the image is from .*: its export took \d+ ms(; the checkpoint before it took \d+ ms in all)?; the next starts when the journal \(0 B\) reaches 16(\.0)? MiB/);
  });

  it('tasks with --status, --caller and --limit, newest first', async () => {
    const all = await cliJson<{ id: string; createdAt: number }[]>(['tasks', demo]);
    expect(all.map((t) => t.id)).toEqual(query<{ id: string }>(demo, 'SELECT id FROM tasks ORDER BY created_at DESC, id').map((r) => r.id));
    const [caller] = query<{ caller_id: string }>(demo, "SELECT caller_id FROM tasks WHERE status = 'failed' GROUP BY caller_id ORDER BY count(*) DESC LIMIT 1");
    const failed = await cliJson<{ id: string; status: string; callerId: string; error: string }[]>(['tasks', demo, '--status', 'failed', '--caller', caller?.caller_id as string]);
    expect(failed.length).toBe(count(demo, "SELECT count(*) FROM tasks WHERE status = 'failed' AND caller_id = ?", caller?.caller_id));
    expect(failed.length).toBeGreaterThan(0);
    for (const t of failed) expect(t).toMatchObject({ status: 'failed', callerId: caller?.caller_id, error: expect.any(String) });
    expect((await cliJson<unknown[]>(['tasks', demo, '--limit', '7'])).length).toBe(7);
    const text = await cli(['tasks', demo, '--limit', '3']);
    expect(text.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+COMMAND\s+CALLER/);
    expect(text.stdout).toContain('3 tasks');
  });

  it('approvals, with --task, --caller and --expired', async () => {
    const approvals = await cliJson<{ requestId: string; taskId: string; callerId: string; createdAt: number }[]>(['approvals', demo]);
    expect(approvals.length).toBe(count(demo, 'SELECT count(*) FROM pending_approvals'));
    expect(approvals.length).toBeGreaterThan(0);
    const first = approvals[0] as (typeof approvals)[number];
    expect(await cliJson(['approvals', demo, '--task', first.taskId])).toEqual([first]);
    const mine = await cliJson<unknown[]>(['approvals', demo, '--caller', first.callerId]);
    expect(mine.length).toBe(count(demo, 'SELECT count(*) FROM pending_approvals WHERE caller_id = ?', first.callerId));
    const expired = await cliJson<{ createdAt: number }[]>(['approvals', demo, '--expired', '1h']);
    const cutoff = Date.now() - 3_600_000;
    expect(expired.length).toBe(count(demo, 'SELECT count(*) FROM pending_approvals WHERE created_at < ?', cutoff));
    expect((await cli(['approvals', demo, '--expired', '1h', '--limit', '2'])).code).toBe(2);
  });

  it('sessions and threads, with their filters', async () => {
    const sessions = await cliJson<{ channel: string; userId: string }[]>(['sessions', demo]);
    expect(sessions.length).toBe(count(demo, 'SELECT count(*) FROM session_contexts'));
    const channel = sessions[0]?.channel as string;
    const user = sessions[0]?.userId as string;
    expect((await cliJson<unknown[]>(['sessions', demo, '--channel', channel, '--user', user])).length).toBe(count(demo, 'SELECT count(*) FROM session_contexts WHERE channel = ? AND user_id = ?', channel, user));
    const threads = await cliJson<{ sessionKey: string; channel: string; threadTs: string }[]>(['threads', demo, '--channel', channel]);
    expect(threads.length).toBe(count(demo, 'SELECT count(*) FROM thread_sessions WHERE channel = ?', channel));
    for (const t of threads) expect(t.sessionKey).toBe(`agent:main:slack-${t.channel}-${t.threadTs}`);
    expect((await cliJson<unknown[]>(['threads', demo, '--limit', '2'])).length).toBe(2);
  });

  it('dlq by state, and --retryable', async () => {
    const all = await cliJson<{ id: string }[]>(['dlq', demo]);
    expect(all.length).toBe(count(demo, 'SELECT count(*) FROM dead_letters'));
    const now = Date.now();
    const byState = {
      resolved: count(demo, 'SELECT count(*) FROM dead_letters WHERE resolved_at IS NOT NULL'),
      given_up: count(demo, 'SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL AND next_retry_at IS NULL'),
      due: count(demo, 'SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL AND next_retry_at <= ?', now),
    };
    expect(byState.resolved + byState.given_up).toBeGreaterThan(0);
    for (const [state, n] of Object.entries(byState)) expect((await cliJson<unknown[]>(['dlq', demo, '--state', state])).length, state).toBe(n);
    const waiting = await cliJson<{ nextRetryAt: number; resolvedAt?: number }[]>(['dlq', demo, '--state', 'waiting']);
    for (const d of waiting) expect(d.resolvedAt === undefined && d.nextRetryAt > now - 60_000).toBe(true);
    const retryable = await cliJson<{ nextRetryAt: number }[]>(['dlq', demo, '--retryable']);
    expect(retryable.map((d) => d.nextRetryAt)).toEqual([...retryable.map((d) => d.nextRetryAt)].sort((a, b) => a - b));
    expect((await cli(['dlq', demo, '--state', 'lost'])).code).toBe(2);
  });

  it('audit with --user, --action, --since and --until', async () => {
    const all = await cliJson<{ id: number; createdAt: number; userId: string; action: string }[]>(['audit', demo]);
    expect(all.length).toBe(count(demo, 'SELECT count(*) FROM audit_log'));
    const approvals = await cliJson<{ action: string }[]>(['audit', demo, '--action', 'approve', '--user', 'U09BOB']);
    expect(approvals.length).toBe(count(demo, "SELECT count(*) FROM audit_log WHERE action = 'approve' AND user_id = 'U09BOB'"));
    const mid = all[Math.floor(all.length / 2)]?.createdAt as number;
    const since = await cliJson<unknown[]>(['audit', demo, '--since', String(mid)]);
    expect(since.length).toBe(count(demo, 'SELECT count(*) FROM audit_log WHERE created_at >= ?', mid));
    const until = await cliJson<unknown[]>(['audit', demo, '--until', new Date(mid).toISOString()]);
    expect(until.length).toBe(count(demo, 'SELECT count(*) FROM audit_log WHERE created_at < ?', mid));
    const day = await cliJson<unknown[]>(['audit', demo, '--since', '24h']);
    expect(day.length).toBeLessThan(all.length);
  });

  it('sql: one read as --json rows and as a table (CJK and emoji aligned by display width), with --param and --params', async () => {
    const sql = 'SELECT status, count(*) AS n FROM tasks WHERE created_at >= ? GROUP BY status ORDER BY status';
    const since = count(demo, 'SELECT min(created_at) FROM tasks') + 3_600_000;
    const expected = query(demo, sql, since);
    expect(expected.length).toBeGreaterThan(1);
    expect(await cliJson(['sql', demo, sql, '--params', JSON.stringify([since])])).toEqual(expected);
    const joined = 'SELECT t.id, q.attempts FROM tasks t JOIN task_queue q ON q.task_id = t.id WHERE t.status = ? ORDER BY t.id LIMIT 3';
    expect(await cliJson(['sql', demo, joined, '--param', 'failed'])).toEqual(query(demo, joined, 'failed'));
    const text = await cli(['sql', demo, "SELECT '日本語' AS name, 1 AS n UNION ALL SELECT '👩‍👩‍👧 ok', 22 UNION ALL SELECT 'plain', NULL"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split('\n')).toEqual(['name    n', '日本語  1', '👩‍👩‍👧 ok   22', 'plain   NULL', '3 rows', '']);
    expect((await cli(['sql', demo, 'SELECT 1 WHERE 0'])).stdout).toBe('no rows\n');
  });

  it('sql: a statement that writes is refused (exit 8, VALIDATION) before it runs, and the file is unchanged', async () => {
    const db = copyOf('sql-refused.db');
    const before = readFileSync(db);
    for (const statement of ['DELETE FROM tasks', "WITH x AS (SELECT 1) UPDATE tasks SET status = 'failed'", 'DROP TABLE tasks', 'PRAGMA user_version = 5', 'VACUUM', 'SELECT 1; DELETE FROM tasks', "ATTACH DATABASE 'other.db' AS o"]) {
      const ran = await cli(['sql', db, statement, '--json']);
      expect(ran.code, statement).toBe(8);
      expect(JSON.parse(ran.stdout), statement).toMatchObject({ error: { code: 'VALIDATION', exitCode: 8 } });
    }
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(existsSync(tmp.file('other.db'))).toBe(false);
    // Bad params: a value that is no string, number or null (exit 8); --params that is no JSON array (usage, 2).
    expect((await cli(['sql', db, 'SELECT ?', '--params', '[{"a":1}]'])).code).toBe(8);
    expect((await cli(['sql', db, 'SELECT ?, ?', '--param', 'x'])).code).toBe(8);
    expect((await cli(['sql', db, 'SELECT ?', '--params', '{'])).code).toBe(2);
    expect((await cli(['sql', db, 'SELECT ?', '--params', '[1]', '--param', 'x'])).code).toBe(2);
    expect((await cli(['sql', db])).code).toBe(2);
  });

  it('prints stored control characters escaped, so a task cannot drive the terminal', async () => {
    const db = copyOf('escape.db');
    await saveWithWriter(db, { id: 'esc', command: 'deploy\u001b[2J\u001b]0;pwned\u0007', params: {}, callerId: 'U1\rX' });
    const text = await cli(['tasks', db, '--caller', 'U1\rX']);
    expect(text.stdout).toContain('deploy\\x1b[2J\\x1b]0;pwn');
    expect(text.stdout).toContain('U1\\x0dX');
    expect(text.stdout).not.toContain('\u001b');
    expect(text.stdout).not.toContain('\r');
    // JSON keeps the exact value.
    expect((await cliJson<{ command: string }[]>(['tasks', db, '--caller', 'U1\rX']))[0]?.command).toBe('deploy\u001b[2J\u001b]0;pwned\u0007');
    // Everywhere else text from the file is printed: info's newest task, check's notes, C1 controls in JSON.
    await saveWithWriter(db, { id: 'zz\u001b[31mRED\u009b2J', command: 'x', params: {}, createdAt: 4_000_000_000_000 });
    const w = new Database(db);
    w.exec('CREATE TABLE "evil\u001b[2J" (x)');
    w.close();
    for (const args of [['info', db], ['check', db], ['history', db, 'zz\u001b[31mRED\u009b2J']]) {
      const out = await cli(args);
      expect(out.code, args[0]).toBe(0);
      expect(out.stdout.includes('\u001b') || out.stdout.includes('\u009b'), args[0]).toBe(false);
      expect(out.stdout).toContain(args[0] === 'check' ? 'evil\\x1b[2J' : 'zz\\x1b[31mRED\\x9b2J');
    }
    const json = (await cli(['tasks', db, '--json'])).stdout;
    expect(json.includes('\u001b') || json.includes('\u009b')).toBe(false);
    expect((JSON.parse(json) as { id: string }[]).map((t) => t.id)).toContain('zz\u001b[31mRED\u009b2J');
  });
});

describe('the task engine: history, replay, the queue in info', () => {
  interface HistoryJson {
    task: { id: string; status: string };
    queue: { taskId: string; runAt: number; attempts: number; maxAttempts: number; fence: number; workerId?: string; leaseUntil?: number; replayOf?: string; lastError?: string } | null;
    history: { from?: string; to: string; at: number; attempt?: number; workerId?: string; error?: string }[] | null;
  }
  type QueueJson = { due: number; scheduled: number; retrying: number; running: number; leased: number; expired: number; awaitingApproval: number };

  /** A task's transitions as better-sqlite3 reads them, in the API's shape (absent for NULL). */
  function transitions(file: string, id: string) {
    return query<Record<string, string | number | null>>(file, 'SELECT from_status, to_status, at, attempt, worker_id, error FROM task_history WHERE task_id = ? ORDER BY id', id).map((r) => ({
      ...(r.from_status === null ? {} : { from: r.from_status }),
      to: r.to_status,
      at: r.at,
      ...(r.attempt === null ? {} : { attempt: r.attempt }),
      ...(r.worker_id === null ? {} : { workerId: r.worker_id }),
      ...(r.error === null ? {} : { error: r.error }),
    }));
  }

  /** The queue's counts at `now`, by plain SQL on the file. */
  function queueCounts(file: string, now: number): QueueJson {
    const n = (where: string, ...params: unknown[]) => count(file, `SELECT count(*) FROM task_queue WHERE ${where}`, ...params);
    return {
      due: n("status = 'pending' AND run_at <= ?", now),
      scheduled: n("status = 'pending' AND run_at > ?", now),
      retrying: n("status = 'pending' AND attempts > 0"),
      running: n("status = 'running'"),
      leased: n("status = 'running' AND lease_until > ?", now),
      expired: n("status = 'running' AND lease_until <= ?", now),
      awaitingApproval: n("status = 'awaiting_approval'"),
    };
  }

  it("history: a demo task's transitions as task_history holds them, and its queue entry", async () => {
    // The demo runs its tasks through the task engine: pick one that was retried or taken over.
    const [busy] = query<{ task_id: string; n: number }>(demo, 'SELECT task_id, count(*) AS n FROM task_history GROUP BY task_id ORDER BY n DESC, task_id LIMIT 1');
    const id = busy?.task_id as string;
    expect(busy?.n).toBeGreaterThanOrEqual(4);
    const out = await cliJson<HistoryJson>(['history', demo, id]);
    expect(out.task).toMatchObject({ id, status: query<{ status: string }>(demo, 'SELECT status FROM tasks WHERE id = ?', id)[0]?.status });
    expect(out.history).toEqual(transitions(demo, id));
    const [row] = query<Record<string, string | number | null>>(demo, 'SELECT * FROM task_queue WHERE task_id = ?', id);
    expect(out.queue).toMatchObject({ taskId: id, runAt: row?.run_at, attempts: row?.attempts, maxAttempts: row?.max_attempts, fence: row?.fence });
    expect(out.queue?.attempts).toBeGreaterThanOrEqual(2);
    expect(out.queue?.lastError ?? null).toBe(row?.last_error ?? null);
    // Every transition of a task: the demo's first is "→ pending" (enqueued), its last the task's status.
    expect(out.history?.[0]).toMatchObject({ to: 'pending' });
    expect(out.history?.at(-1)?.to).toBe(out.task.status);

    const text = await cli(['history', demo, id]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^task\\s+${id} \\(${out.task.status}\\): `));
    expect(text.stdout).toMatch(new RegExp(`^attempts\\s+${row?.attempts} of ${row?.max_attempts}$`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^fence\\s+${row?.fence}$`, 'm'));
    expect(text.stdout).toMatch(/^held by\s+none$/m); // ended: no holder
    const header = lines.findIndex((l) => /^TIME\s+TRANSITION\s+ATTEMPT\s+WORKER\s+ERROR$/.test(l));
    expect(header).toBeGreaterThan(0);
    const rows = lines.slice(header + 1, -1);
    expect(rows).toHaveLength(out.history?.length ?? -1);
    out.history?.forEach((t, i) => {
      const stamp = `${new Date(t.at).toISOString().slice(0, 19).replace('T', ' ')}Z`;
      expect(rows[i]).toContain(stamp);
      expect(rows[i]).toContain(`${t.from ? `${t.from} ` : ''}→ ${t.to}`);
      if (t.workerId) expect(rows[i]).toContain(t.workerId);
    });
    expect(lines.at(-1)).toBe(`${out.history?.length} transitions`);

    // A lease taken over is a running → running transition naming the expiry.
    const [takenOver] = query<{ task_id: string }>(demo, "SELECT task_id FROM task_history WHERE from_status = 'running' AND to_status = 'running' LIMIT 1");
    const over = await cliJson<HistoryJson>(['history', demo, takenOver?.task_id as string]);
    expect(over.history?.find((t) => t.from === 'running' && t.to === 'running')?.error).toMatch(/^lease expired at \d+$/);
  });

  it('history of a task that is not there: exit 3 (NOT_FOUND); of one a live lease holds: the holder', async () => {
    const missing = await cliJson<JsonError>(['history', demo, 'no-such-task'], 3);
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND', exitCode: 3 });
    expect(missing.error.message).toContain('no task "no-such-task"');
    expect((await cli(['history', demo])).code).toBe(2);
    const db = copyOf('leased.db');
    await queueWithWriter(db);
    const leased = await cliJson<HistoryJson>(['history', db, 'q-run-0']);
    expect(leased.queue).toMatchObject({ workerId: 'w-1', attempts: 1, maxAttempts: 3, fence: 1 });
    const text = await cli(['history', db, 'q-run-0']);
    expect(text.stdout).toMatch(/^held by\s+w-1, lease until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
    const retried = await cli(['history', db, 'q-run-1']);
    expect(retried.stdout).toMatch(/^last error\s+connection refused$/m);
    expect(retried.stdout).toMatch(/running → pending\s+1\s+w-2\s+connection refused/);
    expect((await cli(['history', db, 'q-run-2'])).stdout).toMatch(/^held by\s+w-3, lease until .*\(expired\)$/m);
  });

  it('replay: a new pending task with the same command and params, linked to the original; --id; a taken id exits 1 (CONFLICT); a missing task 3', async () => {
    const db = copyOf('replay.db');
    const [original] = query<{ id: string; command: string; params: string; caller_id: string; response_channel: string; response_thread: string }>(
      db,
      "SELECT t.* FROM tasks t JOIN task_queue q ON q.task_id = t.id WHERE t.status = 'failed' ORDER BY t.id LIMIT 1",
    );
    const id = original?.id as string;
    // The plain output is the new id alone, for scripts; what happened goes to stderr.
    const ran = await cli(['replay', db, id]);
    expect(ran.code, ran.stderr).toBe(0);
    const newId = ran.stdout.trim();
    expect(newId).toMatch(new RegExp(`^${id}-replay-[0-9a-f]{8}$`));
    expect(ran.stderr).toContain(`replayed ${id} as ${newId} (pending)`);
    const [copy] = query<{ status: string; command: string; params: string; caller_id: string; response_channel: string; response_thread: string; completed_at: number | null }>(db, 'SELECT * FROM tasks WHERE id = ?', newId);
    expect(copy).toMatchObject({ status: 'pending', command: original?.command, params: original?.params, caller_id: original?.caller_id, response_channel: original?.response_channel, response_thread: original?.response_thread, completed_at: null });
    const queued = (taskId: string) => query<{ replay_of: string | null; max_attempts: number; attempts: number; backoff: string | null }>(db, 'SELECT replay_of, max_attempts, attempts, backoff FROM task_queue WHERE task_id = ?', taskId)[0];
    expect(queued(newId)).toEqual({ replay_of: id, max_attempts: queued(id)?.max_attempts, attempts: 0, backoff: queued(id)?.backoff });
    expect(transitions(db, newId).map((t) => t.to)).toEqual(['pending']);

    const named = await cliJson<{ id: string; status: string; command: string }>(['replay', db, id, '--id', 'again-1']);
    expect(named).toMatchObject({ id: 'again-1', status: 'pending', command: original?.command });
    expect(queued('again-1')?.replay_of).toBe(id);
    expect((await cliJson<HistoryJson>(['history', db, 'again-1'])).queue?.replayOf).toBe(id);

    const before = count(db, 'SELECT count(*) FROM tasks');
    const taken = await cliJson<JsonError>(['replay', db, id, '--id', 'again-1'], 1);
    expect(taken.error).toMatchObject({ code: 'CONFLICT', exitCode: 1 });
    expect(taken.error.message).toContain('"again-1" exists already');
    const missing = await cliJson<JsonError>(['replay', db, 'no-such-task'], 3);
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND', exitCode: 3 });
    expect(count(db, 'SELECT count(*) FROM tasks')).toBe(before);
    expect((await cli(['replay', db, id, '--id'])).code).toBe(2);
  });

  it("info: the queue's counts, as task_queue holds them", async () => {
    const demoQueue = (await cliJson<{ queue: QueueJson }>(['info', demo])).queue;
    expect(demoQueue).toEqual(queueCounts(demo, Date.now()));
    expect(demoQueue.awaitingApproval).toBe(count(demo, "SELECT count(*) FROM tasks WHERE status = 'awaiting_approval'"));
    // Every state: the writer enqueued 3 due tasks and 1 for tomorrow, and claimed 3 (a lease of an
    // hour, a failed attempt waiting an hour to retry, an expired lease).
    const db = copyOf('queue.db');
    await queueWithWriter(db);
    const info = await cliJson<{ queue: QueueJson }>(['info', db]);
    const sql = queueCounts(db, Date.now());
    expect(info.queue).toEqual(sql);
    expect(info.queue).toMatchObject({ due: 3 + demoQueue.due, scheduled: 2 + demoQueue.scheduled, retrying: 1 + demoQueue.retrying, leased: 1 + demoQueue.leased, expired: 1 + demoQueue.expired });
    const text = await cli(['info', db]);
    const q = info.queue;
    expect(text.stdout).toContain(`queue        due ${q.due}, scheduled ${q.scheduled}, retrying ${q.retrying}, running ${q.running} (leased ${q.leased}, lease expired ${q.expired}), awaiting approval ${q.awaitingApproval}`);
  });

  it('a schema v1 file read on node:sqlite (Node 22): info and history say "schema v1: no queue yet"; on sql.js it is upgraded in memory', async () => {
    const go = tmp.file('go-v1-queue.db');
    const g = openGoDatabase(go);
    writeGoFixture(g);
    g.close();
    const before = readFileSync(go);
    const [id] = Object.keys(goTasks);
    const info = await cli(['info', go, '--json'], { node: NODE22 });
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ schemaVersion: 1, queue: null });
    expect((await cli(['info', go], { node: NODE22 })).stdout).toMatch(/^queue\s+schema v1: no queue yet$/m);
    const history = await cli(['history', go, id as string, '--json'], { node: NODE22 });
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout)).toMatchObject({ task: { id }, queue: null, history: null });
    const text = await cli(['history', go, id as string], { node: NODE22 });
    expect(text.stdout).toMatch(/^queue\s+schema v1: no queue yet$/m);
    expect(text.stdout).toContain('no history: schema v1: no queue yet');
    expect((await cli(['history', go, 'nope'], { node: NODE22 })).code).toBe(3);
    // sql.js (Node 20) upgrades what it reads in memory: a queue row per task, no transitions yet.
    const upgraded = await cliJson<HistoryJson>(['history', go, id as string]);
    expect(upgraded.queue).toMatchObject({ taskId: id, attempts: 0 });
    expect(upgraded.history).toEqual([]);
    expect((await cli(['history', go, id as string])).stdout).toContain('no transitions recorded (the task was written before schema v2)');
    expect((await cliJson<{ queue: QueueJson | null }>(['info', go])).queue).not.toBeNull();
    expect(readFileSync(go).equals(before)).toBe(true);
  });
});

describe('failures and their exit codes', () => {
  it('a missing database: exit 3, and nothing is created', async () => {
    const missing = tmp.file('missing.db');
    for (const args of [['info', missing], ['tasks', missing], ['check', missing], ['checkpoint', missing], ['backup', missing, tmp.file('x.db')]]) {
      const out = await cliJson<JsonError>(args, 3);
      expect(out.error).toMatchObject({ code: 'NOT_FOUND', exitCode: 3 });
      expect(out.error.message).toContain(`no database at ${missing}`);
    }
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(tmp.file('x.db'))).toBe(false);
  });

  it('locked by a running store: writing commands exit 4 naming the process, reading commands work', async () => {
    const db = copyOf('locked.db');
    const writer = startWriter(db, 'hold', 5);
    try {
      await writer.waitFor(/^ready$/);
      for (const args of [['checkpoint', db], ['migrate', db], ['retention', db], ['restore', demo, db, '--force'], ['demo', db, '--if-empty'], ['replay', db, 'held-0']]) {
        const out = await cliJson<JsonError>(args, 4);
        expect(out.error.code, args.join(' ')).toBe('LOCKED');
        expect(out.error.message).toContain(`process ${writer.process.pid}`);
      }
      const info = await cliJson<{ owner: { pid: number }; tables: { tasks: number }; journalBytes: number }>(['info', db]);
      expect(info.owner.pid).toBe(writer.process.pid);
      expect(info.tables.tasks).toBe(450 + 5); // the journal's acknowledged writes are read too
      expect(info.journalBytes).toBeGreaterThan(0);
      expect((await cliJson<unknown[]>(['tasks', db, '--caller', 'U-WRITER'])).length).toBe(5);
      expect((await cliJson<{ history: { to: string }[] }>(['history', db, 'held-0'])).history.map((t) => t.to)).toEqual(['pending']);
      expect((await cli(['check', db])).code).toBe(0);
      expect((await cli(['retention', db, '--dry-run'])).code).toBe(0);
    } finally {
      await writer.stop();
    }
    // The writer was killed: its lock is stale, and a checkpoint takes over and folds the journal in.
    const done = await cliJson<{ after: { journalBytes: number } }>(['checkpoint', db]);
    expect(done.after.journalBytes).toBe(0);
    expect(count(db, "SELECT count(*) FROM tasks WHERE caller_id = 'U-WRITER'")).toBe(5);
  });

  it('a corrupt file: exit 5 for every command, the file untouched', async () => {
    const bad = tmp.file('bad.db');
    writeFileSync(bad, Buffer.from('this is not a SQLite database, just text that happens to be here'.repeat(100)));
    const before = readFileSync(bad);
    for (const args of [['info', bad], ['tasks', bad], ['checkpoint', bad], ['migrate', bad], ['backup', bad, tmp.file('bad-backup.db')], ['export', bad]]) {
      const out = await cliJson<JsonError>(args, 5);
      expect(out.error.code, args.join(' ')).toBe('CORRUPT');
      expect(out.error.message).toContain('not a SQLite database');
    }
    expect(readFileSync(bad).equals(before)).toBe(true);
    expect(existsSync(`${bad}.pa-lock`)).toBe(false);
  });

  it('a newer schema: exit 6, the file untouched', async () => {
    const db = copyOf('newer.db');
    const w = new Database(db);
    w.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 1));
    w.close();
    const before = readFileSync(db);
    for (const args of [['info', db], ['migrate', db], ['check', db], ['tasks', db]]) {
      const out = await cliJson<JsonError>(args, 6);
      expect(out.error.code, args.join(' ')).toBe('SCHEMA_VERSION');
      expect(out.error.message).toMatch(new RegExp(`"${SCHEMA_VERSION + 1}".*knows up to ${SCHEMA_VERSION}`));
    }
    expect(readFileSync(db).equals(before)).toBe(true);
  });
});

describe('a database a SQLite program has open in WAL mode (the Go agent)', () => {
  it('every command refuses it (exit 4, SQLITE_JOURNAL) and changes nothing: the log holds writes the file lacks', async () => {
    const db = copyOf('wal.db');
    const go = new Database(db);
    go.pragma('journal_mode = WAL');
    go.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES ('from-go', 'pending', 'deploy', '{}', 'U1', 1, 1)").run();
    try {
      expect(statSync(`${db}-wal`).size).toBeGreaterThan(0);
      const before = readFileSync(db);
      const wal = readFileSync(`${db}-wal`);
      for (const args of [
        ['info', db],
        ['tasks', db],
        ['check', db],
        ['export', db],
        ['backup', db, tmp.file('wal-backup.db')],
        ['retention', db, '--dry-run'],
        ['checkpoint', db],
        ['retention', db],
        ['migrate', db],
        ['import', tmp.file('none.jsonl'), db],
        ['restore', demo, db, '--force'],
        ['demo', db, '--if-empty'],
      ]) {
        if (args[0] === 'import') writeFileSync(args[1] as string, `${JSON.stringify({ kind: 'task', record: { id: 'i', command: 'x', params: {} } })}\n`);
        const out = await cliJson<JsonError>(args, 4);
        expect(out.error.code, args.join(' ')).toBe('SQLITE_JOURNAL');
        expect(out.error.message, args.join(' ')).toContain('write-ahead log');
      }
      expect(readFileSync(db).equals(before)).toBe(true);
      expect(readFileSync(`${db}-wal`).equals(wal)).toBe(true);
      expect(existsSync(tmp.file('wal-backup.db'))).toBe(false);
    } finally {
      go.close(); // the last connection checkpoints the log into the file and removes it
    }
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect((await cliJson<{ tables: { tasks: number } }>(['info', db])).tables.tasks).toBe(451);
    expect((await cli(['checkpoint', db])).code).toBe(0);
  });
});

describe('check', () => {
  it('finds no damage while an agent writes and checkpoints under it', async () => {
    const db = copyOf('churn.db');
    const writer = startWriter(db, 'churn');
    try {
      await writer.waitFor(/^stream-30$/);
      for (let i = 0; i < 6; i++) {
        const out = await cli(['check', db, '--json']);
        expect(out.code, out.stdout).toBe(0);
      }
    } finally {
      await writer.stop();
    }
  });

  it('passes a good database, with every check named', async () => {
    const out = await cliJson<{ ok: boolean; checks: { name: string; ok: boolean }[] }>(['check', demo]);
    expect(out.ok).toBe(true);
    expect(out.checks.map((c) => [c.name, c.ok])).toEqual([['image', true], ['journal', true], ['replay', true], ['schema', true]]);
  });

  it('a damaged journal: exit 5; a torn tail: a note, exit 0; a changed schema: exit 1', async () => {
    const db = copyOf('journal.db');
    const writer = startWriter(db, 'hold', 20);
    await writer.waitFor(/^ready$/);
    await writer.stop();
    const journal = `${db}.pa-journal`;
    // The records, without the zeros the adapter writes ahead of them: a healthy journal gets no note.
    const file = readFileSync(journal);
    const intact = file.subarray(0, journalRecordBytes(journal));
    expect(intact.byteLength).toBeGreaterThan(100);
    expect(file.byteLength).toBeGreaterThan(intact.byteLength);
    const healthy = await cliJson<{ ok: boolean; notes: string[] }>(['check', db]);
    expect(healthy.ok).toBe(true);
    expect(healthy.notes).toEqual([]);
    // A byte in the middle of the first record flipped, intact records after it: damage.
    const damaged = Buffer.from(intact);
    damaged[40] = (damaged[40] as number) ^ 0xff;
    writeFileSync(journal, damaged);
    const bad = await cliJson<{ ok: boolean; checks: { name: string; ok: boolean; detail: string }[] }>(['check', db], 5);
    expect(bad.ok).toBe(false);
    expect(bad.checks.find((c) => c.name === 'journal')).toMatchObject({ ok: false, detail: expect.stringContaining('damaged') });
    // The last record cut short: what a crash in the middle of an append leaves.
    writeFileSync(journal, intact.subarray(0, intact.byteLength - 7));
    const torn = await cliJson<{ ok: boolean; notes: string[] }>(['check', db]);
    expect(torn.ok).toBe(true);
    expect(torn.notes.join('\n')).toMatch(/unfinished record/);
    // An index the Go schema has, dropped.
    writeFileSync(journal, intact);
    await cli(['checkpoint', db]);
    const w = new Database(db);
    w.exec('DROP INDEX idx_tasks_status; CREATE TABLE notes (x TEXT)');
    w.close();
    const changed = await cliJson<{ ok: boolean; checks: { name: string; ok: boolean; detail: string }[]; notes: string[] }>(['check', db], 1);
    expect(changed.checks.find((c) => c.name === 'schema')).toMatchObject({ ok: false, detail: expect.stringContaining('missing: index idx_tasks_status') });
    expect(changed.notes.join('\n')).toContain('table notes');
  });
});

describe('maintenance', () => {
  it('retention --dry-run changes nothing and counts what retention then deletes; retention gives the space back, and info shows it', async () => {
    const db = copyOf('retention.db');
    // Old enough for every table's default age: the demo's history is 3 days, so move it 40 days back.
    const w = new Database(db);
    const shift = 40 * 86_400_000;
    w.exec(`UPDATE tasks SET created_at = created_at - ${shift}, updated_at = updated_at - ${shift}, completed_at = completed_at - ${shift};
            UPDATE audit_log SET created_at = created_at - ${shift};
            UPDATE dead_letters SET resolved_at = resolved_at - ${shift}`);
    // And 3 MiB of old completed tasks, so that what retention frees is worth a rebuild.
    const old = Date.now() - shift;
    const insert = w.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at, completed_at) VALUES (?, 'completed', 'deploy', ?, 'U1', ?, ?, ?)");
    for (let i = 0; i < 750; i++) insert.run(`bulk-${i}`, JSON.stringify({ pad: 'z'.repeat(4000) }), old, old, old);
    w.close();
    await cli(['checkpoint', db]);
    const before = readFileSync(db);
    const dry = await cliJson<{ dryRun: boolean; deleted: Record<string, number> }>(['retention', db, '--dry-run', '--max-age', 'auditLog=off']);
    expect(dry.dryRun).toBe(true);
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(dry.deleted.auditLog).toBe(0);
    expect(dry.deleted.tasks).toBe(count(db, 'SELECT count(*) FROM tasks WHERE completed_at IS NOT NULL'));
    expect(dry.deleted.tasks).toBeGreaterThan(0);
    const audit = count(db, 'SELECT count(*) FROM audit_log');
    const real = await cliJson<{ dryRun: boolean; deleted: Record<string, number> }>(['retention', db, '--max-age', 'auditLog=off']);
    expect(real).toMatchObject({ dryRun: false, deleted: dry.deleted });
    expect(count(db, 'SELECT count(*) FROM tasks WHERE completed_at IS NOT NULL')).toBe(0);
    expect(count(db, 'SELECT count(*) FROM audit_log')).toBe(audit);
    // The space the deleted rows held, given back: the file is the rebuilt one, with no free pages.
    const reclaimed = (real as unknown as { reclaimed: { vacuumed: boolean; before: { fileBytes: number; freeBytes: number }; after: { fileBytes: number; freeBytes: number } } }).reclaimed;
    expect(reclaimed.vacuumed).toBe(true);
    expect(reclaimed.before.freeBytes).toBeGreaterThan(3 * 1024 * 1024);
    expect(reclaimed.after).toMatchObject({ freeBytes: 0 });
    expect(statSync(db).size).toBe(reclaimed.after.fileBytes);
    expect(statSync(db).size).toBeLessThan(reclaimed.before.fileBytes - 3 * 1024 * 1024);
    const info = await cliJson<{ dbBytes: number; freeBytes: number }>(['info', db]);
    expect(info).toMatchObject({ dbBytes: reclaimed.after.fileBytes, freeBytes: 0 });
    // Deleted without retention (the Go agent, sqlite3): info shows the free pages.
    const d = new Database(db);
    const add = d.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES (?, 'pending', 'deploy', ?, 'U1', 0, 0)");
    for (let i = 0; i < 100; i++) add.run(`gone-${i}`, JSON.stringify({ pad: 'q'.repeat(4000) }));
    d.exec("DELETE FROM tasks WHERE id LIKE 'gone-%'");
    d.close();
    const freed = await cliJson<{ dbBytes: number; freeBytes: number }>(['info', db]);
    expect(freed.freeBytes).toBeGreaterThan(0);
    expect(freed.freeBytes).toBeLessThan(freed.dbBytes);
    expect((await cli(['info', db])).stdout).toMatch(/^free +\S+ .* in free pages \(\d+% of the database\): agent-store retention gives them back/m);
  });

  it('migrate brings a database without a schema, and a Go v1 one, to the newest schema, and leaves one there as it is', async () => {
    // Another program's database is refused, untouched; an empty SQLite database is the store's to fill.
    const foreign = tmp.file('foreign.db');
    const f = new Database(foreign);
    f.exec('CREATE TABLE unrelated (x INTEGER)');
    f.close();
    const before = readFileSync(foreign);
    expect((await cliJson<JsonError>(['migrate', foreign], 5)).error).toMatchObject({ code: 'CORRUPT', reason: 'NOT_AGENT_DATABASE' });
    expect(readFileSync(foreign).equals(before)).toBe(true);
    const empty = tmp.file('empty.db');
    const w = new Database(empty);
    w.exec('CREATE TABLE scratch (x INTEGER); DROP TABLE scratch');
    w.close();
    expect(await cliJson(['migrate', empty])).toMatchObject({ from: 0, to: SCHEMA_VERSION, migrated: true });
    expect(count(empty, "SELECT count(*) FROM sqlite_master WHERE name = 'tasks'")).toBe(1);
    expect(await cliJson(['migrate', empty])).toMatchObject({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, migrated: false });
    expect((await cli(['check', empty])).code).toBe(0);
    // The Go agent's file (v1): its rows kept, a queue row per task.
    const go = tmp.file('go-v1.db');
    const g = openGoDatabase(go);
    writeGoFixture(g);
    g.close();
    const tasks = Object.keys(goTasks).length; // (read from the file, a WAL-mode one would keep its -shm)
    expect(await cliJson(['migrate', go])).toMatchObject({ from: 1, to: SCHEMA_VERSION, migrated: true });
    expect(count(go, 'SELECT count(*) FROM tasks')).toBe(tasks);
    expect(count(go, 'SELECT count(*) FROM task_queue')).toBe(tasks);
    expect((await cli(['check', go])).code).toBe(0);
  });

  it('backup --force over a SQLite file with a -wal beside it: the old -wal goes, so nothing replays onto the backup', async () => {
    const out = tmp.file('old-with-wal.db');
    const old = new Database(out);
    old.pragma('journal_mode = WAL');
    old.pragma('wal_autocheckpoint = 0');
    old.exec('CREATE TABLE stale (x INTEGER); INSERT INTO stale VALUES (1), (2), (3)');
    // The -wal as a crashed program left it (a clean close would fold it in and remove it).
    const wal = readFileSync(`${out}-wal`);
    old.close();
    writeFileSync(`${out}-wal`, wal);
    expect(wal.byteLength).toBeGreaterThan(0);
    const backup = await cliJson<{ tables: { tasks: number } }>(['backup', demo, out, '--force']);
    expect(existsSync(`${out}-wal`)).toBe(false);
    expect(count(out, "SELECT count(*) FROM sqlite_master WHERE name = 'stale'")).toBe(0);
    expect(count(out, 'SELECT count(*) FROM tasks')).toBe(backup.tables.tasks);
  });

  it('backup while a writer runs is consistent and holds every write acknowledged before it; restore brings it back', async () => {
    const db = copyOf('busy.db');
    const writer = startWriter(db, 'stream');
    const out = tmp.file('busy-backup.db');
    let acknowledged: number;
    try {
      await writer.waitFor(/^stream-20$/);
      acknowledged = writer.lines.filter((l) => l.startsWith('stream-')).length;
      const backup = await cliJson<{ bytes: number; tables: { tasks: number } }>(['backup', db, out]);
      expect(backup.bytes).toBe(statSync(out).size);
      expect(query<{ integrity_check: string }>(out, 'PRAGMA integrity_check')[0]?.integrity_check).toBe('ok');
      expect(backup.tables.tasks).toBe(count(out, 'SELECT count(*) FROM tasks'));
      for (let i = 0; i < acknowledged; i++) expect(count(out, 'SELECT count(*) FROM tasks WHERE id = ?', `stream-${i}`), `stream-${i}`).toBe(1);
      // An existing file is kept unless --force; the database itself is refused.
      expect((await cliJson<JsonError>(['backup', db, out], 1)).error.code).toBe('EXISTS');
      expect((await cli(['backup', db, db])).code).toBe(2);
      // The running database cannot be restored over.
      expect((await cliJson<JsonError>(['restore', out, db, '--force'], 4)).error.code).toBe('LOCKED');
    } finally {
      await writer.stop();
    }
    const target = tmp.file('restored.db');
    const restored = await cliJson<{ tables: { tasks: number } }>(['restore', out, target]);
    expect(count(target, 'SELECT count(*) FROM tasks')).toBe(restored.tables.tasks);
    expect((await cliJson<JsonError>(['restore', out, target], 1)).error.code).toBe('EXISTS');
    // Over the database the writer left (killed: a stale lock and a journal): --force replaces both.
    const oldJournal = readFileSync(`${db}.pa-journal`);
    expect(oldJournal.byteLength).toBeGreaterThan(0);
    await cliJson(['restore', out, db, '--force']);
    expect(statSync(`${db}.pa-journal`).size).toBe(0);
    const info = await cliJson<{ tables: { tasks: number } }>(['info', db]);
    expect(info.tables.tasks).toBe(restored.tables.tasks);
    expect((await cli(['check', db])).code).toBe(0);
    // A crash between the new image's rename and the emptying of the old journal leaves that journal
    // beside it: the restored image claims its records, so none of them is replayed onto it.
    writeFileSync(`${db}.pa-journal`, oldJournal);
    expect((await cliJson<{ tables: { tasks: number } }>(['info', db])).tables.tasks).toBe(restored.tables.tasks);
    expect((await cli(['check', db])).code).toBe(0);
    expect(count(db, "SELECT count(*) FROM tasks WHERE id LIKE 'stream-%'")).toBe(count(out, "SELECT count(*) FROM tasks WHERE id LIKE 'stream-%'"));
    // A file that is not SQLite, an empty file, or a SQLite file that is no agent database is no backup.
    const junk = tmp.file('junk.db');
    writeFileSync(junk, 'junk'.repeat(1000));
    const empty = tmp.file('empty-backup.db');
    writeFileSync(empty, '');
    const other = tmp.file('other-sqlite.db');
    const o = new Database(other);
    o.exec('CREATE TABLE cats (name TEXT)');
    o.close();
    for (const from of [junk, empty, other]) {
      const refused = await cliJson<JsonError>(['restore', from, tmp.file('never.db')], 5);
      expect(refused.error.code).toBe('CORRUPT');
      expect(refused.error.message).toContain('is not a usable backup');
    }
    expect(existsSync(tmp.file('never.db'))).toBe(false);
    // Nor may a backup overwrite the database's own files.
    for (const own of [`${db}.pa-journal`, `${db}.pa-lock`, `${db}-wal`]) expect((await cli(['backup', db, own, '--force'])).code, own).toBe(2);
  });
});

describe('export and import', () => {
  it('round-trips every record through JSON Lines', async () => {
    const file = tmp.file('export.jsonl');
    const exported = await cliJson<{ counts: Record<string, number> }>(['export', demo, '--out', file]);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; record: Record<string, unknown> });
    expect(lines[0]).toMatchObject({ kind: 'header', format: 'agent-store-jsonl', schemaVersion: SCHEMA_VERSION });
    expect(lines.length - 1).toBe(Object.values(exported.counts).reduce((a, b) => a + b, 0));
    expect(exported.counts.task).toBe(450);
    // To stdout too (the records are the output; the summary goes to stderr).
    const stdout = await cli(['export', demo]);
    expect(stdout.stdout.trim().split('\n').length).toBe(lines.length);
    expect(stdout.stderr).toContain('exported');

    const copy = tmp.file('imported.db');
    const imported = await cliJson<{ imported: number }>(['import', file, copy]);
    expect(imported.imported).toBe(lines.length - 1);
    for (const table of ['tasks', 'pending_approvals', 'session_contexts', 'thread_sessions', 'dead_letters']) {
      expect(query(copy, `SELECT * FROM ${table} ORDER BY 1, 2`), table).toEqual(query(demo, `SELECT * FROM ${table} ORDER BY 1, 2`));
    }
    const strip = (rows: Record<string, unknown>[]) => rows.map(({ id: _id, ...rest }) => rest);
    expect(strip(query(copy, 'SELECT * FROM audit_log ORDER BY id'))).toEqual(strip(query(demo, 'SELECT * FROM audit_log ORDER BY id')));
  });

  it('a bad line stops the import with exit 8 before anything is written', async () => {
    const file = tmp.file('bad.jsonl');
    const good = JSON.stringify({ kind: 'task', record: { id: 'ok-1', command: 'deploy', params: {} } });
    writeFileSync(file, [JSON.stringify({ kind: 'header', format: 'agent-store-jsonl', version: 1, schemaVersion: 1 }), good, JSON.stringify({ kind: 'task', record: { id: '', command: 'x', params: {} } }), '{not json', JSON.stringify({ kind: 'toString', record: {} })].join('\n'));
    const target = tmp.file('bad-import.db');
    const out = await cliJson<JsonError & { error: { details: string[] } }>(['import', file, target], 8);
    expect(out.error.code).toBe('VALIDATION');
    expect(out.error.details).toEqual([expect.stringMatching(/^line 3: task id:/), expect.stringMatching(/^line 4: not JSON/), expect.stringMatching(/^line 5: "kind" must be one of/)]);
    expect(existsSync(target)).toBe(false);
    // Into an existing database: unchanged, byte for byte.
    const db = copyOf('import-target.db');
    const before = readFileSync(db);
    await cliJson(['import', file, db], 8);
    expect(readFileSync(db).equals(before)).toBe(true);
  });
});

describe('demo', () => {
  it('refuses a database with tasks, and --if-empty keeps it as it is', async () => {
    const db = copyOf('demo-again.db');
    expect((await cliJson<JsonError>(['demo', db], 1)).error.code).toBe('NOT_EMPTY');
    const before = count(db, 'SELECT count(*) FROM tasks');
    expect(await cliJson(['demo', db, '--if-empty'])).toMatchObject({ filled: false });
    expect(count(db, 'SELECT count(*) FROM tasks')).toBe(before);
  });

  it('Ctrl-C in the middle of a fill stops it after the day being written: exit 130, every day before it whole and durable, the store closed', async () => {
    const db = tmp.file('demo-interrupted.db');
    const child = spawn(process.execPath, [join(repoRoot, 'dist/cli/agent-store.js'), 'demo', db, '--days', '60', '--per-day', '1500', '--end', '2026-11-04T15:00Z'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    // Some days written (each a journal record), many to go.
    const deadline = Date.now() + 60_000;
    while (!(existsSync(`${db}.pa-journal`) && journalRecordBytes(`${db}.pa-journal`) > 0)) {
      if (Date.now() > deadline) throw new Error(`no day was written within 60 s; stderr: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code, stderr).toBe(130);
    const kept = /keeps the (\d+) of (\d+) tasks written before Ctrl-C/.exec(stderr);
    expect(kept, stderr).not.toBeNull();
    const [written, planned] = [Number(kept?.[1]), Number(kept?.[2])];
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(planned);
    // Closed cleanly (no lock left, the journal folded into the image) and whole: what it said it kept.
    expect(existsSync(`${db}.pa-lock`)).toBe(false);
    expect(count(db, 'SELECT count(*) FROM tasks')).toBe(written);
    expect((await cli(['check', db])).code).toBe(0);
  });

  it('writes a realistic history: every status, approvals waiting, dead letters in each end state, audit entries', async () => {
    const statuses = query<{ status: string }>(demo, 'SELECT DISTINCT status FROM tasks').map((r) => r.status);
    expect(statuses).toEqual(expect.arrayContaining(['completed', 'failed', 'cancelled', 'awaiting_approval']));
    expect(count(demo, "SELECT count(*) FROM tasks t JOIN pending_approvals a ON a.task_id = t.id WHERE t.status = 'awaiting_approval'")).toBe(count(demo, 'SELECT count(*) FROM pending_approvals'));
    expect(count(demo, 'SELECT count(*) FROM dead_letters WHERE resolved_at IS NOT NULL AND retry_count > 0')).toBeGreaterThan(0);
    expect(count(demo, 'SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL AND next_retry_at IS NULL')).toBeGreaterThan(0);
    expect(count(demo, "SELECT count(*) FROM audit_log WHERE action IN ('approve', 'deny')")).toBeGreaterThan(0);
    const span = query<{ a: number; b: number }>(demo, 'SELECT min(created_at) AS a, max(created_at) AS b FROM tasks')[0] as { a: number; b: number };
    expect(span.b - span.a).toBeGreaterThan(2 * 86_400_000);
  });
});
