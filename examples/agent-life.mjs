// A short day in the life of the platform agent, on the store: `npm run example`.
// Time is simulated with an injected clock, so retention has something to delete.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, LockError, NotFoundError } from '@platform-agent/store';
import { createFileAdapter } from '@platform-agent/store/adapters/fs';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let now = Date.UTC(2026, 10, 1, 9, 0, 0);
const clock = () => now;
const at = () => new Date(now).toISOString().replace('T', ' ').slice(0, 16);
const say = (what) => console.log(`${at()}  ${what}`);

const dir = mkdtempSync(join(tmpdir(), 'agent-life-'));
const path = join(dir, 'agent.db');
const store = await openStore({ clock, adapter: createFileAdapter({ path }) });
say(`agent started on ${path} (schema v1, the Go agent's layout); every write resolves once it is on disk`);
say(`start-up: ${await store.failStuckTasks()} stuck task(s) failed, ${(await store.requeuePendingTasks()).length} pending task(s) to re-enqueue`);

// A Slack message arrives: the thread gets a session.
await store.saveThreadSession({ channel: 'C042OPS', threadTs: '1761987600.000100' });
await store.saveSessionContext({ sessionId: 'sess-1', channel: 'C042OPS', threadTs: '1761987600.000100', userId: 'U07ALICE' });
say('alice asks in #ops: "deploy api to prod"; thread session agent:main:slack-C042OPS-1761987600.000100');

// Submit: the task engine saves it pending, a worker picks it up, it needs approval.
await store.saveTask({ id: 'task-1', command: 'deploy', params: { service: 'api', env: 'prod', ref: 'v2.14.0' }, callerId: 'U07ALICE', responseChannel: 'C042OPS', responseThread: '1761987600.000100' });
say('task-1 submitted: deploy {service: api, env: prod, ref: v2.14.0} → pending');
now += 2_000;
await store.updateTaskStatus('task-1', 'running');
say('task-1 → running');
await store.updateTaskStatus('task-1', 'awaiting_approval');
await store.saveApproval({ requestId: 'appr-1', taskId: 'task-1', callerId: 'U07ALICE', permission: 'deploy:prod', action: 'deploy', resource: 'api', channelId: 'C042OPS', threadTs: '1761987600.000100' });
say('task-1 → awaiting_approval; approval appr-1 posted with approve/deny buttons');

// Approve: delete the approval, audit it and requeue the task, all at once.
now += 5 * 60_000;
await store.transaction(async (tx) => {
  await tx.deleteApproval('appr-1');
  await tx.appendAudit({ userId: 'U09BOB', action: 'approve', resource: 'deploy:prod/api', result: 'approved', details: { requestId: 'appr-1', taskId: 'task-1' } });
  await tx.updateTaskStatus('task-1', 'running');
});
say('bob approves appr-1 (one transaction: approval deleted, audit entry written, task-1 → running)');
now += 90_000;
await store.completeTask('task-1', { result: { deployed: 'v2.14.0', pods: 12 } });
say(`task-1 → ${(await store.getTask('task-1')).status} with result {deployed: v2.14.0, pods: 12}`);

// A second task fails.
await store.saveTask({ id: 'task-2', command: 'rollback', params: { service: 'worker' }, callerId: 'U07ALICE' });
await store.updateTaskStatus('task-2', 'running');
now += 30_000;
await store.completeTask('task-2', { error: 'kubectl: context "prod" not found' });
const t2 = await store.getTask('task-2');
say(`task-2 rollback → ${t2.status}: ${t2.error}`);

// Posting the result to Slack fails: the message goes to the dead-letter queue.
await store.saveDeadLetter({ id: 'dl-1', targetChannel: 'C042OPS', targetThread: '1761987600.000100', message: 'task-2 failed: kubectl: context "prod" not found', error: 'slack: rate_limited', nextRetryAt: now + 5 * 60_000 });
say('Slack answered rate_limited: the reply to task-2 went to the dead-letter queue (retry in 5 min)');
now += 5 * 60_000;
for (const letter of await store.listRetryable()) {
  await store.incrementRetry(letter.id, now + 10 * 60_000);
  say(`retry ${letter.id} failed again (attempt ${letter.retryCount + 1}); next try in 10 min`);
}
now += 10 * 60_000;
for (const letter of await store.listRetryable()) {
  await store.resolveDeadLetter(letter.id);
  say(`retry ${letter.id} delivered: resolved`);
}

// A denied request, and a typed error.
await store.appendAudit({ userId: 'U09BOB', action: 'deny', resource: 'exec:prod/db', result: 'denied' });
say('bob denies a shell on the prod database: audit entry written');
try {
  await store.updateTaskStatus('task-404', 'running');
} catch (e) {
  if (e instanceof NotFoundError) say(`a stale button: ${e.message} (code ${e.code})`);
}

// A second agent on the same file is refused: one writer at a time.
try {
  await openStore({ adapter: createFileAdapter({ path }) });
} catch (e) {
  if (e instanceof LockError) say(`a second agent on agent.db: ${e.code}, held by pid ${e.holder.pid} (this process is ${process.pid})`);
}

// Eight days later, hourly retention runs with the Go defaults.
now += 8 * DAY;
await store.touchThreadSession('C042OPS', '1761987600.000100');
const deleted = await store.runRetention();
say(`8 days later, retention deleted: ${Object.entries(deleted).map(([k, v]) => `${k} ${v}`).join(', ')}`);
say(`left: ${(await store.listTasks()).length} task(s), ${(await store.listThreadSessions()).length} thread session(s), ${(await store.listAudit()).length} audit entries, db ${(await store.dbSizeBytes()) / 1024} KiB`);

const health = store.health();
say(`health: ${health.state}, durability '${health.durability}', ${health.lastSequence} write(s) journaled, journal ${health.journalBytes} bytes beside a ${health.imageBytes}-byte image`);
await store.close();
const files = readdirSync(dir).map((f) => `${f} (${statSync(join(dir, f)).size} bytes)`);
say(`close() checkpointed: ${files.join(', ')}; agent.db is a plain SQLite file for sqlite3 and the Go agent`);

const reader = await openStore({ adapter: createFileAdapter({ path }), readOnly: true });
say(`reopened read-only: ${(await reader.listTasks()).length} task(s) and ${(await reader.listAudit()).length} audit entries survived`);
await reader.close();
rmSync(dir, { recursive: true, force: true });
