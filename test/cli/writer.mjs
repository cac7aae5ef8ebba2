// A second process on the CLI tests' database, through the built package:
//   writer.mjs <db> hold <n>      saves n tasks, prints "ready", keeps the store open until killed
//   writer.mjs <db> stream        saves a task every few ms, printing each acknowledged id
//   writer.mjs <db> save <json>   saves one task and closes
//   writer.mjs <db> churn         like stream, with a checkpoint every 4 KiB of journal
//   writer.mjs <db> queue         puts tasks in every queue state (due, scheduled, retrying, leased,
//                                 lease expired) through the task engine, and closes
import { openStore } from '../../dist/index.js';
import { createFileAdapter } from '../../dist/adapters/fs.js';

const [path, mode, arg] = process.argv.slice(2);
const store = await openStore({ adapter: createFileAdapter({ path }), ...(mode === 'churn' ? { checkpointBytes: 4096 } : {}), onWarning: (w) => process.stderr.write(`warning ${w.code}: ${w.message}\n`) });
const task = (id) => ({ id, command: 'deploy', params: { service: 'api', n: id }, callerId: 'U-WRITER' });
if (mode === 'hold') {
  for (let i = 0; i < Number(arg); i++) await store.saveTask(task(`held-${i}`));
  process.stdout.write('ready\n');
  globalThis.setInterval(() => {}, 1 << 30);
} else if (mode === 'stream' || mode === 'churn') {
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    await store.saveTask(task(`stream-${i}`));
    process.stdout.write(`stream-${i}\n`);
    await new Promise((r) => setTimeout(r, 5));
  }
} else if (mode === 'save') {
  await store.saveTask(JSON.parse(arg));
  await store.close();
  process.stdout.write('saved\n');
} else if (mode === 'queue') {
  const day = 86_400_000;
  const enqueue = (id, extra = {}) => store.enqueueTask({ id, command: 'deploy', params: { id }, callerId: 'U-QUEUE', ...extra });
  for (let i = 0; i < 3; i++) await enqueue(`q-due-${i}`);
  await enqueue('q-later', { runAt: Date.now() + day });
  // Claimed in turn (the oldest due first): one leased for an hour, one that fails and waits an hour
  // to retry, and one leased for 1 ms (expired by the time anyone looks; claimed last, as a claim
  // takes a running task whose lease expired first). A command of their own, for the same reason:
  // the database may hold running tasks whose leases expired.
  for (let i = 0; i < 3; i++) await enqueue(`q-run-${i}`, { command: 'queue-test', createdAt: 1_000 + i, maxAttempts: 3, backoff: { baseMs: 3_600_000, maxMs: 3_600_000, jitter: 0 } });
  const only = ['queue-test'];
  await store.claimTask({ workerId: 'w-1', leaseMs: 3_600_000, commands: only });
  const failing = await store.claimTask({ workerId: 'w-2', leaseMs: 3_600_000, commands: only });
  await store.failTask(failing.id, { workerId: 'w-2', fence: failing.fence, error: 'connection refused' });
  await store.claimTask({ workerId: 'w-3', leaseMs: 1, commands: only });
  await store.close();
  process.stdout.write('queued\n');
} else {
  throw new Error(`unknown mode ${mode}`);
}
