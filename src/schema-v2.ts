/**
 * Schema v2: the task engine's tables, added beside the Go store's v1 tables, which stay exactly as
 * they are (a v1 reader and writer, the Go agent or the `sqlite3` shell, keep working on the file).
 *
 * - `task_queue`: one row per task (triggers add it for every insert into `tasks`, whoever inserts):
 *   when it may run, its attempts, who holds it and until when (the lease), the fencing token that
 *   grows with every claim, its idempotency key, the task it replays. `status` mirrors
 *   `tasks.status` (kept in step by triggers) so that a claim finds due work through one index.
 * - `task_history`: every status transition of every task, written by triggers on `tasks`, so the
 *   v1 operations and the Go agent's writes are recorded too; a lease that expired is recorded
 *   by the claim that takes the task over. Indexed by task (`taskHistory`) and by time, across
 *   tasks (`listTransitions`).
 * - `task_idempotency`: enqueue keys, kept for a while after the task (see `enqueueTask`).
 *
 * Triggers keep the v2 tables in step with whatever a v1 writer does: its `INSERT OR REPLACE` of a
 * task (the queue row stays: SQLite runs no delete trigger for a REPLACE unless
 * `recursive_triggers` is on, which neither this store nor the Go agent sets), its status
 * updates, its retention deletes (the task's queue and history rows go with it).
 *
 * Every statement is idempotent (`IF NOT EXISTS`, `INSERT OR IGNORE`): the Go agent's own migration
 * writes `schema_version = '1'` back whenever it opens the file, and the store then runs this
 * migration again, which finds everything in place and adds queue rows for the tasks the Go agent
 * inserted meanwhile.
 */
export const SCHEMA_V2: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS task_queue (
  task_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  run_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 1,
  backoff TEXT,
  worker_id TEXT,
  lease_until INTEGER,
  fence INTEGER NOT NULL DEFAULT 0,
  claimed_at INTEGER,
  idempotency_key TEXT,
  replay_of TEXT,
  last_error TEXT,
  op TEXT
)`,
  'CREATE INDEX IF NOT EXISTS idx_task_queue_due ON task_queue(status, run_at)',
  'CREATE INDEX IF NOT EXISTS idx_task_queue_lease ON task_queue(status, lease_until)',
  'CREATE INDEX IF NOT EXISTS idx_task_queue_op ON task_queue(op) WHERE op IS NOT NULL',
  `CREATE TABLE IF NOT EXISTS task_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  from_status TEXT,
  to_status TEXT NOT NULL,
  at INTEGER NOT NULL,
  attempt INTEGER,
  worker_id TEXT,
  error TEXT
)`,
  'CREATE INDEX IF NOT EXISTS idx_task_history_task ON task_history(task_id, id)',
  // Transitions by time across tasks (`listTransitions`); the rowid (`id`) orders equal times.
  'CREATE INDEX IF NOT EXISTS idx_task_history_at ON task_history(at)',
  `CREATE TABLE IF NOT EXISTS task_idempotency (
  key TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
)`,
  'CREATE INDEX IF NOT EXISTS idx_task_idempotency_expires ON task_idempotency(expires_at)',
  // A task saved (a new one, or one replaced whole by INSERT OR REPLACE) whose status differs from
  // the one it replaces: a transition (from NULL for a new task). Before the insert, to see the
  // row it replaces; the attempt and worker are the queue row's.
  `CREATE TRIGGER IF NOT EXISTS pa_tasks_saved_history BEFORE INSERT ON tasks
WHEN (SELECT status FROM tasks WHERE id = NEW.id) IS NOT NEW.status
BEGIN
  INSERT INTO task_history (task_id, from_status, to_status, at, attempt, worker_id, error)
  VALUES (NEW.id, (SELECT status FROM tasks WHERE id = NEW.id), NEW.status, NEW.updated_at,
    (SELECT attempts FROM task_queue WHERE task_id = NEW.id), (SELECT worker_id FROM task_queue WHERE task_id = NEW.id), NEW.error);
END`,
  // Every task has a queue row: a new one runs from its creation, with one attempt; a replaced one
  // keeps its row, with the new status.
  `CREATE TRIGGER IF NOT EXISTS pa_tasks_saved_queue AFTER INSERT ON tasks
BEGIN
  INSERT INTO task_queue (task_id, status, run_at) VALUES (NEW.id, NEW.status, NEW.created_at)
  ON CONFLICT (task_id) DO UPDATE SET status = excluded.status,
    worker_id = CASE WHEN excluded.status = 'running' THEN worker_id END,
    lease_until = CASE WHEN excluded.status = 'running' THEN lease_until END;
END`,
  // A status update: a transition; leaving `running` ends the lease.
  `CREATE TRIGGER IF NOT EXISTS pa_tasks_status AFTER UPDATE OF status ON tasks
WHEN OLD.status IS NOT NEW.status
BEGIN
  INSERT INTO task_history (task_id, from_status, to_status, at, attempt, worker_id, error)
  VALUES (NEW.id, OLD.status, NEW.status, NEW.updated_at,
    (SELECT attempts FROM task_queue WHERE task_id = NEW.id), (SELECT worker_id FROM task_queue WHERE task_id = NEW.id), NEW.error);
  INSERT INTO task_queue (task_id, status, run_at) VALUES (NEW.id, NEW.status, NEW.created_at)
  ON CONFLICT (task_id) DO UPDATE SET status = excluded.status,
    worker_id = CASE WHEN excluded.status = 'running' THEN worker_id END,
    lease_until = CASE WHEN excluded.status = 'running' THEN lease_until END;
END`,
  // A deleted task (retention, or a v1 writer's DELETE) takes its queue row and history with it.
  `CREATE TRIGGER IF NOT EXISTS pa_tasks_deleted AFTER DELETE ON tasks
BEGIN
  DELETE FROM task_queue WHERE task_id = OLD.id;
  DELETE FROM task_history WHERE task_id = OLD.id;
END`,
  // Tasks written before v2 (or by the Go agent while it held the file back at v1) get their rows.
  `INSERT OR IGNORE INTO task_queue (task_id, status, run_at) SELECT id, status, created_at FROM tasks`,
  `UPDATE task_queue SET status = (SELECT status FROM tasks WHERE id = task_queue.task_id)
WHERE status IS NOT (SELECT status FROM tasks WHERE id = task_queue.task_id)`,
];
