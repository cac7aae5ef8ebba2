import type { Context } from './context.js';
import { RetentionPolicySchema, validate, type RetentionPolicy, type RetentionResult } from './records.js';
import type { SqlStatement } from './sql-port.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** The Go agent's retention, in ms per table. */
export const DEFAULT_RETENTION: Readonly<Required<{ [K in keyof RetentionPolicy]: number }>> = {
  tasks: 7 * DAY,
  pendingApprovals: HOUR,
  sessionContexts: DAY,
  threadSessions: 7 * DAY,
  deadLetters: DAY,
  auditLog: 30 * DAY,
};

// "older than" is strict: a row exactly maxAge old stays, one a millisecond older goes.
const RULES: Record<keyof RetentionResult, string> = {
  tasks: 'DELETE FROM tasks WHERE completed_at IS NOT NULL AND completed_at < ?',
  pendingApprovals: 'DELETE FROM pending_approvals WHERE created_at < ?',
  sessionContexts: 'DELETE FROM session_contexts WHERE last_used < ?',
  threadSessions: 'DELETE FROM thread_sessions WHERE last_message_at < ?',
  deadLetters: 'DELETE FROM dead_letters WHERE resolved_at IS NOT NULL AND resolved_at < ?',
  auditLog: 'DELETE FROM audit_log WHERE created_at < ?',
};

/**
 * Deletes old rows per table (see {@link DEFAULT_RETENTION}; `policy` overrides per table, `false`
 * keeps a table). All deletes run as one atomic batch. Resolves with the rows deleted per table.
 */
export async function runRetention(ctx: Context, policy: RetentionPolicy = {}): Promise<RetentionResult> {
  const p = validate(RetentionPolicySchema, policy, 'retention policy');
  const now = ctx.now();
  const tables = Object.keys(RULES) as (keyof RetentionResult)[];
  const active = tables.filter((t) => p[t] !== false);
  const statements: SqlStatement[] = active.map((t) => {
    const maxAge = p[t];
    return { sql: RULES[t], params: [now - (typeof maxAge === 'number' ? maxAge : DEFAULT_RETENTION[t])] };
  });
  const results = await ctx.port.batch(statements);
  const deleted: RetentionResult = {
    tasks: 0,
    pendingApprovals: 0,
    sessionContexts: 0,
    threadSessions: 0,
    deadLetters: 0,
    auditLog: 0,
  };
  active.forEach((t, i) => (deleted[t] = results[i]?.changes ?? 0));
  return deleted;
}
