/**
 * The rows of a database file the Go agent wrote, written with the Go store's own statements (NULL
 * for empty optionals, a failed task as status completed with an error), and the records the API
 * must read back from them. Any SQLite binding that prepares and runs statements writes them:
 * better-sqlite3 in the Node 20 suite, node:sqlite's DatabaseSync in the Node 22 one.
 */
import type { AuditEntry, DeadLetter, PendingApproval, SessionContext, Task, ThreadSession } from '../../src/index.js';

/** The clock of the tests that read the fixture (dead letters are due or waiting relative to it). */
export const NOW = 1_700_000_100_000;
/** The fixture's first timestamp. */
export const T0 = 1_700_000_000_000;

/** What the fixture needs of a SQLite binding: prepared statements run with positional parameters. */
export interface PreparingDatabase {
  prepare(sql: string): { run(...params: unknown[]): unknown };
}

/** Writes the fixture rows exactly as the Go store's statements do (NULL for empty optionals). */
export function writeGoFixture(db: PreparingDatabase): void {
  const task = db.prepare(
    `INSERT OR REPLACE INTO tasks (id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  task.run('t-minimal', 'pending', 'deploy', '{}', '', null, null, null, null, T0 + 1, T0 + 1, null);
  task.run(
    't-full',
    'awaiting_approval',
    'scale',
    '{"env":"prod","replicas":3,"tags":["a","b"],"nested":{"ok":true,"none":null}}',
    'U123',
    'C42',
    '1700000000.000100',
    '{"ok":true,"count":2}',
    `partial failure: it's "quoted" \\ 😀`,
    T0 + 2,
    T0 + 500,
    T0 + 900,
  );
  // Go's CompleteTask(id, nil, "exit status 1") stores a failure as status 'completed' with an error.
  task.run('t-failed-go', 'completed', 'restart', '{"service":"api"}', 'U1', 'C1', null, null, 'exit status 1', T0 + 3, T0 + 600, T0 + 600);
  task.run('t-raw-result', 'completed', 'logs', '[]', 'U1', null, null, 'not json: {oops', null, T0 + 4, T0 + 700, T0 + 700);
  task.run('t-json-result', 'completed', 'status', 'null', 'U2', null, null, '[1,"two",null,{"three":3.5}]', null, T0 + 5, T0 + 800, T0 + 800);
  task.run('t-running', 'running', 'backup', '{"db":"main"}', 'U2', 'C9', null, null, null, T0 + 6, T0 + 6, null);

  const approval = db.prepare(
    `INSERT OR REPLACE INTO pending_approvals (request_id, task_id, caller_id, permission, action, resource, channel_id, thread_ts, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  approval.run('req-1', 't-full', 'U123', 'deploy:prod', 'approve_deploy', 'service/api', null, null, T0 + 10);
  approval.run('req-2', 't-running', 'U9', 'scale', 'scale_up', 'deployment/web', 'C42', '1700000000.000200', T0 + 20);

  const context = db.prepare(
    'INSERT OR REPLACE INTO session_contexts (session_id, channel, thread_ts, user_id, created_at, last_used) VALUES (?, ?, ?, ?, ?, ?)',
  );
  context.run('sess-1', 'C42', '1700000000.000100', null, T0 + 30, T0 + 40);
  context.run('sess-2', 'D7', '1700000001.000300', 'U123', T0 + 50, T0 + 60);

  const thread = db.prepare(
    'INSERT OR REPLACE INTO thread_sessions (channel, thread_ts, session_key, created_at, last_message_at) VALUES (?, ?, ?, ?, ?)',
  );
  thread.run('C42', '1700000000.000100', 'agent:main:slack-C42-1700000000.000100', T0 + 70, T0 + 80);
  thread.run('D7', '1700000001.000300', 'agent:main:slack-D7-1700000001.000300', T0 + 90, T0 + 95);

  const letter = db.prepare(
    `INSERT OR REPLACE INTO dead_letters (id, target_channel, target_thread, message, error, created_at, retry_count, next_retry_at, resolved_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  letter.run('dl-given-up', 'C42', null, 'hello', 'channel_not_found', T0 + 100, 5, null, null);
  letter.run('dl-resolved', 'C42', '1700000000.000100', 'done ✅', 'rate_limited', T0 + 110, 2, T0 + 200, T0 + 300);
  letter.run('dl-due', 'D7', null, 'retry me', 'timeout', T0 + 120, 1, NOW - 1000, null);
  letter.run('dl-waiting', 'D7', '1700000001.000300', 'later', 'timeout', T0 + 130, 0, NOW + 60_000, null);

  const audit = db.prepare(
    'INSERT INTO audit_log (user_id, action, resource, result, details, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  audit.run('U123', 'approval_denied', null, 'denied', null, T0 + 140);
  audit.run('U9', 'deploy', 'service/api', 'ok', '{"by":"U9","dry_run":false}', T0 + 150);
  audit.run('U1', 'note', 'x', 'ok', 'free text, not JSON', T0 + 160);
}

export const goTasks: Record<string, Task> = {
  't-minimal': { id: 't-minimal', status: 'pending', command: 'deploy', params: {}, callerId: '', createdAt: T0 + 1, updatedAt: T0 + 1 },
  't-full': {
    id: 't-full',
    status: 'awaiting_approval',
    command: 'scale',
    params: { env: 'prod', replicas: 3, tags: ['a', 'b'], nested: { ok: true, none: null } },
    callerId: 'U123',
    responseChannel: 'C42',
    responseThread: '1700000000.000100',
    result: { ok: true, count: 2 },
    error: `partial failure: it's "quoted" \\ 😀`,
    createdAt: T0 + 2,
    updatedAt: T0 + 500,
    completedAt: T0 + 900,
  },
  't-failed-go': {
    id: 't-failed-go',
    status: 'completed',
    command: 'restart',
    params: { service: 'api' },
    callerId: 'U1',
    responseChannel: 'C1',
    error: 'exit status 1',
    createdAt: T0 + 3,
    updatedAt: T0 + 600,
    completedAt: T0 + 600,
  },
  't-raw-result': {
    id: 't-raw-result',
    status: 'completed',
    command: 'logs',
    params: [],
    callerId: 'U1',
    result: 'not json: {oops',
    createdAt: T0 + 4,
    updatedAt: T0 + 700,
    completedAt: T0 + 700,
  },
  't-json-result': {
    id: 't-json-result',
    status: 'completed',
    command: 'status',
    params: null,
    callerId: 'U2',
    result: [1, 'two', null, { three: 3.5 }],
    createdAt: T0 + 5,
    updatedAt: T0 + 800,
    completedAt: T0 + 800,
  },
  't-running': {
    id: 't-running',
    status: 'running',
    command: 'backup',
    params: { db: 'main' },
    callerId: 'U2',
    responseChannel: 'C9',
    createdAt: T0 + 6,
    updatedAt: T0 + 6,
  },
};

export const goApprovals: Record<string, PendingApproval> = {
  'req-1': {
    requestId: 'req-1',
    taskId: 't-full',
    callerId: 'U123',
    permission: 'deploy:prod',
    action: 'approve_deploy',
    resource: 'service/api',
    createdAt: T0 + 10,
  },
  'req-2': {
    requestId: 'req-2',
    taskId: 't-running',
    callerId: 'U9',
    permission: 'scale',
    action: 'scale_up',
    resource: 'deployment/web',
    channelId: 'C42',
    threadTs: '1700000000.000200',
    createdAt: T0 + 20,
  },
};

export const goContexts: Record<string, SessionContext> = {
  'sess-1': { sessionId: 'sess-1', channel: 'C42', threadTs: '1700000000.000100', createdAt: T0 + 30, lastUsed: T0 + 40 },
  'sess-2': { sessionId: 'sess-2', channel: 'D7', threadTs: '1700000001.000300', userId: 'U123', createdAt: T0 + 50, lastUsed: T0 + 60 },
};

export const goThreads: ThreadSession[] = [
  { channel: 'C42', threadTs: '1700000000.000100', sessionKey: 'agent:main:slack-C42-1700000000.000100', createdAt: T0 + 70, lastMessageAt: T0 + 80 },
  { channel: 'D7', threadTs: '1700000001.000300', sessionKey: 'agent:main:slack-D7-1700000001.000300', createdAt: T0 + 90, lastMessageAt: T0 + 95 },
];

export const goLetters: Record<string, DeadLetter> = {
  'dl-given-up': { id: 'dl-given-up', targetChannel: 'C42', message: 'hello', error: 'channel_not_found', createdAt: T0 + 100, retryCount: 5 },
  'dl-resolved': {
    id: 'dl-resolved',
    targetChannel: 'C42',
    targetThread: '1700000000.000100',
    message: 'done ✅',
    error: 'rate_limited',
    createdAt: T0 + 110,
    retryCount: 2,
    nextRetryAt: T0 + 200,
    resolvedAt: T0 + 300,
  },
  'dl-due': { id: 'dl-due', targetChannel: 'D7', message: 'retry me', error: 'timeout', createdAt: T0 + 120, retryCount: 1, nextRetryAt: NOW - 1000 },
  'dl-waiting': {
    id: 'dl-waiting',
    targetChannel: 'D7',
    targetThread: '1700000001.000300',
    message: 'later',
    error: 'timeout',
    createdAt: T0 + 130,
    retryCount: 0,
    nextRetryAt: NOW + 60_000,
  },
};

export const goAudit: AuditEntry[] = [
  { id: 1, userId: 'U123', action: 'approval_denied', result: 'denied', createdAt: T0 + 140 },
  { id: 2, userId: 'U9', action: 'deploy', resource: 'service/api', result: 'ok', details: { by: 'U9', dry_run: false }, createdAt: T0 + 150 },
  { id: 3, userId: 'U1', action: 'note', resource: 'x', result: 'ok', details: 'free text, not JSON', createdAt: T0 + 160 },
];
