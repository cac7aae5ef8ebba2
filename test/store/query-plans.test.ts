/**
 * The query plans of reads that must not scan a table that grows with the agent's history: SQLite's
 * own EXPLAIN QUERY PLAN of the exact statement the store runs, on a database the migrations made.
 */
import { describe, expect, it } from 'vitest';
import { createSqlJsEngine, migrate, type TransitionFilter } from '../../src/index.js';
import { transitionsQuery } from '../../src/queue.js';

async function plan(filter: TransitionFilter): Promise<string[]> {
  const engine = await createSqlJsEngine();
  try {
    await migrate(engine);
    const { sql, params } = transitionsQuery(filter);
    return (await engine.all(`EXPLAIN QUERY PLAN ${sql}`, params)).map((row) => String(row.detail));
  } finally {
    await engine.close();
  }
}

describe('listTransitions', () => {
  it('reads a window of time through idx_task_history_at, already in (at, id) order: no scan, no sort', async () => {
    expect(await plan({ since: 1_000, until: 2_000 })).toEqual(['SEARCH task_history USING INDEX idx_task_history_at (at>? AND at<?)']);
    expect(await plan({ since: 1_000 })).toEqual(['SEARCH task_history USING INDEX idx_task_history_at (at>?)']);
    expect(await plan({ until: 2_000 })).toEqual(['SEARCH task_history USING INDEX idx_task_history_at (at<?)']);
    // A page after a cursor starts its range at the cursor's time.
    expect(await plan({ since: 1_000, until: 2_000, after: { at: 1_500, id: 7 }, limit: 100 })).toEqual(['SEARCH task_history USING INDEX idx_task_history_at (at>? AND at<?)']);
    expect(await plan({ after: { at: 1_500, id: 7 }, limit: 100 })).toEqual(['SEARCH task_history USING INDEX idx_task_history_at (at>?)']);
    // No window: every transition, in the index's order (no sort of the whole table).
    expect(await plan({})).toEqual(['SCAN task_history USING INDEX idx_task_history_at']);
  });

  it("reads one task's transitions through idx_task_history_task (a task's few rows are sorted by time)", async () => {
    expect(await plan({ taskId: 't1' })).toEqual(['SEARCH task_history USING INDEX idx_task_history_task (task_id=?)', 'USE TEMP B-TREE FOR ORDER BY']);
    expect(await plan({ taskId: 't1', since: 1_000, until: 2_000 })).toEqual(['SEARCH task_history USING INDEX idx_task_history_task (task_id=?)', 'USE TEMP B-TREE FOR ORDER BY']);
  });
});
