/**
 * The "agent mix": what the agent does all day, on a store preloaded with 100,000 tasks and 1,000
 * thread sessions. 40% getTask, 20% saveTask (a new task), 20% updateTaskStatus, 10% listTasks
 * ({ status: 'pending', limit: 50 }), 10% touchThreadSession, each op committed on its own
 * (autocommit, no surrounding transaction).
 *
 * Measured on the sql.js store (`openStore()` on the preloaded database's image, as users open the
 * Go agent's file) against a baseline in
 * the same run: a `Store` on better-sqlite3 (native SQLite, in memory) through the same domain code,
 * statements, validation and row mapping. A second native row, "raw", runs the same statements and
 * row mapping synchronously without the store's API layer (no validation, no promises), to show what
 * that layer costs.
 */
import { createMemoryAdapter } from '../adapters/memory.js';
import { encodeJson } from '../src/json.js';
import { migrate } from '../src/migrations.js';
import type { Task, TaskInput, TaskStatus, ThreadSessionInput } from '../src/records.js';
import type { SqlRow, SqlValue } from '../src/sql-port.js';
import type { Engine } from '../src/engine.js';
import { createSqlJsEngine } from '../src/sqljs-engine.js';
import { openStore } from '../src/open.js';
import type { Store } from '../src/store.js';
import { rowToTask } from '../src/tasks.js';
import { BetterSqlite3Engine } from './better-sqlite3-engine.js';
import {
  collectGarbage,
  formatRate,
  formatRatio,
  markdownTable,
  median,
  packageVersion,
  platform,
  Prng,
  type BenchOptions,
  type BenchResult,
  type Benchmark,
  type TargetResult,
} from './harness.js';

// ---------------------------------------------------------------------------------------------
// Parameters

const SEED = 0x5eed_a6e7;
const PRELOAD_TASKS = 100_000;
const PRELOAD_THREADS = 1_000;
const DEFAULTS = { rounds: 5, opsPerRound: 12_000, warmupOps: 6_000 };
const QUICK = { rounds: 2, opsPerRound: 2_000, warmupOps: 1_000 };

const OPS = ['getTask', 'saveTask', 'updateTaskStatus', 'listTasks', 'touchThreadSession'] as const;
type OpName = (typeof OPS)[number];
const MIX: Record<OpName, number> = { getTask: 40, saveTask: 20, updateTaskStatus: 20, listTasks: 10, touchThreadSession: 10 };
const LIST_FILTER = { status: 'pending', limit: 50 } as const;

const TARGET_OVERALL = 0.6;
const TARGET_PER_OP = 0.35;

// The statements the store runs for these ops, copied from src/tasks.ts and src/sessions.ts for the
// raw baseline. `checkStatements` fails the run when the store no longer prepares exactly these.
const TASK_COLUMNS =
  'id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at';
const SQL = {
  getTask: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`,
  saveTask: `INSERT OR REPLACE INTO tasks (${TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  updateTaskStatus: 'UPDATE tasks SET status = ?, updated_at = ? WHERE id = ?',
  listTasks: `SELECT ${TASK_COLUMNS} FROM tasks WHERE status = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  touchThreadSession: 'UPDATE thread_sessions SET last_message_at = ? WHERE channel = ? AND thread_ts = ?',
} satisfies Record<OpName, string>;

// ---------------------------------------------------------------------------------------------
// Data: one deterministic preload and one deterministic op sequence, shared by every engine.

const COMMANDS = ['deploy', 'restart_service', 'scale', 'rollback', 'run_query', 'fetch_logs', 'create_ticket', 'check_status'];
const ENVS = ['prod', 'staging', 'dev'];
const REGIONS = ['eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-1'];
const DAY = 86_400_000;

interface World {
  readonly prng: Prng;
  /** "Now" of the data: the preload was created in the 30 days before it. */
  readonly end: number;
  readonly users: readonly string[];
  readonly channels: readonly string[];
  readonly services: readonly string[];
}

function makeWorld(seed: number, end: number): World {
  const prng = new Prng(seed);
  return {
    prng,
    end,
    users: Array.from({ length: 200 }, () => `U${prng.hex(10).toUpperCase()}`),
    channels: Array.from({ length: 50 }, () => `C${prng.hex(10).toUpperCase()}`),
    services: Array.from({ length: 40 }, (_, i) => `svc-${['api', 'web', 'worker', 'billing', 'auth'][i % 5] ?? 'x'}-${i}`),
  };
}

function slackTs(prng: Prng, ms: number): string {
  return `${Math.floor(ms / 1000)}.${String(prng.int(0, 999_999)).padStart(6, '0')}`;
}

/** A task's params as the agent sends them: a JSON object of about 250-400 bytes. */
function taskParams(w: World): Task['params'] {
  const p = w.prng;
  return {
    service: p.pick(w.services),
    env: p.pick(ENVS),
    region: p.pick(REGIONS),
    version: `v${p.int(1, 9)}.${p.int(0, 40)}.${p.int(0, 200)}`,
    replicas: p.int(1, 12),
    requestedBy: p.pick(w.users),
    reason: p.words(p.int(40, 140)),
    flags: p.next() < 0.5 ? ['--wait', '--atomic'] : ['--force'],
    options: { dryRun: p.next() < 0.2, timeoutSec: p.pick([30, 60, 300, 900]), notify: p.next() < 0.7 },
  };
}

/** A new task as the agent saves it: no status (pending) and no timestamps (now). */
function newTask(w: World): TaskInput {
  const p = w.prng;
  const channel = p.pick(w.channels);
  return {
    id: p.uuid(),
    command: p.pick(COMMANDS),
    params: taskParams(w),
    callerId: p.pick(w.users),
    responseChannel: channel,
    responseThread: slackTs(p, w.end - p.int(0, DAY)),
  };
}

const PRELOAD_STATUS = {
  completed: 80,
  failed: 11,
  cancelled: 2,
  running: 3,
  awaiting_approval: 2.5,
  pending: 1.5,
} as const satisfies Partial<Record<TaskStatus, number>>;

/** A task of the preload: created over the last 30 days, mostly finished. */
function preloadTask(w: World): TaskInput {
  const end = w.end;
  const p = w.prng;
  const task = newTask(w);
  const status = p.weighted(PRELOAD_STATUS);
  const createdAt = end - p.int(60_000, 30 * DAY);
  const finished = status === 'completed' || status === 'failed' || status === 'cancelled';
  const updatedAt = createdAt + (status === 'pending' ? 0 : p.int(200, 15 * 60_000));
  const out: TaskInput = { ...task, status, createdAt, updatedAt };
  if (finished) out.completedAt = updatedAt;
  if (status === 'completed') out.result = { ok: true, output: p.words(p.int(30, 200)), durationMs: updatedAt - createdAt };
  if (status === 'failed') out.error = `${p.pick(['timeout', 'exit status 1', 'permission denied'])}: ${p.words(p.int(20, 80))}`;
  return out;
}

function preloadThread(w: World, i: number): ThreadSessionInput {
  const end = w.end;
  const p = w.prng;
  const createdAt = end - p.int(60_000, 7 * DAY);
  return {
    channel: p.pick(w.channels),
    threadTs: `${Math.floor(createdAt / 1000)}.${String(i).padStart(6, '0')}`,
    createdAt,
    lastMessageAt: createdAt + p.int(0, 6 * 3_600_000),
  };
}

interface Preload {
  readonly tasks: readonly TaskInput[];
  /** saveTask's parameters of each task, encoded once for every engine. */
  readonly taskParams: readonly SqlValue[][];
  readonly threads: readonly ThreadSessionInput[];
}

function makePreload(w: World): Preload {
  const tasks = Array.from({ length: PRELOAD_TASKS }, () => preloadTask(w));
  const threads = Array.from({ length: PRELOAD_THREADS }, (_, i) => preloadThread(w, i));
  return { tasks, taskParams: tasks.map((t) => saveTaskParams(t, 0)), threads };
}

type Op =
  | { readonly kind: 0; readonly id: string } // getTask
  | { readonly kind: 1; readonly task: TaskInput } // saveTask
  | { readonly kind: 2; readonly id: string; readonly status: TaskStatus } // updateTaskStatus
  | { readonly kind: 3 } // listTasks
  | { readonly kind: 4; readonly channel: string; readonly threadTs: string }; // touchThreadSession

/**
 * Draws the ops, keeping a model of the store so every op is valid: getTask reads a uniformly random
 * existing task (preloaded or saved earlier in the sequence); updateTaskStatus moves the oldest newly
 * saved task from `pending` to `running` (so the pending set listTasks reads stays at its preload size
 * instead of growing by one per saveTask), or, when none waits, sets a random task to a finished state.
 */
class OpGenerator {
  readonly #w: World;
  readonly #ids: string[];
  readonly #pending: string[] = [];
  #pendingHead = 0;
  readonly #threads: readonly ThreadSessionInput[];
  readonly #preloadPending: number;

  constructor(w: World, preload: Preload) {
    this.#w = w;
    this.#ids = preload.tasks.map((t) => t.id);
    this.#threads = preload.threads;
    this.#preloadPending = preload.tasks.filter((t) => t.status === 'pending').length;
  }

  next(): Op {
    const p = this.#w.prng;
    switch (p.weighted(MIX)) {
      case 'getTask':
        return { kind: 0, id: p.pick(this.#ids) };
      case 'saveTask': {
        const task = newTask(this.#w);
        this.#ids.push(task.id);
        this.#pending.push(task.id);
        return { kind: 1, task };
      }
      case 'updateTaskStatus':
        if (this.#pendingHead < this.#pending.length) {
          return { kind: 2, id: this.#pending[this.#pendingHead++] as string, status: 'running' };
        }
        return { kind: 2, id: p.pick(this.#ids), status: p.pick(['completed', 'failed', 'cancelled'] as const) };
      case 'listTasks':
        return { kind: 3 };
      case 'touchThreadSession': {
        const t = p.pick(this.#threads);
        return { kind: 4, channel: t.channel, threadTs: t.threadTs };
      }
    }
  }

  /** Pending tasks in the store after the ops drawn so far (the preload's plus the new ones not yet running). */
  get pendingCount(): number {
    return this.#preloadPending + this.#pending.length - this.#pendingHead;
  }

  take(n: number): Op[] {
    return Array.from({ length: n }, () => this.next());
  }
}

// ---------------------------------------------------------------------------------------------
// Subjects: the things measured. Each runs an op sequence and reports time per op kind.

/** One number per op kind, indexed by `Op['kind']` (the order of OPS). */
type PerOp = [number, number, number, number, number];

interface RoundResult {
  /** Summed op time per op kind, ms. */
  readonly ms: PerOp;
  readonly count: PerOp;
  /** Wall time of the whole round, ms (op times plus the loop). */
  readonly wallMs: number;
  /** CPU time (user + system) of the process during the round, ms: unlike wall time, not inflated by other processes. */
  readonly cpuMs: number;
  /** Rows returned by reads (getTask hits + listTasks rows), to check every engine did the same work. */
  readonly rows: number;
}

interface Subject {
  readonly name: string;
  run(ops: readonly Op[]): Promise<RoundResult> | RoundResult;
  close(): Promise<void>;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

async function runOnStore(store: Store, ops: readonly Op[]): Promise<RoundResult> {
  const ms: PerOp = [0, 0, 0, 0, 0];
  const count: PerOp = [0, 0, 0, 0, 0];
  let rows = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (const op of ops) {
    const t0 = performance.now();
    switch (op.kind) {
      case 0:
        if (await store.getTask(op.id)) rows++;
        break;
      case 1:
        await store.saveTask(op.task);
        break;
      case 2:
        await store.updateTaskStatus(op.id, op.status);
        break;
      case 3:
        rows += (await store.listTasks(LIST_FILTER)).length;
        break;
      case 4:
        await store.touchThreadSession(op.channel, op.threadTs);
        break;
    }
    ms[op.kind] += performance.now() - t0;
    count[op.kind]++;
  }
  return { ms, count, wallMs: performance.now() - start, cpuMs: cpuMs(cpu), rows };
}

/** The parameters saveTask binds for `t` (src/tasks.ts), for the preload and the raw baseline. */
function saveTaskParams(t: TaskInput, now: number): SqlValue[] {
  return [
    t.id,
    t.status ?? 'pending',
    t.command,
    encodeJson(t.params),
    t.callerId ?? '',
    t.responseChannel ?? null,
    t.responseThread ?? null,
    t.result === undefined ? null : encodeJson(t.result),
    t.error ?? null,
    t.createdAt ?? now,
    t.updatedAt ?? now,
    t.completedAt ?? null,
  ];
}

const SAVE_THREAD_SQL = 'INSERT OR REPLACE INTO thread_sessions (channel, thread_ts, session_key, created_at, last_message_at) VALUES (?, ?, ?, ?, ?)';

/**
 * Loads the preload into a migrated engine in one atomic batch, with saveTask's and
 * saveThreadSession's statements and parameters (bulk, because validating 101,000 records through
 * the store would take longer than the benchmark).
 */
async function preloadEngine(engine: Engine, preload: Preload): Promise<void> {
  await engine.batch([
    ...preload.taskParams.map((params) => ({ sql: SQL.saveTask, params })),
    ...preload.threads.map((t) => ({
      sql: SAVE_THREAD_SQL,
      params: [t.channel, t.threadTs, `agent:main:slack-${t.channel}-${t.threadTs}`, t.createdAt ?? 0, t.lastMessageAt ?? 0],
    })),
  ]);
}

/** The sql.js store as users open it: `openStore()` on the image of a preloaded database. */
async function sqlJsSubject(preload: Preload): Promise<Subject> {
  const loader = await createSqlJsEngine();
  let image: Uint8Array;
  try {
    await migrate(loader);
    await preloadEngine(loader, preload);
    image = await loader.exportImage();
  } finally {
    await loader.close();
  }
  const store = await openStore({ adapter: createMemoryAdapter({ image }) });
  return { name: 'sql.js store', run: (ops) => runOnStore(store, ops), close: () => store.close() };
}

/** A `Store` on better-sqlite3 in memory, migrated and preloaded. */
async function nativeStore(preload: Preload): Promise<{ engine: BetterSqlite3Engine; store: Store }> {
  const engine = new BetterSqlite3Engine();
  await migrate(engine);
  await preloadEngine(engine, preload);
  return { engine, store: await openStore({ engine }) };
}

async function nativeSubject(preload: Preload): Promise<Subject & { statements(): string[] }> {
  const { engine, store } = await nativeStore(preload);
  return {
    name: 'better-sqlite3 store',
    run: (ops) => runOnStore(store, ops),
    close: () => store.close(),
    statements: () => engine.statementTexts(),
  };
}

/**
 * The raw native baseline: the store's statements and row mapping (rowToTask; touchThreadSession
 * reads no row, so rowToThreadSession has nothing to map in this mix), called synchronously on
 * better-sqlite3: no validation, no promises, no engine layer.
 */
async function rawSubject(preload: Preload): Promise<Subject> {
  const { engine, store } = await nativeStore(preload);
  const db = engine.db;
  const get = db.prepare<SqlValue[], SqlRow>(SQL.getTask);
  const save = db.prepare<SqlValue[]>(SQL.saveTask);
  const update = db.prepare<SqlValue[]>(SQL.updateTaskStatus);
  const list = db.prepare<SqlValue[], SqlRow>(SQL.listTasks);
  const touch = db.prepare<SqlValue[]>(SQL.touchThreadSession);
  const run = (ops: readonly Op[]): RoundResult => {
    const ms: PerOp = [0, 0, 0, 0, 0];
    const count: PerOp = [0, 0, 0, 0, 0];
    let rows = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (const op of ops) {
      const t0 = performance.now();
      switch (op.kind) {
        case 0: {
          const row = get.get(op.id);
          if (row && rowToTask(row)) rows++;
          break;
        }
        case 1: {
          save.run(...saveTaskParams(op.task, Date.now()));
          break;
        }
        case 2:
          if (update.run(op.status, Date.now(), op.id).changes === 0) throw new Error(`task ${op.id} not found`);
          break;
        case 3:
          rows += list.all(LIST_FILTER.status, LIST_FILTER.limit).map(rowToTask).length;
          break;
        case 4:
          if (touch.run(Date.now(), op.channel, op.threadTs).changes === 0) throw new Error('thread session not found');
          break;
      }
      ms[op.kind] += performance.now() - t0;
      count[op.kind]++;
    }
    return { ms, count, wallMs: performance.now() - start, cpuMs: cpuMs(cpu), rows };
  };
  return { name: 'better-sqlite3 raw', run, close: () => store.close() };
}

/** Fails the run when the store's statements for these ops differ from the raw baseline's copies. */
function checkStatements(prepared: readonly string[]): void {
  const missing = Object.entries(SQL).filter(([, sql]) => !prepared.includes(sql));
  if (missing.length > 0) {
    throw new Error(
      `bench/agent-mix.ts: the raw baseline's SQL differs from what the store ran for ${missing.map(([op]) => op).join(', ')}; ` +
        `update SQL in bench/agent-mix.ts. The store prepared:\n${prepared.join('\n')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

/** A rate measured per round: one op kind's ops/s, or all ops per wall or CPU second. */
interface Metric {
  readonly label: string;
  readonly share: string;
  rate(r: RoundResult): number;
}

const totalOps = (r: RoundResult): number => r.count.reduce((a, b) => a + b, 0);
const METRICS: readonly Metric[] = [
  ...OPS.map((op, k) => ({ label: op, share: `${MIX[op]}%`, rate: (r: RoundResult) => (r.count[k as Op['kind']] * 1000) / r.ms[k as Op['kind']] })),
  { label: '**overall**', share: '100%', rate: (r) => (totalOps(r) * 1000) / r.wallMs },
  { label: 'overall, CPU time', share: '100%', rate: (r) => (totalOps(r) * 1000) / r.cpuMs },
];
const OVERALL = OPS.length; // index of the overall (wall time) metric

/** Per metric: the median over rounds of `a`'s rate, and of the per-round paired ratio a/b with its range. */
function compare(a: readonly RoundResult[], b: readonly RoundResult[]): { rate: number; ratio: number; min: number; max: number }[] {
  return METRICS.map((m) => {
    const ratios = a.map((r, i) => m.rate(r) / m.rate(b[i] as RoundResult));
    return { rate: median(a.map(m.rate)), ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
  });
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const base = options.quick ? QUICK : DEFAULTS;
  const rounds = options.rounds ?? base.rounds;
  const opsPerRound = options.opsPerRound ?? base.opsPerRound;
  const warmupOps = Math.min(base.warmupOps, opsPerRound);

  const world = makeWorld(SEED, Date.now());
  const t = performance.now();
  const preload = makePreload(world);
  const generator = new OpGenerator(world, preload);
  const pendingAtStart = generator.pendingCount;
  const warmup = generator.take(warmupOps);
  const sequence = Array.from({ length: rounds }, () => generator.take(opsPerRound));
  log(
    `agent-mix: generated ${PRELOAD_TASKS.toLocaleString('en-US')} tasks, ${PRELOAD_THREADS} thread sessions, ` +
      `${(warmupOps + rounds * opsPerRound).toLocaleString('en-US')} ops in ${Math.round(performance.now() - t)} ms ` +
      `(pending tasks: ${pendingAtStart} at the start, ≈${generator.pendingCount} at the end)`,
  );

  const subjects: Subject[] = [];
  const open = async <S extends Subject>(make: (p: Preload) => Promise<S>): Promise<S> => {
    const t0 = performance.now();
    const subject = await make(preload);
    subjects.push(subject);
    log(`agent-mix: preloaded ${subject.name} in ${Math.round(performance.now() - t0)} ms`);
    return subject;
  };

  try {
    const sqljs = await open(sqlJsSubject);
    const nat = await open(nativeSubject);
    const raw = await open(rawSubject);

    // Warm-up: the JIT, the statement caches, the page caches. Same ops on every subject.
    const warm: RoundResult[] = [];
    for (const s of subjects) {
      collectGarbage();
      warm.push(await s.run(warmup));
    }
    checkStatements(nat.statements());

    const results = new Map<Subject, RoundResult[]>(subjects.map((s) => [s, []]));
    for (let r = 0; r < rounds; r++) {
      // Alternate the order (A B C, C B A, ...) so drift and warm caches favour no engine.
      const order = r % 2 === 0 ? subjects : [...subjects].reverse();
      for (const s of order) {
        collectGarbage();
        results.get(s)?.push(await s.run(sequence[r] as Op[]));
      }
      const line = subjects.map((s) => `${s.name} ${formatRate(METRICS[OVERALL]?.rate(results.get(s)?.[r] as RoundResult) ?? 0)}`);
      log(`agent-mix: round ${r + 1}/${rounds} (ops/s): ${line.join(', ')}`);
    }

    // Every engine must have done the same work: read the same number of rows.
    const rowCounts = subjects.map((s, i) => [warm[i]?.rows, ...(results.get(s) ?? []).map((x) => x.rows)].join('/'));
    if (new Set(rowCounts).size !== 1) throw new Error(`agent-mix: the engines read different rows: ${rowCounts.join(' vs ')}`);

    const [a, b, c] = [sqljs, nat, raw].map((s) => results.get(s) as RoundResult[]) as [RoundResult[], RoundResult[], RoundResult[]];
    const vsNative = compare(a, b);
    const nativeVsRaw = compare(b, c);

    const rows = METRICS.map((m, i) => {
      const x = vsNative[i] as (typeof vsNative)[number];
      return [
        m.label,
        m.share,
        formatRate(x.rate),
        formatRate(nativeVsRaw[i]?.rate ?? Number.NaN),
        formatRatio(x.ratio),
        `${formatRatio(x.min)}–${formatRatio(x.max)}`,
        formatRate(median(c.map(m.rate))),
        formatRatio(nativeVsRaw[i]?.ratio ?? Number.NaN),
      ];
    });

    const overall = vsNative[OVERALL]?.ratio ?? Number.NaN;
    const targets: TargetResult[] = [
      { description: `overall ≥ ${TARGET_OVERALL}x native`, met: overall >= TARGET_OVERALL, measured: formatRatio(overall) },
      ...OPS.map((op, k) => {
        const ratio = vsNative[k]?.ratio ?? Number.NaN;
        return { description: `${op} ≥ ${TARGET_PER_OP}x native`, met: ratio >= TARGET_PER_OP, measured: formatRatio(ratio) };
      }),
    ];

    const markdown = [
      `### agent mix: ${PRELOAD_TASKS.toLocaleString('en-US')} tasks, ${PRELOAD_THREADS.toLocaleString('en-US')} thread sessions, each op committed on its own`,
      '',
      markdownTable(
        ['op', 'share', 'sql.js ops/s', 'better-sqlite3 ops/s', 'ratio', 'ratio range', 'native raw ops/s', 'native store / raw'],
        rows,
      ),
      '',
      `Medians of ${rounds} rounds × ${opsPerRound.toLocaleString('en-US')} ops per engine, after ${warmupOps.toLocaleString('en-US')} warm-up ops. ` +
        'ratio = sql.js store / better-sqlite3 store: the median of the per-round ratios (the engines run each round back to back), ' +
        'range = min–max over the rounds. An op\'s ops/s counts only the time of that op; overall = all ops / the wall time of the round ' +
        '(CPU time: / the CPU time of the process, all threads, which other processes on the machine do not inflate). ' +
        '"native raw" = the same statements and row mapping called synchronously on better-sqlite3, without the store\'s validation and promises.',
      '',
      `Node ${process.version}, sql.js ${SQLJS_VERSION}, better-sqlite3 ${BETTER_SQLITE3_VERSION}, ${platform()}.`,
      '',
      `Targets: ${targets.map((x) => `${x.description}: ${x.measured} ${x.met ? 'PASS' : 'MISS'}`).join('; ')}.`,
    ].join('\n');

    const json = {
      benchmark: 'agent-mix',
      date: new Date().toISOString(),
      environment: { node: process.version, sqljs: SQLJS_VERSION, betterSqlite3: BETTER_SQLITE3_VERSION, platform: platform() },
      parameters: { seed: SEED, preloadTasks: PRELOAD_TASKS, preloadThreads: PRELOAD_THREADS, mix: MIX, rounds, opsPerRound, warmupOps },
      opsPerSecond: Object.fromEntries(
        [a, b, c].map((rs, i) => [subjects[i]?.name, Object.fromEntries(METRICS.map((m) => [m.label.replaceAll('*', ''), median(rs.map(m.rate))]))]),
      ),
      ratio: Object.fromEntries(METRICS.map((m, i) => [m.label.replaceAll('*', ''), vsNative[i]])),
      targets,
      rounds: Object.fromEntries([...results].map(([s, rs]) => [s.name, rs])),
    };
    return { markdown, targets, json };
  } finally {
    for (const s of subjects) await s.close();
  }
}

const SQLJS_VERSION = packageVersion('sql.js');
const BETTER_SQLITE3_VERSION = packageVersion('better-sqlite3');


export const agentMix: Benchmark = {
  name: 'agent-mix',
  description: 'the agent mix on 100k tasks: sql.js store vs better-sqlite3 in the same run',
  run,
};
