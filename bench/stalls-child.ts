/**
 * One measurement of the checkpoint-stalls benchmark (bench/checkpoint-stalls.ts), in a process of
 * its own: open a copy of a seed database, time `saves` sequential durable saves long enough to
 * cross several checkpoints (an explicit one in the middle), with the event loop's lag sampled every
 * millisecond and the bytes the process wrote to disk counted; then close, and open and close again
 * with nothing written (a clean close). Writes one {@link StallsReport} as JSON on stdout.
 *
 * Subjects: `store`, the sql.js store on the file adapter (`durability: 'write'`, the default
 * adaptive checkpoint threshold); `better-sqlite3`, what a user writes instead: a hand-written
 * prepared `INSERT OR REPLACE` of the task's row on better-sqlite3 in WAL mode with
 * `synchronous=FULL` (its own checkpoints: SQLite's automatic one every 1,000 pages, and an explicit
 * `wal_checkpoint(TRUNCATE)` in the middle).
 */
import { readFileSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createFileAdapter } from '../adapters/fs.js';
import { encodeJson } from '../src/json.js';
import { openStore } from '../src/open.js';
import type { PersistenceAdapter } from '../src/persistence.js';
import type { TaskInput } from '../src/records.js';
import { TASK_COLUMNS } from '../src/tasks.js';
import { percentile, TaskFactory } from './durable-common.js';

/** What the parent asks (the single argument, as JSON). */
export interface StallsRequest {
  readonly subject: 'store' | 'better-sqlite3';
  readonly path: string;
  readonly seed: number;
  readonly saves: number;
}

/** What the child reports. */
export interface StallsReport {
  readonly subject: StallsRequest['subject'];
  readonly openMs: number;
  readonly saves: number;
  /** The saves' wall time, without the time spent making their tasks. */
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Saves over 100 ms. */
  readonly over100: number;
  readonly loopLagMaxMs: number;
  readonly loopLagP999Ms: number;
  /** The store's checkpoints during the saves (the explicit one included); for better-sqlite3, the explicit one (SQLite's automatic ones are not counted). */
  readonly checkpoints: number;
  /** The store's checkpoints' durations (export to durable image), ms. */
  readonly checkpointMs: readonly number[];
  /** Bytes the process wrote to disk during the saves (/proc/self/io write_bytes). */
  readonly diskBytes: number;
  /** The store: bytes appended to the journal (the writes' own), and bytes of images its checkpoints wrote. */
  readonly journalBytes: number;
  readonly imageBytes: number;
  readonly closeMs: number;
  /** A second open and close with nothing written: its close's time and the bytes it wrote. */
  readonly cleanCloseMs: number;
  readonly cleanCloseDiskBytes: number;
  readonly databaseBytes: number;
}

function writeBytes(): number {
  const line = /^write_bytes:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1];
  return Number(line ?? 0);
}

/** The row a user's hand-written insert binds: the task's columns as the Go store writes them. */
function row(task: TaskInput, now: number): (string | number | null)[] {
  return [task.id, 'pending', task.command, encodeJson(task.params), task.callerId ?? '', task.responseChannel ?? null, task.responseThread ?? null, null, null, now, now, null];
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] as string) as StallsRequest;
  const factory = new TaskFactory(request.seed);
  // Tasks are made one at a time, just before their save (their making timed apart and taken off
  // the run's time): 60,000 of them made up front would be ~150 MB of live heap that is the
  // benchmark's, not the subject's, and every full GC of the run would have to mark it.
  let makingMs = 0;
  const nextTask = (): TaskInput => {
    const at = performance.now();
    const task = factory.newTask();
    makingMs += performance.now() - at;
    return task;
  };
  const explicitAt = Math.floor(request.saves / 2);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const latencies: number[] = [];
  let journalBytes = 0;
  let imageBytes = 0;
  let checkpoints = 0;
  const checkpointMs: number[] = [];

  let t = performance.now();
  if (request.subject === 'store') {
    // The file adapter, its writes counted: the journal's appends and the checkpoints' images.
    const fs = createFileAdapter({ path: request.path });
    const counting: PersistenceAdapter = {
      ...fs,
      append: (bytes, at) => ((journalBytes += bytes.length), (fs.append as NonNullable<PersistenceAdapter['append']>)(bytes, at)),
      writeImage: (image) => ((imageBytes += image.length), (fs.writeImage as NonNullable<PersistenceAdapter['writeImage']>)(image)),
      checkpoint: (image) => ((imageBytes += image.length), fs.checkpoint(image)),
    };
    const store = await openStore({ adapter: counting, durability: 'write' });
    await store.listTasks({ limit: 1 });
    const openMs = performance.now() - t;
    // The seed was written by better-sqlite3 (as the Go agent writes a file): its image has no id
    // yet, and the store's first write would be a whole image. A store's own file has one.
    await store.checkpoint();
    journalBytes = 0;
    imageBytes = 0;
    let lastCheckpoint = store.health().lastCheckpointAt;
    const countCheckpoint = (): void => {
      const h = store.health();
      if (h.lastCheckpointAt !== lastCheckpoint) {
        lastCheckpoint = h.lastCheckpointAt;
        checkpoints++;
        if (h.lastCheckpointMs !== undefined) checkpointMs.push(h.lastCheckpointMs);
      }
    };
    const disk0 = writeBytes();
    lag.enable();
    const start = performance.now();
    let explicit: Promise<void> | undefined;
    for (let i = 0; i < request.saves; i++) {
      const task = nextTask();
      if (i === explicitAt) explicit = store.checkpoint().then(countCheckpoint);
      const before = performance.now();
      await store.saveTask(task);
      latencies.push(performance.now() - before);
      countCheckpoint();
    }
    await explicit;
    await store.flush();
    const totalMs = performance.now() - start - makingMs;
    lag.disable();
    const written = { journalBytes, imageBytes };
    const diskBytes = writeBytes() - disk0;
    t = performance.now();
    await store.close();
    const closeMs = performance.now() - t;
    // Open and close again with nothing written: the image is clean.
    const again = await openStore({ adapter: createFileAdapter({ path: request.path }), durability: 'write' });
    const disk1 = writeBytes();
    t = performance.now();
    await again.close();
    const cleanCloseMs = performance.now() - t;
    report({ openMs, totalMs, diskBytes, closeMs, cleanCloseMs, cleanCloseDiskBytes: writeBytes() - disk1, ...written });
    return;
  }

  const db = new Database(request.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.prepare('SELECT count(*) FROM tasks').get();
  const openMs = performance.now() - t;
  const insert = db.prepare(`INSERT OR REPLACE INTO tasks (${TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const disk0 = writeBytes();
  lag.enable();
  const start = performance.now();
  for (let i = 0; i < request.saves; i++) {
    const task = nextTask();
    if (i === explicitAt) {
      db.pragma('wal_checkpoint(TRUNCATE)');
      checkpoints++;
    }
    const before = performance.now();
    insert.run(row(task, Date.now()));
    latencies.push(performance.now() - before);
    // An async caller yields between saves, as the store's caller does.
    if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const totalMs = performance.now() - start - makingMs;
  lag.disable();
  const diskBytes = writeBytes() - disk0;
  t = performance.now();
  db.close();
  const closeMs = performance.now() - t;
  const again = new Database(request.path);
  again.pragma('journal_mode = WAL');
  again.prepare('SELECT count(*) FROM tasks').get();
  const disk1 = writeBytes();
  t = performance.now();
  again.close();
  const cleanCloseMs = performance.now() - t;
  report({ openMs, totalMs, diskBytes, closeMs, cleanCloseMs, cleanCloseDiskBytes: writeBytes() - disk1, journalBytes: 0, imageBytes: 0 });

  function report(r: { openMs: number; totalMs: number; diskBytes: number; closeMs: number; cleanCloseMs: number; cleanCloseDiskBytes: number; journalBytes: number; imageBytes: number }): void {
    const out: StallsReport = {
      subject: request.subject,
      saves: latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      p999Ms: percentile(latencies, 0.999),
      maxMs: Math.max(...latencies),
      over100: latencies.filter((ms) => ms > 100).length,
      loopLagMaxMs: lag.max / 1e6,
      loopLagP999Ms: lag.percentile(99.9) / 1e6,
      checkpoints,
      checkpointMs,
      databaseBytes: statSync(request.path).size,
      ...r,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

await main();
