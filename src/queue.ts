/**
 * The task engine on schema v2: enqueue (idempotent), claim with a lease and a fencing token,
 * heartbeat, complete and fail with retries and backoff, cancel, history (a task's, and across
 * tasks), replay.
 *
 * Every write is one statement or one atomic batch, so it runs the same on every engine (D1 has no
 * interactive transactions). A claim is one `UPDATE … RETURNING` whose trigger (schema v3) does the
 * rest; a batch whose later statement must apply only if an earlier one did repeats the earlier
 * one's condition, which the earlier statement leaves as it was. On node:sqlite a write statement
 * takes SQLite's write lock before it reads, so a claim is exactly-once across processes too.
 */
import { ConflictError, NotFoundError, SqlError, UnsupportedError } from './errors.js';
import { decodeJson, encodeJson } from './json.js';
import { int, limitParam, optionalInt, optionalText, orNull, text, type Context } from './context.js';
import { holdParams, holds, lost, opToken } from './leases.js';
import {
  BackoffSchema,
  ClaimOptionsSchema,
  EnqueueInputSchema,
  FailOptionsSchema,
  HeartbeatOptionsSchema,
  ReplayOptionsSchema,
  TransitionFilterSchema,
  validate,
  validateId,
  validateText,
  type Backoff,
  type ClaimedTask,
  type ClaimOptions,
  type EnqueueInput,
  type FailOptions,
  type FailResult,
  type HeartbeatOptions,
  type QueueEntry,
  type QueueStats,
  type ReplayOptions,
  type Task,
  type TaskStatus,
  type TaskTransition,
  type TransitionEntry,
  type TransitionFilter,
} from './records.js';
import type { SqlPort, SqlRow, SqlStatement, SqlValue } from './sql-port.js';
import { getTask, rowToTask, TASK_COLUMNS } from './tasks.js';

/** How long an idempotency key is kept after its enqueue, at least (and as long as its task exists). */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
const DEFAULT_BACKOFF: Required<Backoff> = { baseMs: 1000, factor: 2, maxMs: 300_000, jitter: 0.2 };

// What a claim returns: the queue row's lease, and the task's columns read in the same statement
// (all but `status` and `updated_at`, which the claim sets).
const CLAIM_RETURNING = [
  'task_id AS id, attempts, max_attempts, fence, worker_id, lease_until',
  ...TASK_COLUMNS.split(', ')
    .filter((c) => !['id', 'status', 'updated_at'].includes(c))
    .map((c) => `(SELECT ${c} FROM tasks WHERE id = task_queue.task_id) AS ${c}`),
].join(', ');


/**
 * The delay before attempt `attempt + 1`, after attempt `attempt` failed: exponential, bounded, less
 * a random part of up to `jitter` of it.
 */
export function backoffDelay(backoff: Backoff | undefined, attempt: number, random: () => number = Math.random): number {
  const b = { ...DEFAULT_BACKOFF, ...backoff };
  const raw = Math.min(b.maxMs, b.baseMs * b.factor ** Math.max(0, attempt - 1));
  return Math.max(0, Math.round(raw * (1 - b.jitter * random())));
}

function rowToClaimed(row: SqlRow): ClaimedTask {
  return {
    ...rowToTask(row),
    attempt: int(row, 'attempts'),
    maxAttempts: int(row, 'max_attempts'),
    fence: int(row, 'fence'),
    workerId: text(row, 'worker_id'),
    leaseUntil: int(row, 'lease_until'),
  };
}

function rowToEntry(row: SqlRow): QueueEntry {
  const backoff = optionalText(row, 'backoff');
  const entry: {
    -readonly [K in keyof QueueEntry]: QueueEntry[K];
  } = {
    taskId: text(row, 'task_id'),
    status: text(row, 'status') as TaskStatus,
    runAt: int(row, 'run_at'),
    attempts: int(row, 'attempts'),
    maxAttempts: int(row, 'max_attempts'),
    fence: int(row, 'fence'),
  };
  if (backoff !== undefined) entry.backoff = decodeJson(backoff) as Backoff;
  const workerId = optionalText(row, 'worker_id');
  if (workerId !== undefined) entry.workerId = workerId;
  const leaseUntil = optionalInt(row, 'lease_until');
  if (leaseUntil !== undefined) entry.leaseUntil = leaseUntil;
  const key = optionalText(row, 'idempotency_key');
  if (key !== undefined) entry.idempotencyKey = key;
  const replayOf = optionalText(row, 'replay_of');
  if (replayOf !== undefined) entry.replayOf = replayOf;
  const lastError = optionalText(row, 'last_error');
  if (lastError !== undefined) entry.lastError = lastError;
  return entry;
}

/**
 * Runs a read of the task engine's tables. A database opened read-only at schema v1 (the Go
 * agent's file, read in place by an engine that cannot upgrade it) has none: an `UnsupportedError`
 * says so, instead of SQLite's "no such table".
 */
async function v2Read<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof SqlError && /no such table: task_(queue|history)/.test(e.message)) {
      throw new UnsupportedError('this database is at schema v1 (opened read-only, so not upgraded): the task engine needs schema v2, which a writable open adds', { cause: e });
    }
    throw e;
  }
}

const QUEUE_COLUMNS = 'task_id, status, run_at, attempts, max_attempts, backoff, worker_id, lease_until, fence, idempotency_key, replay_of, last_error';

/** The task's queue row, or `undefined` when there is no such task. */
export async function queueEntry(ctx: Context, id: string): Promise<QueueEntry | undefined> {
  const key = validateId(id, 'task id');
  const rows = await v2Read(() => ctx.port.all(`SELECT ${QUEUE_COLUMNS} FROM task_queue WHERE task_id = ?`, [key]));
  return rows[0] ? rowToEntry(rows[0]) : undefined;
}

/**
 * Enqueues a pending task. With an `idempotencyKey` seen before (and still kept), changes nothing
 * and resolves with the task that key enqueued. A task id that exists is a {@link ConflictError}.
 */
export async function enqueueTask(ctx: Context, input: EnqueueInput): Promise<Task> {
  const e = validate(EnqueueInputSchema, input, 'task to enqueue');
  const now = ctx.now();
  if (e.idempotencyKey !== undefined) {
    const earlier = await keyed(ctx, e.idempotencyKey, now);
    if (earlier) return earlier;
  }
  const createdAt = e.createdAt ?? now;
  const task: Task = { id: e.id, status: 'pending', command: e.command, params: e.params, callerId: e.callerId ?? '', createdAt, updatedAt: createdAt };
  if (e.responseChannel !== undefined) task.responseChannel = e.responseChannel;
  if (e.responseThread !== undefined) task.responseThread = e.responseThread;
  if ((await ctx.port.all('SELECT 1 AS found FROM tasks WHERE id = ?', [task.id])).length > 0) {
    throw new ConflictError(`a task with id ${JSON.stringify(task.id)} exists already; enqueueTask adds new tasks only (saveTask replaces one)`);
  }
  const statements: SqlStatement[] = [];
  if (e.idempotencyKey !== undefined) {
    // Keys whose time is up and whose task is gone make room (this one, and others on the way).
    statements.push({ sql: 'DELETE FROM task_idempotency WHERE expires_at <= ? AND NOT EXISTS (SELECT 1 FROM tasks WHERE id = task_idempotency.task_id)', params: [now] });
  }
  statements.push(
    {
      sql: `INSERT INTO tasks (${TASK_COLUMNS}) VALUES (?, 'pending', ?, ?, ?, ?, ?, NULL, NULL, ?, ?, NULL)`,
      params: [task.id, task.command, encodeJson(task.params), task.callerId, orNull(task.responseChannel), orNull(task.responseThread), task.createdAt, task.updatedAt],
    },
    {
      sql: 'UPDATE task_queue SET run_at = ?, max_attempts = ?, backoff = ?, idempotency_key = ? WHERE task_id = ?',
      params: [e.runAt ?? createdAt, e.maxAttempts ?? 1, e.backoff === undefined ? null : encodeJson(validate(BackoffSchema, e.backoff, 'backoff')), orNull(e.idempotencyKey), task.id],
    },
  );
  if (e.idempotencyKey !== undefined) {
    statements.push({
      sql: 'INSERT INTO task_idempotency (key, task_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
      params: [e.idempotencyKey, task.id, now, now + (e.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS)],
    });
  }
  try {
    await ctx.port.batch(statements);
  } catch (error) {
    // Another enqueue with the same key (or id) won the race: its task is the answer.
    if (e.idempotencyKey !== undefined) {
      const earlier = await keyed(ctx, e.idempotencyKey, now).catch(() => undefined);
      if (earlier) return earlier;
    }
    if (error instanceof SqlError && /UNIQUE constraint failed: tasks\.id/.test(error.message)) {
      throw new ConflictError(`a task with id ${JSON.stringify(task.id)} exists already`, { cause: error });
    }
    throw error;
  }
  return task;
}

// The task an idempotency key enqueued, when the key is kept; a ConflictError when the key is kept
// but its task is gone (retention deleted it before the key's time was up).
async function keyed(ctx: Context, key: string, now: number): Promise<Task | undefined> {
  const rows = await ctx.port.all('SELECT task_id, expires_at FROM task_idempotency WHERE key = ?', [key]);
  const row = rows[0];
  if (!row) return undefined;
  const task = await getTask(ctx, text(row, 'task_id'));
  if (task) return task;
  if (int(row, 'expires_at') <= now) return undefined;
  throw new ConflictError(
    `idempotency key ${JSON.stringify(key)} enqueued task ${JSON.stringify(text(row, 'task_id'))}, which is gone (deleted by retention); the key is kept until ${new Date(int(row, 'expires_at')).toISOString()}`,
  );
}

/**
 * Claims the oldest due task for `workerId` under a lease of `leaseMs`: a running one whose lease
 * expired (it waited longest; its expiry recorded, its attempt counted), else the pending task whose
 * `runAt` came first, optionally only of `commands`. Running tasks whose lease expired on their last
 * attempt fail. Resolves `undefined` when nothing is due.
 *
 * One statement, `UPDATE task_queue … RETURNING`, atomic on every engine: schema v3's trigger
 * `pa_queue_claimed` records the expiry, moves the task to `running` and fails the exhausted ones
 * in the same statement. Its task columns are read in the statement too, as they were before the
 * trigger ran: the claim sets `status` and `updatedAt` itself.
 */
export async function claimTask(ctx: Context, options: ClaimOptions): Promise<ClaimedTask | undefined> {
  const o = validate(ClaimOptionsSchema, options, 'claim options');
  const now = ctx.now();
  const { sql, params } = claimStatement(o, now);
  const rows = await ctx.port.all(sql, params);
  const row = rows[0];
  if (row) return rowToClaimed({ ...row, status: 'running', updated_at: now });
  // Nothing to claim, so the trigger did not run: exhausted expired leases fail here instead.
  await ctx.port.run(
    "UPDATE tasks SET status = 'failed', error = 'lease expired on its last attempt', completed_at = ?, updated_at = ? WHERE id IN (SELECT task_id FROM task_queue WHERE status = 'running' AND lease_until <= ? AND attempts >= max_attempts)",
    [now, now, now],
  );
  return undefined;
}

/**
 * The statement `claimTask` runs for validated options at `now` (exported for the benchmark that
 * runs the task engine's statements by hand, to tell their cost from the store's).
 */
export function claimStatement(o: ClaimOptions, now: number): SqlStatement {
  const commands = o.commands ?? [];
  const byCommand = commands.length === 0 ? '' : ` AND EXISTS (SELECT 1 FROM tasks WHERE id = task_queue.task_id AND command IN (${commands.map(() => '?').join(', ')}))`;
  return {
    sql: `UPDATE task_queue SET status = 'running', worker_id = ?, lease_until = ?, fence = fence + 1, attempts = attempts + 1, claimed_at = ?
    WHERE task_id = coalesce(
      (SELECT task_id FROM task_queue WHERE status = 'running' AND lease_until <= ? AND attempts < max_attempts${byCommand} ORDER BY lease_until, rowid LIMIT 1),
      (SELECT task_id FROM task_queue WHERE status = 'pending' AND run_at <= ?${byCommand} ORDER BY run_at, rowid LIMIT 1))
    RETURNING ${CLAIM_RETURNING}`,
    params: [o.workerId, now + o.leaseMs, now, now, ...commands, now, ...commands],
  };
}

/** Extends the lease of a task `workerId` holds to `leaseMs` from now; resolves with its new end. */
export async function heartbeatTask(ctx: Context, id: string, workerId: string, options: HeartbeatOptions): Promise<number> {
  const key = validateId(id, 'task id');
  const worker = validateId(workerId, 'worker id');
  const o = validate(HeartbeatOptionsSchema, options, 'heartbeat options');
  const now = ctx.now();
  const until = now + o.leaseMs;
  const { changes } = await ctx.port.run(`UPDATE task_queue SET lease_until = ? WHERE task_id = ? AND ${holds(o.fence)}`, [until, key, ...holdParams(worker, now, o.fence)]);
  if (changes === 0) await lost(ctx, key, worker, now, o.fence);
  return until;
}

/**
 * A failed attempt of a task `workerId` holds: back to `pending` after the backoff while attempts
 * remain (and `retry` is not `false`), else `failed` with the error.
 */
export async function failTask(ctx: Context, id: string, options: FailOptions): Promise<FailResult> {
  const key = validateId(id, 'task id');
  const o = validate(FailOptionsSchema, options, 'fail options');
  const now = ctx.now();
  const rows = await ctx.port.all(`SELECT attempts, max_attempts, backoff, fence FROM task_queue WHERE task_id = ? AND ${holds(o.fence)}`, [key, ...holdParams(o.workerId, now, o.fence)]);
  const row = rows[0];
  if (!row) return lost(ctx, key, o.workerId, now, o.fence);
  const attempt = int(row, 'attempts');
  const fence = int(row, 'fence');
  const again = o.retry !== false && attempt < int(row, 'max_attempts');
  const backoff = optionalText(row, 'backoff');
  const runAt = again ? now + backoffDelay(backoff === undefined ? undefined : (decodeJson(backoff) as Backoff), attempt) : undefined;
  // The fence read above pins the claim: if anything claimed it since, nothing changes. The first
  // statement leaves the holding condition as it was, so the second applies exactly when it did.
  const held = `SELECT 1 FROM task_queue WHERE task_id = ? AND ${holds(fence)}`;
  const results = await ctx.port.batch([
    {
      sql: `UPDATE task_queue SET last_error = ?, run_at = coalesce(?, run_at) WHERE task_id = ? AND ${holds(fence)}`,
      params: [o.error, runAt ?? null, key, ...holdParams(o.workerId, now, fence)],
    },
    {
      sql: `UPDATE tasks SET status = ?, error = ?, completed_at = ?, updated_at = ? WHERE id = ? AND EXISTS (${held})`,
      params: [again ? 'pending' : 'failed', o.error, again ? null : now, now, key, key, ...holdParams(o.workerId, now, fence)],
    },
  ]);
  if ((results[1]?.changes ?? 0) === 0) return lost(ctx, key, o.workerId, now, fence);
  return again ? { status: 'pending', attempt, runAt: runAt as number } : { status: 'failed', attempt };
}

/**
 * Cancels a task that has not ended (pending, running, awaiting approval): `cancelled`, with the
 * reason as its error. A worker holding it gets `LEASE_LOST` from then on. {@link ConflictError}
 * for a task that has ended.
 */
export async function cancelTask(ctx: Context, id: string, reason?: string): Promise<void> {
  const key = validateId(id, 'task id');
  const why = reason === undefined ? null : validateText(reason, 'reason');
  const now = ctx.now();
  const { changes } = await ctx.port.run(
    "UPDATE tasks SET status = 'cancelled', error = ?, completed_at = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'running', 'awaiting_approval')",
    [why === '' ? null : why, now, now, key],
  );
  if (changes > 0) return;
  const task = await getTask(ctx, key);
  if (!task) throw new NotFoundError('task', key);
  throw new ConflictError(`task ${JSON.stringify(key)} has ended (${task.status}); only a task that has not can be cancelled`);
}

function rowToTransition(row: SqlRow): TaskTransition {
  const t: { -readonly [K in keyof TaskTransition]: TaskTransition[K] } = { to: text(row, 'to_status') as TaskStatus, at: int(row, 'at') };
  const from = optionalText(row, 'from_status');
  if (from !== undefined) t.from = from as TaskStatus;
  const attempt = optionalInt(row, 'attempt');
  if (attempt !== undefined) t.attempt = attempt;
  const worker = optionalText(row, 'worker_id');
  if (worker !== undefined) t.workerId = worker;
  const error = optionalText(row, 'error');
  if (error !== undefined) t.error = error;
  return t;
}

/** Every status transition of a task, oldest first (empty for an unknown task). */
export async function taskHistory(ctx: Context, id: string): Promise<TaskTransition[]> {
  const key = validateId(id, 'task id');
  const rows = await v2Read(() => ctx.port.all('SELECT from_status, to_status, at, attempt, worker_id, error FROM task_history WHERE task_id = ? ORDER BY id', [key]));
  return rows.map(rowToTransition);
}

/**
 * The statement `listTransitions` runs for a validated filter (exported for the test that checks
 * its query plan). The window and the cursor both bound `at` from below, so the lower of the two
 * bounds is given once: SQLite takes one range per index, on `idx_task_history_at`.
 */
export function transitionsQuery(f: TransitionFilter): SqlStatement {
  const conditions: string[] = [];
  const params: SqlValue[] = [];
  if (f.taskId !== undefined) {
    conditions.push('task_id = ?');
    params.push(f.taskId);
  }
  const lower = f.after === undefined ? f.since : Math.max(f.since ?? f.after.at, f.after.at);
  if (lower !== undefined) {
    conditions.push('at >= ?');
    params.push(lower);
  }
  if (f.until !== undefined) {
    conditions.push('at < ?');
    params.push(f.until);
  }
  if (f.after !== undefined) {
    // After the cursor in (at, id) order: later, or as late and written after it.
    conditions.push('(at > ? OR id > ?)');
    params.push(f.after.at, f.after.id);
  }
  const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
  return {
    sql: `SELECT id, task_id, from_status, to_status, at, attempt, worker_id, error FROM task_history${where} ORDER BY at, id LIMIT ?`,
    params: [...params, limitParam(f.limit)],
  };
}

/**
 * Transitions across tasks in `[since, until)`, optionally of one task, ordered by `at` then `id`,
 * at most `limit`, after the `after` cursor (a page's last transition).
 */
export async function listTransitions(ctx: Context, filter: TransitionFilter = {}): Promise<TransitionEntry[]> {
  const f = validate(TransitionFilterSchema, filter, 'transition filter');
  const { sql, params } = transitionsQuery(f);
  const rows = await v2Read(() => ctx.port.all(sql, params));
  return rows.map((row) => ({ id: int(row, 'id'), taskId: text(row, 'task_id'), ...rowToTransition(row) }));
}

/**
 * A new pending task with the original's command, params, caller and reply thread, linked to it
 * (`queueEntry(newId).replayOf`), with the original's attempts and backoff. Resolves with it.
 */
export async function replayTask(ctx: Context, id: string, options: ReplayOptions = {}): Promise<Task> {
  const key = validateId(id, 'task id');
  const o = validate(ReplayOptionsSchema, options, 'replay options');
  const newId = o.id ?? `${key}-replay-${opToken().slice(0, 8)}`;
  if (!(await getTask(ctx, key))) throw new NotFoundError('task', key);
  if (await getTask(ctx, newId)) throw new ConflictError(`a task with id ${JSON.stringify(newId)} exists already`);
  const now = ctx.now();
  await ctx.port.batch([
    {
      sql: `INSERT INTO tasks (${TASK_COLUMNS}) SELECT ?, 'pending', command, params, caller_id, response_channel, response_thread, NULL, NULL, ?, ?, NULL FROM tasks WHERE id = ?`,
      params: [newId, now, now, key],
    },
    {
      sql: 'UPDATE task_queue SET replay_of = ?, max_attempts = (SELECT max_attempts FROM task_queue WHERE task_id = ?), backoff = (SELECT backoff FROM task_queue WHERE task_id = ?) WHERE task_id = ?',
      params: [key, key, key, newId],
    },
  ]);
  const task = await getTask(ctx, newId);
  if (!task) throw new NotFoundError('task', key);
  return task;
}

/** How many tasks are due, scheduled, retrying, running, leased, expired, awaiting approval. */
export function queueStats(ctx: Context): Promise<QueueStats> {
  return v2Read(() => readQueueStats(ctx.port, ctx.now()));
}

/**
 * The queue's counts at `now`, what `store.queueStats()` returns, in one aggregate query on `port`:
 * for tools that read a database through a port of their own (`agent-store info`). On a database
 * without the task engine's tables it fails as SQLite does (no such table).
 */
export async function readQueueStats(port: SqlPort, now: number): Promise<QueueStats> {
  const rows = await port.all(
    `SELECT
      coalesce(sum(status = 'pending' AND run_at <= ?), 0) AS due,
      coalesce(sum(status = 'pending' AND run_at > ?), 0) AS scheduled,
      coalesce(sum(status = 'pending' AND attempts > 0), 0) AS retrying,
      coalesce(sum(status = 'running'), 0) AS running,
      coalesce(sum(status = 'running' AND lease_until > ?), 0) AS leased,
      coalesce(sum(status = 'running' AND lease_until <= ?), 0) AS expired,
      coalesce(sum(status = 'awaiting_approval'), 0) AS awaiting
    FROM task_queue WHERE status IN ('pending', 'running', 'awaiting_approval')`,
    [now, now, now, now],
  );
  const r = rows[0] ?? {};
  return { due: int(r, 'due'), scheduled: int(r, 'scheduled'), retrying: int(r, 'retrying'), running: int(r, 'running'), leased: int(r, 'leased'), expired: int(r, 'expired'), awaitingApproval: int(r, 'awaiting') };
}
