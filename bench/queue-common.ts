/**
 * What the queue-throughput benchmark (bench/queue-throughput.ts) and its Node 22 child
 * (bench/queue-node22.ts) share: the hand-written queue a user would write instead of the task
 * engine, over any synchronous SQLite binding (better-sqlite3 on Node 20, node:sqlite's
 * DatabaseSync on Node 22), and the store's own loop, both timed the same way.
 */
import { claimStatement } from '../src/queue.js';
import type { Store } from '../src/store.js';
import { completionStatement } from '../src/tasks.js';

/** One subject's run: tasks claimed and completed by `workers` loops, and the wall time it took. */
export interface QueueRun {
  readonly subject: string;
  readonly workers: number;
  readonly tasks: number;
  readonly ms: number;
  /** Claim + complete pairs per second. */
  readonly perSecond: number;
}

/** What a synchronous SQLite binding offers (better-sqlite3 and DatabaseSync agree on these). */
export interface SyncDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): { run(...params: unknown[]): unknown; get(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
}

/**
 * The queue a user writes by hand: one table with the task engine's queue indices ((status, run_at)
 * for due tasks, (status, lease_until) for expired leases: "same indices", as the issue asks), a
 * claim as one `UPDATE … WHERE id = coalesce(<an expired lease>, <the earliest due>) RETURNING`, a
 * completion as one `UPDATE` checked against the worker. No history, no fencing token, no
 * idempotency keys.
 */
export function handWrittenQueue(db: SyncDatabase): { enqueue(id: string, params: string, now: number): void; claim(worker: string, now: number, leaseMs: number): string | undefined; complete(id: string, worker: string, result: string, now: number): boolean } {
  db.exec(`CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, command TEXT NOT NULL, params TEXT NOT NULL, result TEXT,
    run_at INTEGER NOT NULL, worker TEXT, lease_until INTEGER, attempts INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL)`);
  db.exec('CREATE INDEX IF NOT EXISTS jobs_due ON jobs(status, run_at)');
  db.exec('CREATE INDEX IF NOT EXISTS jobs_lease ON jobs(status, lease_until)');
  const insert = db.prepare("INSERT INTO jobs (id, status, command, params, run_at, updated_at) VALUES (?, 'pending', 'work', ?, ?, ?)");
  const claim = db.prepare(
    "UPDATE jobs SET status = 'running', worker = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = coalesce((SELECT id FROM jobs WHERE status = 'running' AND lease_until <= ? ORDER BY lease_until LIMIT 1), (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? ORDER BY run_at LIMIT 1)) RETURNING id",
  );
  const complete = db.prepare("UPDATE jobs SET status = 'completed', result = ?, updated_at = ? WHERE id = ? AND worker = ? AND status = 'running'");
  return {
    enqueue: (id, params, now) => void insert.run(id, params, now, now),
    claim: (worker, now, leaseMs) => (claim.get(worker, now + leaseMs, now, now, now) as { id: string } | undefined)?.id,
    complete: (id, worker, result, now) => Number((complete.run(result, now, id, worker) as { changes: number | bigint }).changes) === 1,
  };
}

/** Runs `workers` loops over the hand-written queue until it is empty; each yields between tasks, as an async worker does. */
export async function runHandWritten(db: SyncDatabase, subject: string, tasks: number, workers: number): Promise<QueueRun> {
  const queue = handWrittenQueue(db);
  const now = Date.now();
  db.exec('BEGIN');
  for (let i = 0; i < tasks; i++) queue.enqueue(`j${workers}-${i}`, JSON.stringify({ n: i, pad: 'x'.repeat(200) }), now - tasks + i);
  db.exec('COMMIT');
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const id = queue.claim(`w${w}`, Date.now(), 30_000);
        if (id === undefined) return;
        await Promise.resolve();
        if (!queue.complete(id, `w${w}`, '{"ok":true}', Date.now())) throw new Error(`${subject}: completing ${id} failed`);
        done++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  const ms = performance.now() - start;
  if (done !== tasks) throw new Error(`${subject}: ${done} of ${tasks} done`);
  return { subject, workers, tasks, ms, perSecond: (tasks / ms) * 1000 };
}

/** Runs `workers` loops over the store's task engine until nothing is due: claim, then complete with the fence. */
export async function runStore(store: Store, subject: string, tasks: number, workers: number): Promise<QueueRun> {
  for (let i = 0; i < tasks; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, tasks - i) }, (_, k) => store.enqueueTask({ id: `t${workers}-${i + k}`, command: 'work', params: { n: i + k, pad: 'x'.repeat(200) } })));
  }
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const claimed = await store.claimTask({ workerId: `w${w}`, leaseMs: 30_000 });
        if (!claimed) return;
        await store.completeTask(claimed.id, { workerId: `w${w}`, fence: claimed.fence, result: { ok: true } });
        done++;
      }
    }),
  );
  const ms = performance.now() - start;
  if (done !== tasks) throw new Error(`${subject}: ${done} of ${tasks} done`);
  return { subject, workers, tasks, ms, perSecond: (tasks / ms) * 1000 };
}

/** The subject name of {@link runStoreStatements}'s runs on Node 22. */
export const STATEMENTS_SUBJECT = "DatabaseSync, the task engine's statements";

/**
 * Runs the task engine's own claim and completion statements (`claimStatement`,
 * `completionStatement`) by hand on `db`, a file with the store's schema, with `workers` loops as
 * above: what the task engine's SQL costs on the engine without the store around it (validation,
 * the port, row mapping). Tasks are inserted into `tasks` in one transaction (the triggers add
 * their queue rows, as an enqueue without options makes them).
 */
export async function runStoreStatements(db: SyncDatabase, subject: string, tasks: number, workers: number): Promise<QueueRun> {
  const insert = db.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES (?, 'pending', 'work', ?, '', ?, ?)");
  const now0 = Date.now();
  db.exec('BEGIN');
  for (let i = 0; i < tasks; i++) insert.run(`s${workers}-${i}`, JSON.stringify({ n: i, pad: 'x'.repeat(200) }), now0 - tasks + i, now0 - tasks + i);
  db.exec('COMMIT');
  const prepared = new Map<string, ReturnType<SyncDatabase['prepare']>>();
  const statement = (sql: string) => prepared.get(sql) ?? prepared.set(sql, db.prepare(sql)).get(sql)!;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const workerId = `w${w}`;
      for (;;) {
        const claim = claimStatement({ workerId, leaseMs: 30_000 }, Date.now());
        const row = statement(claim.sql).get(...(claim.params ?? [])) as { id: string; fence: number } | undefined;
        if (row === undefined) return;
        await Promise.resolve();
        const complete = completionStatement(row.id, { workerId, fence: row.fence, result: { ok: true } }, Date.now());
        const result = statement(complete.sql).run(...(complete.params ?? [])) as { changes: number | bigint };
        if (Number(result.changes) !== 1) throw new Error(`${subject}: completing ${row.id} failed`);
        done++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  const ms = performance.now() - start;
  if (done !== tasks) throw new Error(`${subject}: ${done} of ${tasks} done`);
  return { subject, workers, tasks, ms, perSecond: (tasks / ms) * 1000 };
}
