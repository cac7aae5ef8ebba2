/**
 * Leases, shared by the task operations of schema v1 and v2: the condition under which a worker
 * holds a task, the error when it does not, and a random token for names made up on the fly.
 */
import { LeaseLostError, NotFoundError } from './errors.js';
import { int, optionalInt, optionalText, text, type Context } from './context.js';
import { newImageId } from './journal.js';

/** A random token (32 hex digits), for ids the store makes up (`replayTask`'s). */
export function opToken(): string {
  return newImageId();
}

/** Throws why `workerId` does not hold task `id` (a `LeaseLostError`), or `NOT_FOUND` when there is no such task. */
export async function lost(ctx: Context, id: string, workerId: string, now: number, fence?: number): Promise<never> {
  const rows = await ctx.port.all('SELECT status, worker_id, lease_until, fence FROM task_queue WHERE task_id = ?', [id]);
  const row = rows[0];
  if (!row) throw new NotFoundError('task', id);
  const status = text(row, 'status');
  const holder = optionalText(row, 'worker_id');
  let why: string;
  if (status !== 'running') why = `it is ${status}`;
  else if (holder !== workerId) why = holder === undefined ? 'nobody holds it' : `worker ${JSON.stringify(holder)} holds it`;
  else if ((optionalInt(row, 'lease_until') ?? 0) <= now) why = 'its lease expired';
  else if (fence !== undefined && int(row, 'fence') !== fence) why = `a later claim holds it (fence ${int(row, 'fence')}, not ${fence})`;
  else why = 'it changed meanwhile';
  throw new LeaseLostError(id, workerId, why);
}

/** The SQL condition under which a worker holds a task (and, with a fence, that very claim); its parameters come from {@link holdParams}. */
export function holds(fence: number | undefined): string {
  return `status = 'running' AND worker_id = ? AND lease_until > ?${fence === undefined ? '' : ' AND fence = ?'}`;
}
/** The parameters of {@link holds}. */
export function holdParams(workerId: string, now: number, fence: number | undefined): (string | number)[] {
  return fence === undefined ? [workerId, now] : [workerId, now, fence];
}

