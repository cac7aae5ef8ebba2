import { compact, int, limitParam, optionalText, orNull, text, where, type Context } from './context.js';
import {
  ApprovalFilterSchema,
  PendingApprovalInputSchema,
  TimestampSchema,
  validate,
  validateId,
  type ApprovalFilter,
  type PendingApproval,
  type PendingApprovalInput,
} from './records.js';
import type { SqlRow } from './sql-port.js';

/** The columns a {@link PendingApproval} is read from. */
export const APPROVAL_COLUMNS = 'request_id, task_id, caller_id, permission, action, resource, channel_id, thread_ts, created_at';
const COLUMNS = APPROVAL_COLUMNS;

/** Maps a `pending_approvals` row to a {@link PendingApproval}. */
export function rowToApproval(row: SqlRow): PendingApproval {
  return compact({
    requestId: text(row, 'request_id'),
    taskId: text(row, 'task_id'),
    callerId: text(row, 'caller_id'),
    permission: text(row, 'permission'),
    action: text(row, 'action'),
    resource: text(row, 'resource'),
    channelId: optionalText(row, 'channel_id'),
    threadTs: optionalText(row, 'thread_ts'),
    createdAt: int(row, 'created_at'),
  });
}

/** INSERT OR REPLACE; `createdAt` defaults to now. Returns the stored approval. */
export async function saveApproval(ctx: Context, input: PendingApprovalInput): Promise<PendingApproval> {
  const a = validate(PendingApprovalInputSchema, input, 'pending approval');
  const approval: PendingApproval = { ...a, createdAt: a.createdAt ?? ctx.now() };
  await ctx.port.run(`INSERT OR REPLACE INTO pending_approvals (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    approval.requestId,
    approval.taskId,
    approval.callerId,
    approval.permission,
    approval.action,
    approval.resource,
    orNull(approval.channelId),
    orNull(approval.threadTs),
    approval.createdAt,
  ]);
  return compact(approval);
}

/** The approval, or `undefined`. */
export async function getApproval(ctx: Context, requestId: string): Promise<PendingApproval | undefined> {
  const key = validateId(requestId, 'approval request id');
  const rows = await ctx.port.all(`SELECT ${COLUMNS} FROM pending_approvals WHERE request_id = ?`, [key]);
  return rows[0] ? rowToApproval(rows[0]) : undefined;
}

/** Deletes the approval; a missing one is no error. Resolves `true` when a row was deleted. */
export async function deleteApproval(ctx: Context, requestId: string): Promise<boolean> {
  const key = validateId(requestId, 'approval request id');
  const { changes } = await ctx.port.run('DELETE FROM pending_approvals WHERE request_id = ?', [key]);
  return changes > 0;
}

/** Approvals created more than `maxAgeMs` ago (`createdAt < now - maxAgeMs`), oldest first. */
export async function listExpiredApprovals(ctx: Context, maxAgeMs: number): Promise<PendingApproval[]> {
  const age = validate(TimestampSchema, maxAgeMs, 'maxAgeMs');
  const rows = await ctx.port.all(
    `SELECT ${COLUMNS} FROM pending_approvals WHERE created_at < ? ORDER BY created_at ASC, rowid ASC`,
    [ctx.now() - age],
  );
  return rows.map(rowToApproval);
}

/** Approvals, newest first, optionally by task or caller, at most `limit`. */
export async function listApprovals(ctx: Context, filter: ApprovalFilter = {}): Promise<PendingApproval[]> {
  const f = validate(ApprovalFilterSchema, filter, 'approval filter');
  const w = where([
    f.taskId === undefined ? undefined : ['task_id = ?', f.taskId],
    f.callerId === undefined ? undefined : ['caller_id = ?', f.callerId],
  ]);
  const rows = await ctx.port.all(
    `SELECT ${COLUMNS} FROM pending_approvals${w.sql} ORDER BY created_at DESC, rowid DESC LIMIT ?`,
    [...w.params, limitParam(f.limit)],
  );
  return rows.map(rowToApproval);
}
