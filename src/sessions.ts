import { NotFoundError } from './errors.js';
import { compact, int, limitParam, optionalText, orNull, text, where, type Context } from './context.js';
import {
  SessionContextFilterSchema,
  SessionContextInputSchema,
  ThreadSessionFilterSchema,
  ThreadSessionInputSchema,
  validate,
  validateId,
  validateText,
  type SessionContext,
  type SessionContextFilter,
  type SessionContextInput,
  type ThreadSession,
  type ThreadSessionFilter,
  type ThreadSessionInput,
} from './records.js';
import type { SqlRow } from './sql-port.js';

/** The columns a {@link SessionContext} is read from. */
export const CONTEXT_COLUMNS = 'session_id, channel, thread_ts, user_id, created_at, last_used';
/** The columns a {@link ThreadSession} is read from. */
export const THREAD_COLUMNS = 'channel, thread_ts, session_key, created_at, last_message_at';

/** Maps a `session_contexts` row to a {@link SessionContext}. */
export function rowToSessionContext(row: SqlRow): SessionContext {
  return compact({
    sessionId: text(row, 'session_id'),
    channel: text(row, 'channel'),
    threadTs: text(row, 'thread_ts'),
    userId: optionalText(row, 'user_id'),
    createdAt: int(row, 'created_at'),
    lastUsed: int(row, 'last_used'),
  });
}

/** Maps a `thread_sessions` row to a {@link ThreadSession}. */
export function rowToThreadSession(row: SqlRow): ThreadSession {
  return {
    channel: text(row, 'channel'),
    threadTs: text(row, 'thread_ts'),
    sessionKey: text(row, 'session_key'),
    createdAt: int(row, 'created_at'),
    lastMessageAt: int(row, 'last_message_at'),
  };
}

function threadKey(channel: unknown, threadTs: unknown): [string, string] {
  return [validateText(channel, 'channel'), validateText(threadTs, 'threadTs')];
}

/** INSERT OR REPLACE; `createdAt`/`lastUsed` default to now. Returns the stored context. */
export async function saveSessionContext(ctx: Context, input: SessionContextInput): Promise<SessionContext> {
  const s = validate(SessionContextInputSchema, input, 'session context');
  const now = s.createdAt === undefined || s.lastUsed === undefined ? ctx.now() : 0;
  const context: SessionContext = { ...s, createdAt: s.createdAt ?? now, lastUsed: s.lastUsed ?? now };
  await ctx.port.run(`INSERT OR REPLACE INTO session_contexts (${CONTEXT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`, [
    context.sessionId,
    context.channel,
    context.threadTs,
    orNull(context.userId),
    context.createdAt,
    context.lastUsed,
  ]);
  return compact(context);
}

/** The session context, or `undefined`. */
export async function getSessionContext(ctx: Context, sessionId: string): Promise<SessionContext | undefined> {
  const key = validateId(sessionId, 'session id');
  const rows = await ctx.port.all(`SELECT ${CONTEXT_COLUMNS} FROM session_contexts WHERE session_id = ?`, [key]);
  return rows[0] ? rowToSessionContext(rows[0]) : undefined;
}

/** The most recently used session context of a Slack thread, or `undefined`. */
export async function getSessionContextByThread(
  ctx: Context,
  channel: string,
  threadTs: string,
): Promise<SessionContext | undefined> {
  const rows = await ctx.port.all(
    `SELECT ${CONTEXT_COLUMNS} FROM session_contexts WHERE channel = ? AND thread_ts = ? ORDER BY last_used DESC, rowid DESC LIMIT 1`,
    threadKey(channel, threadTs),
  );
  return rows[0] ? rowToSessionContext(rows[0]) : undefined;
}

/** Sets `lastUsed = now`; {@link NotFoundError} when there is no such context. */
export async function touchSessionContext(ctx: Context, sessionId: string): Promise<void> {
  const key = validateId(sessionId, 'session id');
  const { changes } = await ctx.port.run('UPDATE session_contexts SET last_used = ? WHERE session_id = ?', [ctx.now(), key]);
  if (changes === 0) throw new NotFoundError('session context', key);
}

/** Session contexts, most recently used first, optionally by channel or user, at most `limit`. */
export async function listSessionContexts(ctx: Context, filter: SessionContextFilter = {}): Promise<SessionContext[]> {
  const f = validate(SessionContextFilterSchema, filter, 'session context filter');
  const w = where([
    f.channel === undefined ? undefined : ['channel = ?', f.channel],
    f.userId === undefined ? undefined : ['user_id = ?', f.userId],
  ]);
  const rows = await ctx.port.all(
    `SELECT ${CONTEXT_COLUMNS} FROM session_contexts${w.sql} ORDER BY last_used DESC, rowid DESC LIMIT ?`,
    [...w.params, limitParam(f.limit)],
  );
  return rows.map(rowToSessionContext);
}

/**
 * INSERT OR REPLACE; timestamps default to now, `sessionKey` to `agent:main:slack-<channel>-<threadTs>`
 * (the agent's own form). Returns the stored thread session.
 */
export async function saveThreadSession(ctx: Context, input: ThreadSessionInput): Promise<ThreadSession> {
  const t = validate(ThreadSessionInputSchema, input, 'thread session');
  const now = t.createdAt === undefined || t.lastMessageAt === undefined ? ctx.now() : 0;
  const session: ThreadSession = {
    channel: t.channel,
    threadTs: t.threadTs,
    sessionKey: t.sessionKey ?? `agent:main:slack-${t.channel}-${t.threadTs}`,
    createdAt: t.createdAt ?? now,
    lastMessageAt: t.lastMessageAt ?? now,
  };
  await ctx.port.run(`INSERT OR REPLACE INTO thread_sessions (${THREAD_COLUMNS}) VALUES (?, ?, ?, ?, ?)`, [
    session.channel,
    session.threadTs,
    session.sessionKey,
    session.createdAt,
    session.lastMessageAt,
  ]);
  return session;
}

/** The thread session of `(channel, threadTs)`, or `undefined`. */
export async function getThreadSession(ctx: Context, channel: string, threadTs: string): Promise<ThreadSession | undefined> {
  const rows = await ctx.port.all(
    `SELECT ${THREAD_COLUMNS} FROM thread_sessions WHERE channel = ? AND thread_ts = ?`,
    threadKey(channel, threadTs),
  );
  return rows[0] ? rowToThreadSession(rows[0]) : undefined;
}

/** Sets `lastMessageAt = now`; {@link NotFoundError} when there is no such thread session. */
export async function touchThreadSession(ctx: Context, channel: string, threadTs: string): Promise<void> {
  const [c, t] = threadKey(channel, threadTs);
  const { changes } = await ctx.port.run(
    'UPDATE thread_sessions SET last_message_at = ? WHERE channel = ? AND thread_ts = ?',
    [ctx.now(), c, t],
  );
  if (changes === 0) throw new NotFoundError('thread session', `${c}/${t}`);
}

/** Thread sessions, most recent message first, optionally by channel, at most `limit`. */
export async function listThreadSessions(ctx: Context, filter: ThreadSessionFilter = {}): Promise<ThreadSession[]> {
  const f = validate(ThreadSessionFilterSchema, filter, 'thread session filter');
  const w = where([f.channel === undefined ? undefined : ['channel = ?', f.channel]]);
  const rows = await ctx.port.all(
    `SELECT ${THREAD_COLUMNS} FROM thread_sessions${w.sql} ORDER BY last_message_at DESC, rowid DESC LIMIT ?`,
    [...w.params, limitParam(f.limit)],
  );
  return rows.map(rowToThreadSession);
}
