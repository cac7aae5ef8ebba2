import { SqlError } from './errors.js';
import { decodeJson, encodeJson } from './json.js';
import { compact, int, limitParam, optionalText, orNull, text, where, type Context } from './context.js';
import {
  AuditEntryInputSchema,
  AuditFilterSchema,
  validate,
  type AuditEntry,
  type AuditEntryInput,
  type AuditFilter,
} from './records.js';
import type { SqlRow } from './sql-port.js';

/** The columns an {@link AuditEntry} is read from. */
export const AUDIT_COLUMNS = 'id, user_id, action, resource, result, details, created_at';
const COLUMNS = AUDIT_COLUMNS;

/** Maps an `audit_log` row to an {@link AuditEntry}. */
export function rowToAuditEntry(row: SqlRow): AuditEntry {
  const details = optionalText(row, 'details');
  return compact({
    id: int(row, 'id'),
    userId: text(row, 'user_id'),
    action: text(row, 'action'),
    resource: optionalText(row, 'resource'),
    result: text(row, 'result'),
    details: details === undefined ? undefined : decodeJson(details),
    createdAt: int(row, 'created_at'),
  });
}

/** Appends an entry (`createdAt` defaults to now); resolves with the id SQLite assigned. */
export async function appendAudit(ctx: Context, input: AuditEntryInput): Promise<number> {
  const e = validate(AuditEntryInputSchema, input, 'audit entry');
  const rows = await ctx.port.all(
    'INSERT INTO audit_log (user_id, action, resource, result, details, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
    [
      e.userId,
      e.action,
      orNull(e.resource),
      e.result,
      e.details === undefined ? null : encodeJson(e.details),
      e.createdAt ?? ctx.now(),
    ],
  );
  const id = rows[0]?.id;
  if (typeof id !== 'number') throw new SqlError('appendAudit: the engine returned no id');
  return id;
}

/**
 * Audit entries, newest first, optionally by user, action and time (`since` inclusive, `until`
 * exclusive), at most `limit`.
 */
export async function listAudit(ctx: Context, filter: AuditFilter = {}): Promise<AuditEntry[]> {
  const f = validate(AuditFilterSchema, filter, 'audit filter');
  const w = where([
    f.userId === undefined ? undefined : ['user_id = ?', f.userId],
    f.action === undefined ? undefined : ['action = ?', f.action],
    f.since === undefined ? undefined : ['created_at >= ?', f.since],
    f.until === undefined ? undefined : ['created_at < ?', f.until],
  ]);
  const rows = await ctx.port.all(`SELECT ${COLUMNS} FROM audit_log${w.sql} ORDER BY created_at DESC, id DESC LIMIT ?`, [
    ...w.params,
    limitParam(f.limit),
  ]);
  return rows.map(rowToAuditEntry);
}
