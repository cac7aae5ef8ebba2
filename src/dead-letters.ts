import { NotFoundError } from './errors.js';
import { compact, int, limitParam, optionalInt, optionalText, orNull, text, type Context } from './context.js';
import {
  DeadLetterFilterSchema,
  DeadLetterInputSchema,
  LimitSchema,
  TimestampSchema,
  validate,
  validateId,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterInput,
  type DeadLetterState,
} from './records.js';
import type { SqlRow } from './sql-port.js';

/** The columns a {@link DeadLetter} is read from. */
export const DEAD_LETTER_COLUMNS = 'id, target_channel, target_thread, message, error, created_at, retry_count, next_retry_at, resolved_at';
const COLUMNS = DEAD_LETTER_COLUMNS;

/** Maps a `dead_letters` row to a {@link DeadLetter}. */
export function rowToDeadLetter(row: SqlRow): DeadLetter {
  return compact({
    id: text(row, 'id'),
    targetChannel: text(row, 'target_channel'),
    targetThread: optionalText(row, 'target_thread'),
    message: text(row, 'message'),
    error: text(row, 'error'),
    createdAt: int(row, 'created_at'),
    retryCount: int(row, 'retry_count'),
    nextRetryAt: optionalInt(row, 'next_retry_at'),
    resolvedAt: optionalInt(row, 'resolved_at'),
  });
}

/** INSERT OR REPLACE; `createdAt` defaults to now, `retryCount` to 0. Returns the stored dead letter. */
export async function saveDeadLetter(ctx: Context, input: DeadLetterInput): Promise<DeadLetter> {
  const d = validate(DeadLetterInputSchema, input, 'dead letter');
  const letter: DeadLetter = { ...d, createdAt: d.createdAt ?? ctx.now(), retryCount: d.retryCount ?? 0 };
  await ctx.port.run(`INSERT OR REPLACE INTO dead_letters (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    letter.id,
    letter.targetChannel,
    orNull(letter.targetThread),
    letter.message,
    letter.error,
    letter.createdAt,
    letter.retryCount,
    orNull(letter.nextRetryAt),
    orNull(letter.resolvedAt),
  ]);
  return compact(letter);
}

/** The dead letter, or `undefined`. */
export async function getDeadLetter(ctx: Context, id: string): Promise<DeadLetter | undefined> {
  const key = validateId(id, 'dead letter id');
  const rows = await ctx.port.all(`SELECT ${COLUMNS} FROM dead_letters WHERE id = ?`, [key]);
  return rows[0] ? rowToDeadLetter(rows[0]) : undefined;
}

/**
 * Dead letters due for a retry: unresolved with `nextRetryAt <= now`, earliest due first, at most
 * `limit`. Given-up letters (no `nextRetryAt`) are never listed.
 */
export async function listRetryable(ctx: Context, limit?: number): Promise<DeadLetter[]> {
  const l = limit === undefined ? undefined : validate(LimitSchema, limit, 'limit');
  const rows = await ctx.port.all(
    `SELECT ${COLUMNS} FROM dead_letters WHERE next_retry_at <= ? AND resolved_at IS NULL ORDER BY next_retry_at ASC, rowid ASC LIMIT ?`,
    [ctx.now(), limitParam(l)],
  );
  return rows.map(rowToDeadLetter);
}

/**
 * Counts a failed retry: `retryCount + 1` and the next retry time; `undefined` gives up (the letter
 * is never listed as retryable again). {@link NotFoundError} when there is no such letter.
 */
export async function incrementRetry(ctx: Context, id: string, nextRetryAt: number | undefined): Promise<void> {
  const key = validateId(id, 'dead letter id');
  const next = nextRetryAt === undefined ? null : validate(TimestampSchema, nextRetryAt, 'nextRetryAt');
  const { changes } = await ctx.port.run(
    'UPDATE dead_letters SET retry_count = retry_count + 1, next_retry_at = ? WHERE id = ?',
    [next, key],
  );
  if (changes === 0) throw new NotFoundError('dead letter', key);
}

/**
 * Marks the letter resolved at now. Resolving again keeps the first resolution time, so retention
 * counts from when it was really resolved. {@link NotFoundError} when there is no such letter.
 */
export async function resolveDeadLetter(ctx: Context, id: string): Promise<void> {
  const key = validateId(id, 'dead letter id');
  const { changes } = await ctx.port.run(
    'UPDATE dead_letters SET resolved_at = COALESCE(resolved_at, ?) WHERE id = ?',
    [ctx.now(), key],
  );
  if (changes === 0) throw new NotFoundError('dead letter', key);
}

const STATE_CONDITION: Record<DeadLetterState, string> = {
  due: 'resolved_at IS NULL AND next_retry_at <= ?',
  waiting: 'resolved_at IS NULL AND next_retry_at > ?',
  given_up: 'resolved_at IS NULL AND next_retry_at IS NULL',
  resolved: 'resolved_at IS NOT NULL',
};

/** Dead letters, newest first, optionally in one state (due / waiting / given_up / resolved), at most `limit`. */
export async function listDeadLetters(ctx: Context, filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
  const f = validate(DeadLetterFilterSchema, filter, 'dead letter filter');
  const condition = f.state === undefined ? '' : ` WHERE ${STATE_CONDITION[f.state]}`;
  const params = f.state === 'due' || f.state === 'waiting' ? [ctx.now()] : [];
  const rows = await ctx.port.all(
    `SELECT ${COLUMNS} FROM dead_letters${condition} ORDER BY created_at DESC, rowid DESC LIMIT ?`,
    [...params, limitParam(f.limit)],
  );
  return rows.map(rowToDeadLetter);
}
