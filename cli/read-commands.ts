/**
 * The reading commands: `info` and one listing per table, with the filters the store's API has.
 * They open the database read-only, so they work while the agent runs and never change a byte.
 */
import { basename } from 'node:path';
import type { DeadLetter, QueueStats, SqlPort, SqlRow, SqlValue } from '../src/index.js';
import { checkpointThreshold, readQueueStats, SCHEMA_VERSION, TaskStatusSchema, DeadLetterStateSchema } from '../src/index.js';
import type { Command, CommandContext } from './command.js';
import { fileImage, fileSizes, inspecting, lockHolder, reading, requireFile, rowCounts } from './database.js';
import { UsageError } from './errors.js';
import { age, bytes, parseDuration, parsePositiveInt, parseTime, table, time } from './format.js';
import { NO_QUEUE_YET } from './queue-commands.js';

const LIMIT = { type: 'string', arg: '<n>', help: 'at most this many rows (newest first)' } as const;

function str(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.options[name];
  return typeof v === 'string' ? v : undefined;
}

function limitOf(ctx: CommandContext): number | undefined {
  const v = str(ctx, 'limit');
  return v === undefined ? undefined : parsePositiveInt(v, '--limit');
}

function rowsResult<T>(rows: T[], text: string, what: string) {
  return { json: rows, text: rows.length === 0 ? `no ${what}` : `${text}\n${rows.length} ${what}` };
}

/**
 * The task queue's counts at `now`, as `queueStats()` gives them, in one aggregate query; `null` for
 * a database without the task engine's tables (schema v1 read where it cannot be upgraded).
 */
async function queueCounts(sql: SqlPort, now: number): Promise<QueueStats | null> {
  if ((await sql.all("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'task_queue'")).length === 0) return null;
  return readQueueStats(sql, now);
}

/** `due 3, scheduled 0, …`: a queue's counts on one line. */
function queueText(q: QueueStats | null): string {
  if (q === null) return NO_QUEUE_YET;
  return `due ${q.due}, scheduled ${q.scheduled}, retrying ${q.retrying}, running ${q.running} (leased ${q.leased}, lease expired ${q.expired}), awaiting approval ${q.awaitingApproval}`;
}

const info: Command = {
  name: 'info',
  usage: '<db>',
  summary: 'schema version, sizes, rows per table, oldest and newest task, the task queue, who owns it, the last checkpoint',
  options: {},
  positionals: [1, 1],
  async run(ctx) {
    const path = ctx.args[0] as string;
    requireFile(path);
    const { schemaVersion: onDisk, checkpoint } = await fileImage(path);
    const sizes = fileSizes(path);
    const owner = lockHolder(path);
    const stats = await inspecting(path, ctx.onWarning, async (engine) => {
      const tables = await rowCounts(engine);
      const byStatus: Record<string, number> = {};
      for (const row of await engine.all('SELECT status, count(*) AS n FROM tasks GROUP BY status ORDER BY status')) byStatus[String(row.status)] = Number(row.n);
      const edge = async (order: 'ASC' | 'DESC') => {
        // Ties broken by rowid, as listTasks does: the order idx_tasks_created keeps (by id, it
        // sorted the whole table: 170 ms at 200 MiB).
        const row = (await engine.all(`SELECT id, created_at FROM tasks ORDER BY created_at ${order}, rowid ${order} LIMIT 1`))[0];
        return row ? { id: String(row.id), createdAt: Number(row.created_at) } : null;
      };
      const page = await engine.all('SELECT page_count * page_size AS bytes, freelist_count * page_size AS free FROM pragma_page_count(), pragma_page_size(), pragma_freelist_count()');
      return { tables, byStatus, oldest: await edge('ASC'), newest: await edge('DESC'), dbBytes: Number(page[0]?.bytes ?? 0), freeBytes: Number(page[0]?.free ?? 0), queue: await queueCounts(engine, Date.now()) };
    });
    // The threshold a store with the default settings uses on this image.
    const threshold = checkpointThreshold(undefined, sizes.imageBytes);
    const result = {
      database: path,
      schemaVersion: onDisk,
      schemaVersionSupported: SCHEMA_VERSION,
      imageBytes: sizes.imageBytes,
      journalBytes: sizes.journalBytes,
      dbBytes: stats.dbBytes,
      freeBytes: stats.freeBytes,
      owner: owner ?? null,
      checkpoint: { last: checkpoint ?? null, journalBytes: sizes.journalBytes, thresholdBytes: threshold },
      tables: stats.tables,
      tasks: { byStatus: stats.byStatus, oldest: stats.oldest, newest: stats.newest },
      queue: stats.queue,
    };
    const lines = [
      `database     ${basename(path)} (${path})`,
      `schema       v${onDisk}${onDisk < SCHEMA_VERSION ? ` (not migrated: agent-store migrate brings it to v${SCHEMA_VERSION})` : ` (this package reads up to v${SCHEMA_VERSION})`}`,
      `size         image ${bytes(sizes.imageBytes)}, journal ${bytes(sizes.journalBytes)}, database ${bytes(stats.dbBytes)}`,
      `free         ${bytes(stats.freeBytes)} in free pages (${stats.dbBytes > 0 ? Math.round((100 * stats.freeBytes) / stats.dbBytes) : 0}% of the database)${stats.freeBytes > 0 ? ': agent-store retention gives them back (store.reclaimSpace())' : ''}`,
      `owner        ${owner ? `process ${owner.pid ?? '?'} on ${owner.host ?? '?'} since ${owner.since ?? '?'}${owner.stale ? ' (stale: that process is gone; the next writer takes over)' : ''}` : 'none (no store has it open for writing)'}`,
      `checkpoint   ${
        checkpoint
          ? `the image is from ${time(checkpoint.at)}: its export took ${checkpoint.exportMs} ms${checkpoint.previousMs === undefined ? '' : `; the checkpoint before it took ${checkpoint.previousMs} ms in all`}`
          : 'the image carries no checkpoint stamp (written before stamps, by the Go agent, or exported)'
      }; the next starts when the journal (${bytes(sizes.journalBytes)}) reaches ${bytes(threshold)}`,
      '',
      table(
        Object.entries(stats.tables).map(([name, rows]) => ({ name, rows })),
        [
          { title: 'table', value: (r) => r.name },
          { title: 'rows', value: (r) => r.rows },
        ],
      ),
      '',
      `tasks        ${Object.entries(stats.byStatus).map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}`,
      `oldest task  ${stats.oldest ? `${stats.oldest.id} at ${time(stats.oldest.createdAt)}` : '-'}`,
      `newest task  ${stats.newest ? `${stats.newest.id} at ${time(stats.newest.createdAt)}` : '-'}`,
      `queue        ${queueText(stats.queue)}`,
    ];
    return { json: result, text: lines.join('\n') };
  },
};

const tasks: Command = {
  name: 'tasks',
  usage: '<db> [--status <status>] [--caller <id>] [--limit <n>]',
  summary: 'tasks, newest first',
  options: {
    status: { type: 'string', arg: '<status>', help: `only this status: ${TaskStatusSchema.options.join(', ')}` },
    caller: { type: 'string', arg: '<id>', help: 'only tasks of this caller (Slack user id)' },
    limit: LIMIT,
  },
  positionals: [1, 1],
  async run(ctx) {
    const status = str(ctx, 'status');
    if (status !== undefined && !TaskStatusSchema.safeParse(status).success) throw new UsageError(`--status must be one of ${TaskStatusSchema.options.join(', ')}, not "${status}"`);
    const filter = { ...(status ? { status: status as never } : {}), ...(str(ctx, 'caller') !== undefined ? { callerId: str(ctx, 'caller') } : {}), ...(limitOf(ctx) ? { limit: limitOf(ctx) } : {}) };
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) => store.listTasks(filter));
    return rowsResult(
      rows,
      table(rows, [
        { title: 'id', value: (t) => t.id, max: 36 },
        { title: 'status', value: (t) => t.status },
        { title: 'command', value: (t) => t.command, max: 24 },
        { title: 'caller', value: (t) => t.callerId, max: 16 },
        { title: 'created', value: (t) => time(t.createdAt) },
        { title: 'completed', value: (t) => time(t.completedAt) },
        { title: 'error', value: (t) => t.error ?? '', max: 40 },
      ]),
      'tasks',
    );
  },
};

const approvals: Command = {
  name: 'approvals',
  usage: '<db> [--task <id>] [--caller <id>] [--expired <age>] [--limit <n>]',
  summary: 'pending approvals with their age, newest first',
  options: {
    task: { type: 'string', arg: '<id>', help: 'only approvals of this task' },
    caller: { type: 'string', arg: '<id>', help: 'only approvals requested by this caller' },
    expired: { type: 'string', arg: '<age>', help: 'only approvals older than this (15m, 1h): listExpiredApprovals, oldest first' },
    limit: LIMIT,
  },
  positionals: [1, 1],
  async run(ctx) {
    const expired = str(ctx, 'expired');
    if (expired !== undefined && (str(ctx, 'task') !== undefined || str(ctx, 'caller') !== undefined || str(ctx, 'limit') !== undefined)) {
      throw new UsageError('--expired lists every expired approval; it does not combine with --task, --caller or --limit');
    }
    const now = Date.now();
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) =>
      expired !== undefined
        ? store.listExpiredApprovals(parseDuration(expired, '--expired'))
        : store.listApprovals({ ...(str(ctx, 'task') !== undefined ? { taskId: str(ctx, 'task') } : {}), ...(str(ctx, 'caller') !== undefined ? { callerId: str(ctx, 'caller') } : {}), ...(limitOf(ctx) ? { limit: limitOf(ctx) } : {}) }),
    );
    return rowsResult(
      rows,
      table(rows, [
        { title: 'request', value: (a) => a.requestId, max: 32 },
        { title: 'task', value: (a) => a.taskId, max: 32 },
        { title: 'caller', value: (a) => a.callerId, max: 16 },
        { title: 'permission', value: (a) => a.permission, max: 24 },
        { title: 'action', value: (a) => a.action, max: 16 },
        { title: 'resource', value: (a) => a.resource, max: 24 },
        { title: 'age', value: (a) => age(now - a.createdAt) },
      ]),
      'approvals',
    );
  },
};

const sessions: Command = {
  name: 'sessions',
  usage: '<db> [--channel <id>] [--user <id>] [--limit <n>]',
  summary: 'session contexts, most recently used first',
  options: {
    channel: { type: 'string', arg: '<id>', help: 'only this Slack channel' },
    user: { type: 'string', arg: '<id>', help: 'only this user' },
    limit: LIMIT,
  },
  positionals: [1, 1],
  async run(ctx) {
    const filter = { ...(str(ctx, 'channel') !== undefined ? { channel: str(ctx, 'channel') } : {}), ...(str(ctx, 'user') !== undefined ? { userId: str(ctx, 'user') } : {}), ...(limitOf(ctx) ? { limit: limitOf(ctx) } : {}) };
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) => store.listSessionContexts(filter));
    return rowsResult(
      rows,
      table(rows, [
        { title: 'session', value: (s) => s.sessionId, max: 36 },
        { title: 'channel', value: (s) => s.channel, max: 16 },
        { title: 'thread', value: (s) => s.threadTs, max: 20 },
        { title: 'user', value: (s) => s.userId ?? '', max: 16 },
        { title: 'created', value: (s) => time(s.createdAt) },
        { title: 'last used', value: (s) => time(s.lastUsed) },
      ]),
      'sessions',
    );
  },
};

const threads: Command = {
  name: 'threads',
  usage: '<db> [--channel <id>] [--limit <n>]',
  summary: 'thread sessions, latest message first',
  options: { channel: { type: 'string', arg: '<id>', help: 'only this Slack channel' }, limit: LIMIT },
  positionals: [1, 1],
  async run(ctx) {
    const filter = { ...(str(ctx, 'channel') !== undefined ? { channel: str(ctx, 'channel') } : {}), ...(limitOf(ctx) ? { limit: limitOf(ctx) } : {}) };
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) => store.listThreadSessions(filter));
    return rowsResult(
      rows,
      table(rows, [
        { title: 'channel', value: (t) => t.channel, max: 16 },
        { title: 'thread', value: (t) => t.threadTs, max: 20 },
        { title: 'session key', value: (t) => t.sessionKey, max: 56 },
        { title: 'created', value: (t) => time(t.createdAt) },
        { title: 'last message', value: (t) => time(t.lastMessageAt) },
      ]),
      'threads',
    );
  },
};

/** The state a dead letter is in, as `dlq` shows it. */
export function letterState(d: DeadLetter, now: number): 'due' | 'waiting' | 'given_up' | 'resolved' {
  if (d.resolvedAt !== undefined) return 'resolved';
  if (d.nextRetryAt === undefined) return 'given_up';
  return d.nextRetryAt <= now ? 'due' : 'waiting';
}

const dlq: Command = {
  name: 'dlq',
  usage: '<db> [--state due|waiting|given_up|resolved] [--retryable] [--limit <n>]',
  summary: 'the dead-letter queue (failed Slack messages), newest first',
  options: {
    state: { type: 'string', arg: '<state>', help: `only this state: ${DeadLetterStateSchema.options.join(', ')}` },
    retryable: { type: 'boolean', help: 'what the agent retries now (listRetryable: due and unresolved, earliest due first)' },
    limit: LIMIT,
  },
  positionals: [1, 1],
  async run(ctx) {
    const state = str(ctx, 'state');
    if (state !== undefined && !DeadLetterStateSchema.safeParse(state).success) throw new UsageError(`--state must be one of ${DeadLetterStateSchema.options.join(', ')}, not "${state}"`);
    if (state !== undefined && ctx.options.retryable === true) throw new UsageError('--retryable and --state do not combine');
    const now = Date.now();
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) =>
      ctx.options.retryable === true ? store.listRetryable(limitOf(ctx)) : store.listDeadLetters({ ...(state ? { state: state as never } : {}), ...(limitOf(ctx) ? { limit: limitOf(ctx) } : {}) }),
    );
    return rowsResult(
      rows,
      table(rows, [
        { title: 'id', value: (d) => d.id, max: 32 },
        { title: 'state', value: (d) => letterState(d, now) },
        { title: 'channel', value: (d) => d.targetChannel, max: 16 },
        { title: 'retries', value: (d) => d.retryCount },
        { title: 'next retry', value: (d) => time(d.nextRetryAt) },
        { title: 'error', value: (d) => d.error, max: 32 },
        { title: 'message', value: (d) => d.message, max: 40 },
      ]),
      'dead letters',
    );
  },
};

const audit: Command = {
  name: 'audit',
  usage: '<db> [--user <id>] [--action <action>] [--since <time>] [--until <time>] [--limit <n>]',
  summary: 'the audit log, newest first',
  details: 'Times are dates (2026-11-27, 2026-11-27T09:00Z), Unix ms, or a duration ago (24h, 7d). --since is inclusive, --until exclusive.',
  options: {
    user: { type: 'string', arg: '<id>', help: 'only entries of this user' },
    action: { type: 'string', arg: '<action>', help: 'only this action (approve, deny, …)' },
    since: { type: 'string', arg: '<time>', help: 'from this time on' },
    until: { type: 'string', arg: '<time>', help: 'before this time' },
    limit: LIMIT,
  },
  positionals: [1, 1],
  async run(ctx) {
    const now = Date.now();
    const since = str(ctx, 'since');
    const until = str(ctx, 'until');
    const filter = {
      ...(str(ctx, 'user') !== undefined ? { userId: str(ctx, 'user') } : {}),
      ...(str(ctx, 'action') !== undefined ? { action: str(ctx, 'action') } : {}),
      ...(since !== undefined ? { since: parseTime(since, '--since', now) } : {}),
      ...(until !== undefined ? { until: parseTime(until, '--until', now) } : {}),
      ...(limitOf(ctx) ? { limit: limitOf(ctx) } : {}),
    };
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) => store.listAudit(filter));
    return rowsResult(
      rows,
      table(rows, [
        { title: 'id', value: (a) => a.id },
        { title: 'time', value: (a) => time(a.createdAt) },
        { title: 'user', value: (a) => a.userId, max: 16 },
        { title: 'action', value: (a) => a.action, max: 16 },
        { title: 'resource', value: (a) => a.resource ?? '', max: 32 },
        { title: 'result', value: (a) => a.result, max: 16 },
        { title: 'details', value: (a) => a.details ?? '', max: 40 },
      ]),
      'audit entries',
    );
  },
};

/** `--params '[1, "x", null]'`: a JSON array of strings, numbers and nulls (the store checks each value). */
function paramsOf(ctx: CommandContext): SqlValue[] | undefined {
  const texts = ctx.options.param;
  const json = str(ctx, 'params');
  if (json !== undefined && Array.isArray(texts) && texts.length > 0) throw new UsageError('--param and --params do not combine');
  if (Array.isArray(texts)) return texts;
  if (json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new UsageError(`--params must be a JSON array such as '[1, "x", null]', not ${JSON.stringify(json)}`);
  }
  if (!Array.isArray(parsed)) throw new UsageError(`--params must be a JSON array such as '[1, "x", null]', not ${JSON.stringify(json)}`);
  return parsed as SqlValue[];
}

const sql: Command = {
  name: 'sql',
  usage: '<db> <query> [--param <value>]… [--params <json-array>]',
  summary: 'one read-only SQL query (SELECT, WITH … SELECT, VALUES): its rows as a table, or --json',
  details:
    "store.query(): a statement that could write (INSERT, UPDATE, DELETE, DDL, ATTACH, PRAGMA, VACUUM, a second statement) is refused before it runs (exit 8, VALIDATION). ? placeholders bind in order: --param binds text (repeat it), --params a JSON array of strings, numbers and nulls. Example: agent-store sql agent.db \"SELECT status, count(*) AS n FROM tasks WHERE created_at >= ? GROUP BY status\" --params '[1764547200000]'",
  options: {
    param: { type: 'string', multiple: true, arg: '<value>', help: 'a text value for the next ?' },
    params: { type: 'string', arg: '<json-array>', help: 'every value at once, as a JSON array (numbers, strings, null)' },
  },
  positionals: [2, 2],
  async run(ctx) {
    const params = paramsOf(ctx);
    const rows = await reading(ctx.args[0] as string, ctx.onWarning, (store) => store.query(ctx.args[1] as string, params));
    // Every column any row has, in the order they first appear (a row's keys are its columns).
    const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
    return rowsResult(
      rows,
      table(
        rows,
        columns.map((name) => ({ title: name, value: (row: SqlRow) => row[name] ?? 'NULL', upper: false })),
      ),
      rows.length === 1 ? 'row' : 'rows',
    );
  },
};

/** The reading commands. */
export const READ_COMMANDS: readonly Command[] = [info, tasks, approvals, sessions, threads, dlq, audit, sql];
