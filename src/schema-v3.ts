/**
 * Schema v3: a claim of the task engine is one statement. It adds one trigger and nothing else (v1's
 * tables stay exactly as they are, v2's too).
 *
 * `claimTask` is a single `UPDATE task_queue … RETURNING` (see `queue.ts`): it moves the chosen
 * queue row to `running` for the worker, with its lease, and raises its fencing token. This
 * trigger does the rest of a claim in the same statement, so it is atomic on every engine (also on
 * Cloudflare D1, which has no interactive transactions) and a claim writes only the rows it must:
 * - a lease that expired is recorded in the task's history (the worker that lost it, its attempt);
 * - the task itself becomes `running` (`pa_tasks_status` then records that transition);
 * - running tasks whose lease expired on their last attempt fail (`claimTask` does the same when it
 *   finds nothing to claim, so they fail either way).
 *
 * v2's first claims marked the row with an `op` token in a multi-statement batch; nothing writes
 * `task_queue.op` any more, and `idx_task_queue_op` (a partial index of the rows that have one)
 * stays empty on a new file.
 */
export const SCHEMA_V3: readonly string[] = [
  `CREATE TRIGGER IF NOT EXISTS pa_queue_claimed AFTER UPDATE OF fence ON task_queue
WHEN NEW.fence > OLD.fence
BEGIN
  INSERT INTO task_history (task_id, from_status, to_status, at, attempt, worker_id, error)
  SELECT NEW.task_id, 'running', 'running', NEW.claimed_at, OLD.attempts, OLD.worker_id, 'lease expired at ' || OLD.lease_until
  WHERE OLD.status = 'running';
  UPDATE tasks SET status = 'running', updated_at = NEW.claimed_at WHERE id = NEW.task_id;
  UPDATE tasks SET status = 'failed', error = 'lease expired on its last attempt', completed_at = NEW.claimed_at, updated_at = NEW.claimed_at
  WHERE id IN (SELECT task_id FROM task_queue WHERE status = 'running' AND lease_until <= NEW.claimed_at AND attempts >= max_attempts);
END`,
];
