/**
 * One measurement of the durable-writes benchmark, in a process of its own so that its peak RSS
 * belongs to one subject at one image size. Started by bench/durable-writes.ts as
 * `node --expose-gc --import tsx bench/durable-child.ts '<ChildRequest as JSON>'`; it writes one
 * {@link ChildReport} as JSON on stdout (a `crash-after-writes` child then kills itself with SIGKILL).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createFileAdapter } from '../adapters/fs.js';
import type { TaskInput } from '../src/records.js';
import type { SqlPort, SqlRow, SqlValue } from '../src/sql-port.js';
import { openStore } from '../src/open.js';
import type { Store, StoreOptions } from '../src/store.js';
import { getTask } from '../src/tasks.js';
import { BetterSqlite3Engine } from './better-sqlite3-engine.js';
import { percentile, TaskFactory, type ChildReport, type ChildRequest, type Latency } from './durable-common.js';
import { collectGarbage } from './harness.js';

/**
 * better-sqlite3's durable configuration: WAL, and an fsync of the WAL at every commit. (The
 * baseline engine starts with the sql.js engine's in-memory pragmas; these replace them.)
 */
const WAL_PRAGMAS = ['locking_mode = NORMAL', 'journal_mode = WAL', 'synchronous = FULL'] as const;

/** The RSS of this process now, after a full garbage collection: the baseline of a child's memory. */
function settledRss(): number {
  collectGarbage();
  return process.memoryUsage().rss;
}

function maxRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function latency(ms: readonly number[]): Latency {
  return { count: ms.length, p50Ms: percentile(ms, 0.5), p99Ms: percentile(ms, 0.99), maxMs: Math.max(...ms) };
}

/** A store on better-sqlite3 with the database file at `path`: the store's domain code on native SQLite. */
function nativeStore(path: string, pragmas: readonly string[] = WAL_PRAGMAS): Promise<Store> {
  const engine = new BetterSqlite3Engine(path);
  for (const pragma of pragmas) engine.db.pragma(pragma);
  return openStore({ engine });
}

/** The sql.js store on the file adapter, with durability `'write'` (a save resolves once it is on disk). */
function fileStore(path: string, journal: boolean, options: StoreOptions = {}): Promise<Store> {
  return openStore({ adapter: createFileAdapter({ path }), durability: 'write', journal, ...options });
}

async function measure(request: Extract<ChildRequest, { kind: 'measure' }>): Promise<ChildReport> {
  const factory = new TaskFactory(request.seed);
  const make = (n: number): TaskInput[] => Array.from({ length: n }, () => factory.newTask());
  const warmup = make(request.warmupOps);
  const sequential = make(request.sequentialOps);
  const concurrent = Array.from({ length: request.writers }, () => make(request.opsPerWriter));

  const rssBeforeBytes = settledRss();
  const native = request.subject === 'better-sqlite3';
  const store = native ? await nativeStore(request.path) : await fileStore(request.path, request.subject === 'journal');
  let firstSaveMs: number | undefined;
  for (const task of warmup) {
    const t0 = performance.now();
    await store.saveTask(task);
    firstSaveMs ??= performance.now() - t0;
  }

  collectGarbage();
  const sequentialMs: number[] = [];
  for (const task of sequential) {
    const t0 = performance.now();
    await store.saveTask(task);
    sequentialMs.push(performance.now() - t0);
  }

  collectGarbage();
  const t0 = performance.now();
  await Promise.all(
    concurrent.map(async (tasks) => {
      for (const task of tasks) await store.saveTask(task);
    }),
  );
  const concurrentMs = performance.now() - t0;

  const last = concurrent.at(-1)?.at(-1) ?? sequential.at(-1);
  if (last && !(await store.getTask(last.id))) throw new Error(`${request.subject}: the last saved task ${last.id} is missing`);
  // Whole-image mode writes an image at every flush; the journal mode only when the journal is full.
  const checkpointed = store.health().lastCheckpointAt !== undefined;
  const tClose = performance.now();
  await store.close();
  return {
    kind: 'measure',
    firstSaveMs: firstSaveMs ?? Number.NaN,
    sequential: latency(sequentialMs),
    concurrentOps: request.writers * request.opsPerWriter,
    concurrentMs,
    checkpointed,
    closeMs: performance.now() - tClose,
    // The store's last image (written by close()); better-sqlite3's file, its WAL checkpointed by close().
    databaseBytes: native ? fileSize(request.path) : store.health().imageBytes,
    rssBeforeBytes,
    maxRssBytes: maxRssBytes(),
  };
}

async function crashAfterWrites(request: Extract<ChildRequest, { kind: 'crash-after-writes' }>): Promise<ChildReport> {
  const factory = new TaskFactory(request.seed);
  const tasks = Array.from({ length: request.records }, () => factory.newTask());
  if (request.subject === 'journal') {
    // One journal record per save; nothing flushed until all are in, and no checkpoint at all.
    const store = await fileStore(request.path, true, { durability: 'none', checkpointBytes: 2 ** 40 });
    for (const task of tasks) await store.saveTask(task);
    await store.flush();
  } else {
    // One WAL commit per save, never checkpointed into the database file. Written without fsync to
    // be quick: a process crash keeps what was written (the OS has it), which is all this needs.
    const store = await nativeStore(request.path, ['locking_mode = NORMAL', 'journal_mode = WAL', 'synchronous = OFF', 'wal_autocheckpoint = 0']);
    for (const task of tasks) await store.saveTask(task);
  }
  const leftover = request.subject === 'journal' ? `${request.path}.pa-journal` : `${request.path}-wal`;
  return { kind: 'crash-after-writes', lastId: tasks.at(-1)?.id ?? '', leftoverBytes: fileSize(leftover) };
}

/** A minimal port on a better-sqlite3 connection, for the domain's `getTask`. */
function portOn(db: Database.Database): SqlPort {
  return {
    run: async (sql: string, params: readonly SqlValue[] = []) => ({ changes: db.prepare(sql).run(...params).changes }),
    all: async (sql: string, params: readonly SqlValue[] = []) => db.prepare<SqlValue[], SqlRow>(sql).all(...params),
    batch: async (statements) => db.transaction(() => statements.map((s) => ({ changes: db.prepare(s.sql).run(...(s.params ?? [])).changes })))(),
  };
}

/** The page size of the SQLite file at `path`: bytes 16-17 of its header, big-endian (1 means 65536). */
function pageSize(path: string): number {
  const header = Buffer.alloc(18);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 18, 0);
  } finally {
    closeSync(fd);
  }
  const size = header.readUInt16BE(16);
  return size === 1 ? 65_536 : size;
}

/**
 * Resolves after one turn of the event loop. Part of the open time: right after sql.js is loaded,
 * the first turn waits for the WebAssembly compilation V8 still runs in the background (Node
 * drains those tasks), so the store's first I/O would wait for it.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function open(request: Extract<ChildRequest, { kind: 'open' }>): Promise<ChildReport> {
  const { subject, path, probeId } = request;
  const rssBeforeBytes = settledRss();
  let openMs: number;
  let found: boolean;
  let replayed: number;
  let databaseBytes: number;
  if (subject === 'better-sqlite3') {
    // The WAL's header is 32 bytes, each frame a 24-byte header and a page.
    const page = pageSize(path);
    replayed = Math.max(0, Math.floor((fileSize(`${path}-wal`) - 32) / (page + 24)));
    const t0 = performance.now();
    // What an application does: open the file in its WAL mode. The first read rebuilds the WAL
    // index from the WAL the crash left.
    const db = new Database(path);
    for (const pragma of WAL_PRAGMAS) db.pragma(pragma);
    found = (await getTask({ port: portOn(db), now: Date.now }, probeId)) !== undefined;
    await nextTurn();
    openMs = performance.now() - t0;
    databaseBytes = (db.pragma('page_count', { simple: true }) as number) * page;
  } else {
    const t0 = performance.now();
    const store = await fileStore(path, subject === 'journal');
    found = (await store.getTask(probeId)) !== undefined;
    await nextTurn();
    openMs = performance.now() - t0;
    // The seed image holds sequence 0, so the last sequence is the number of records replayed.
    replayed = store.health().lastSequence;
    databaseBytes = await store.dbSizeBytes();
  }
  if (!found) throw new Error(`${subject}: task ${probeId} is missing after the open`);
  return { kind: 'open', openMs, replayed, databaseBytes, rssBeforeBytes, maxRssBytes: maxRssBytes() };
}

function respond(request: ChildRequest): Promise<ChildReport> {
  switch (request.kind) {
    case 'measure':
      return measure(request);
    case 'crash-after-writes':
      return crashAfterWrites(request);
    case 'open':
      return open(request);
  }
}

const request = JSON.parse(process.argv[2] ?? 'null') as ChildRequest;
const report = await respond(request);
await new Promise<void>((resolve, reject) => process.stdout.write(`${JSON.stringify(report)}\n`, (e) => (e ? reject(e) : resolve())));
// A crash after the writes, the way `kill -9` or the OOM killer ends a process: no close().
if (request.kind === 'crash-after-writes') process.kill(process.pid, 'SIGKILL');
// The open child leaves its store open: closing would write a checkpoint that nobody measures.
process.exit(0);
