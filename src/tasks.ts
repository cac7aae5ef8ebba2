import { NotFoundError, ValidationError } from './errors.js';
import { holdParams, holds, lost } from './leases.js';
import { decodeJson, encodeJson } from './json.js';
import { int, limitParam, optionalInt, optionalText, orNull, text, where, type Context } from './context.js';
import {
  TaskOutcomeSchema,
  validate,
  validateId,
  validateTaskFilter,
  validateTaskInput,
  validateTaskStatus,
  type Task,
  type TaskFilter,
  type TaskInput,
  type TaskOutcome,
  type TaskStatus,
} from './records.js';
import type { SqlRow, SqlStatement } from './sql-port.js';

/** The `tasks` columns, in the order the store reads and writes them. */
export const TASK_COLUMNS =
  'id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at';
const COLUMNS = TASK_COLUMNS;

/** Maps a `tasks` row to a {@link Task}. */
export function rowToTask(row: SqlRow): Task {
  const result = optionalText(row, 'result');
  const task: Task = {
    id: text(row, 'id'),
    status: text(row, 'status') as TaskStatus,
    command: text(row, 'command'),
    params: decodeJson(text(row, 'params')),
    callerId: text(row, 'caller_id'),
    createdAt: int(row, 'created_at'),
    updatedAt: int(row, 'updated_at'),
  };
  const responseChannel = optionalText(row, 'response_channel');
  if (responseChannel !== undefined) task.responseChannel = responseChannel;
  const responseThread = optionalText(row, 'response_thread');
  if (responseThread !== undefined) task.responseThread = responseThread;
  if (result !== undefined) task.result = decodeJson(result);
  const error = optionalText(row, 'error');
  if (error !== undefined) task.error = error;
  const completedAt = optionalInt(row, 'completed_at');
  if (completedAt !== undefined) task.completedAt = completedAt;
  return task;
}

/** INSERT OR REPLACE of every column; `createdAt`/`updatedAt` default to now. Returns the stored task. */
export async function saveTask(ctx: Context, input: TaskInput): Promise<Task> {
  const { task: t, paramsJson, resultJson } = validateTaskInput(input);
  const now = t.createdAt === undefined || t.updatedAt === undefined ? ctx.now() : 0;
  // Built field by field, so the returned record has exactly the keys a read gives.
  const task: Task = {
    id: t.id,
    status: t.status ?? 'pending',
    command: t.command,
    params: t.params,
    callerId: t.callerId ?? '',
    createdAt: t.createdAt ?? now,
    updatedAt: t.updatedAt ?? now,
  };
  if (t.responseChannel !== undefined) task.responseChannel = t.responseChannel;
  if (t.responseThread !== undefined) task.responseThread = t.responseThread;
  if (t.result !== undefined) task.result = t.result;
  if (t.error !== undefined) task.error = t.error;
  if (t.completedAt !== undefined) task.completedAt = t.completedAt;
  await ctx.port.run(`INSERT OR REPLACE INTO tasks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    task.id,
    task.status,
    task.command,
    paramsJson,
    task.callerId,
    orNull(task.responseChannel),
    orNull(task.responseThread),
    orNull(resultJson),
    orNull(task.error),
    task.createdAt,
    task.updatedAt,
    orNull(task.completedAt),
  ]);
  return task;
}

/** The task, or `undefined` when there is none. */
export async function getTask(ctx: Context, id: string): Promise<Task | undefined> {
  const key = validateId(id, 'task id');
  const rows = await ctx.port.all(`SELECT ${COLUMNS} FROM tasks WHERE id = ?`, [key]);
  return rows[0] ? rowToTask(rows[0]) : undefined;
}

/** Sets the status and `updatedAt = now`; {@link NotFoundError} when there is no such task. */
export async function updateTaskStatus(ctx: Context, id: string, status: TaskStatus): Promise<void> {
  const key = validateId(id, 'task id');
  const s = validateTaskStatus(status, 'task status');
  const { changes } = await ctx.port.run('UPDATE tasks SET status = ?, updated_at = ? WHERE id = ?', [s, ctx.now(), key]);
  if (changes === 0) throw new NotFoundError('task', key);
}

/**
 * Ends a task: status `failed` when `error` is a non-empty string, otherwise `completed` (the Go
 * store set `completed` in both cases); `result`/`error` are stored (NULL when absent),
 * `completedAt = updatedAt = now`. {@link NotFoundError} when there is no such task. With
 * `workerId`, only while that worker holds the task's lease (see `claimTask`).
 */
export async function completeTask(ctx: Context, id: string, outcome: TaskOutcome = {}): Promise<void> {
  const key = validateId(id, 'task id');
  const o = validate(TaskOutcomeSchema, outcome, 'task outcome');
  if (o.workerId !== undefined) return completeClaimed(ctx, key, { ...o, workerId: o.workerId });
  if (o.fence !== undefined) throw ValidationError.of('task outcome', 'fence goes with workerId (the claim it checks)');
  const error = o.error === undefined || o.error === '' ? null : o.error;
  const now = ctx.now();
  const { changes } = await ctx.port.run(
    'UPDATE tasks SET status = ?, result = ?, error = ?, completed_at = ?, updated_at = ? WHERE id = ?',
    [error === null ? 'completed' : 'failed', o.result === undefined ? null : encodeJson(o.result), error, now, now, key],
  );
  if (changes === 0) throw new NotFoundError('task', key);
}

/** Tasks, newest first (`createdAt` descending), optionally by status and caller, at most `limit`. */
export async function listTasks(ctx: Context, filter: TaskFilter = {}): Promise<Task[]> {
  const f = validateTaskFilter(filter);
  const w = where([
    f.status === undefined ? undefined : ['status = ?', f.status],
    f.callerId === undefined ? undefined : ['caller_id = ?', f.callerId],
  ]);
  const rows = await ctx.port.all(`SELECT ${COLUMNS} FROM tasks${w.sql} ORDER BY created_at DESC, rowid DESC LIMIT ?`, [
    ...w.params,
    limitParam(f.limit),
  ]);
  return rows.map(rowToTask);
}

/** Marks every `running` task `failed` with error `stuck_on_startup`; returns how many. Run once at start-up. */
export async function failStuckTasks(ctx: Context): Promise<number> {
  const now = ctx.now();
  const { changes } = await ctx.port.run(
    "UPDATE tasks SET status = 'failed', error = 'stuck_on_startup', completed_at = ?, updated_at = ? WHERE status = 'running'",
    [now, now],
  );
  return changes;
}

/** The pending tasks, oldest first, to enqueue again at start-up. Changes nothing. */
export async function requeuePendingTasks(ctx: Context): Promise<Task[]> {
  const rows = await ctx.port.all(
    `SELECT ${COLUMNS} FROM tasks WHERE status = 'pending' ORDER BY created_at ASC, rowid ASC`,
  );
  return rows.map(rowToTask);
}

/**
 * The one statement that ends a task `outcome.workerId` holds (and that very claim, with a fence):
 * it changes nothing when the worker does not hold it. Exported for the benchmark that runs the
 * task engine's statements by hand.
 */
export function completionStatement(id: string, outcome: TaskOutcome & { workerId: string }, now: number): SqlStatement {
  const error = outcome.error === undefined || outcome.error === '' ? null : outcome.error;
  return {
    sql: `UPDATE tasks SET status = ?, result = ?, error = ?, completed_at = ?, updated_at = ? WHERE id = ? AND EXISTS (SELECT 1 FROM task_queue WHERE task_id = ? AND ${holds(outcome.fence)})`,
    params: [error === null ? 'completed' : 'failed', outcome.result === undefined ? null : encodeJson(outcome.result), error, now, now, id, id, ...holdParams(outcome.workerId, now, outcome.fence)],
  };
}

/**
 * Ends a task a worker holds (`outcome.workerId`): as `completeTask` does, once the lease is checked.
 * {@link LeaseLostError} when the worker no longer holds it.
 */
export async function completeClaimed(ctx: Context, id: string, outcome: TaskOutcome & { workerId: string }): Promise<void> {
  const now = ctx.now();
  const { sql, params } = completionStatement(id, outcome, now);
  const { changes } = await ctx.port.run(sql, params);
  if (changes === 0) await lost(ctx, id, outcome.workerId, now, outcome.fence);
}
