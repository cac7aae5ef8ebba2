/**
 * What the agent-mix benchmark shares between its two processes: the Node 20 run of the sql.js
 * subjects (bench/agent-mix.ts) and the Node 22 child that measures the node:sqlite engine
 * (bench/agent-mix-node22.ts). The data and the op sequence (deterministic from a seed and an end
 * time, so both processes draw exactly the same), the statements a hand-written baseline prepares,
 * the loops that time the ops (through a `Store`, or through hand-written statements), and the
 * statistics. Nothing here loads better-sqlite3 or node:sqlite.
 */
import { encodeJson } from '../src/json.js';
import type { Task, TaskInput, TaskStatus, ThreadSessionInput } from '../src/records.js';
import type { SqlPort, SqlRow, SqlValue } from '../src/sql-port.js';
import type { Store } from '../src/store.js';
import { rowToTask } from '../src/tasks.js';
import { collectGarbage, median, percentile, Prng } from './harness.js';

// ---------------------------------------------------------------------------------------------
// Parameters

export const SEED = 0x5eed_a6e7;
export const PRELOAD_TASKS = 100_000;
export const PRELOAD_THREADS = 1_000;
export const DEFAULTS = { rounds: 5, opsPerRound: 12_000, warmupOps: 6_000 };
export const QUICK = { rounds: 2, opsPerRound: 2_000, warmupOps: 1_000 };

export const OPS = ['getTask', 'saveTask', 'updateTaskStatus', 'listTasks', 'touchThreadSession'] as const;
export type OpName = (typeof OPS)[number];
export const MIX: Record<OpName, number> = { getTask: 40, saveTask: 20, updateTaskStatus: 20, listTasks: 10, touchThreadSession: 10 };
export const LIST_FILTER = { status: 'pending', limit: 50 } as const;

// The statements the store runs for these ops, copied from src/tasks.ts and src/sessions.ts for the
// hand-written baselines. bench/agent-mix.ts fails the run when the store no longer prepares exactly these.
const TASK_COLUMNS =
  'id, status, command, params, caller_id, response_channel, response_thread, result, error, created_at, updated_at, completed_at';
export const SQL = {
  getTask: `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`,
  saveTask: `INSERT OR REPLACE INTO tasks (${TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  updateTaskStatus: 'UPDATE tasks SET status = ?, updated_at = ? WHERE id = ?',
  listTasks: `SELECT ${TASK_COLUMNS} FROM tasks WHERE status = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  touchThreadSession: 'UPDATE thread_sessions SET last_message_at = ? WHERE channel = ? AND thread_ts = ?',
} satisfies Record<OpName, string>;

export const SAVE_THREAD_SQL = 'INSERT OR REPLACE INTO thread_sessions (channel, thread_ts, session_key, created_at, last_message_at) VALUES (?, ?, ?, ?, ?)';

// ---------------------------------------------------------------------------------------------
// Data: one deterministic preload and one deterministic op sequence, shared by every subject.

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

export interface Preload {
  readonly tasks: readonly TaskInput[];
  /** saveTask's parameters of each task, encoded once for every subject. */
  readonly taskParams: readonly SqlValue[][];
  readonly threads: readonly ThreadSessionInput[];
}

function makePreload(w: World): Preload {
  const tasks = Array.from({ length: PRELOAD_TASKS }, () => preloadTask(w));
  const threads = Array.from({ length: PRELOAD_THREADS }, (_, i) => preloadThread(w, i));
  return { tasks, taskParams: tasks.map((t) => saveTaskParams(t, 0)), threads };
}

export type Op =
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

/** What every subject runs: the preload, the warm-up ops and each round's ops. */
export interface Workload {
  readonly preload: Preload;
  readonly warmup: readonly Op[];
  readonly sequence: readonly (readonly Op[])[];
  readonly pendingAtStart: number;
  readonly pendingAtEnd: number;
}

/** The sizes of a run, and the seed and end time that make its data: the same workload in every process. */
export interface WorkloadSpec {
  readonly seed: number;
  readonly end: number;
  readonly rounds: number;
  readonly opsPerRound: number;
  readonly warmupOps: number;
}

export function makeWorkload(spec: WorkloadSpec): Workload {
  const world = makeWorld(spec.seed, spec.end);
  const preload = makePreload(world);
  const generator = new OpGenerator(world, preload);
  const pendingAtStart = generator.pendingCount;
  const warmup = generator.take(spec.warmupOps);
  const sequence = Array.from({ length: spec.rounds }, () => generator.take(spec.opsPerRound));
  return { preload, warmup, sequence, pendingAtStart, pendingAtEnd: generator.pendingCount };
}

/** The parameters saveTask binds for `t` (src/tasks.ts), for the preload and the hand-written baselines. */
export function saveTaskParams(t: TaskInput, now: number): SqlValue[] {
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

/**
 * Loads the preload into a migrated database in one atomic batch, with saveTask's and
 * saveThreadSession's statements and parameters (bulk, because validating 101,000 records through
 * the store would take longer than the benchmark).
 */
export async function preloadPort(port: SqlPort, preload: Preload): Promise<void> {
  await port.batch([
    ...preload.taskParams.map((params) => ({ sql: SQL.saveTask, params })),
    ...preload.threads.map((t) => ({
      sql: SAVE_THREAD_SQL,
      params: [t.channel, t.threadTs, `agent:main:slack-${t.channel}-${t.threadTs}`, t.createdAt ?? 0, t.lastMessageAt ?? 0],
    })),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Subjects: the things measured. Each runs an op sequence and reports time per op kind.

/** One number per op kind, indexed by `Op['kind']` (the order of OPS). */
export type PerOp = [number, number, number, number, number];

/** One round of one subject, as it is kept and sent between processes. */
export interface RoundResult {
  /** Summed op time per op kind, ms. */
  readonly ms: PerOp;
  readonly count: PerOp;
  /** Wall time of the whole round, ms (op times plus the loop). */
  readonly wallMs: number;
  /** CPU time (user + system) of the process during the round, ms: unlike wall time, not inflated by other processes. */
  readonly cpuMs: number;
  /** Rows returned by reads (getTask hits + listTasks rows), to check every subject did the same work. */
  readonly rows: number;
}

/** A round as a subject measures it: with every op's latency (ms), per op kind. */
export interface TimedRound extends RoundResult {
  readonly latencies: [number[], number[], number[], number[], number[]];
}

export interface Subject {
  readonly name: string;
  run(ops: readonly Op[]): Promise<TimedRound> | TimedRound;
  close(): Promise<void>;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

/** Times the ops through the store's API, each awaited. */
export async function runOnStore(store: Store, ops: readonly Op[]): Promise<TimedRound> {
  const ms: PerOp = [0, 0, 0, 0, 0];
  const count: PerOp = [0, 0, 0, 0, 0];
  const latencies: TimedRound['latencies'] = [[], [], [], [], []];
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
    const t = performance.now() - t0;
    ms[op.kind] += t;
    count[op.kind]++;
    latencies[op.kind].push(t);
  }
  return { ms, count, latencies, wallMs: performance.now() - start, cpuMs: cpuMs(cpu), rows };
}

/**
 * The five ops as a user writes them by hand on a SQLite binding instead of using the store:
 * prepared statements (prepared once), bound and stepped synchronously, rows mapped with the store's
 * own `rowToTask`, a missing row of an UPDATE checked through its change count. Each binding
 * (better-sqlite3, node:sqlite, sql.js) implements these in a few lines.
 */
export interface HandWritten {
  getTask(id: string): SqlRow | undefined;
  saveTask(params: SqlValue[]): void;
  /** Returns the rows changed. */
  updateTaskStatus(status: TaskStatus, now: number, id: string): number;
  listTasks(status: string, limit: number): SqlRow[];
  /** Returns the rows changed. */
  touchThreadSession(now: number, channel: string, threadTs: string): number;
}

/** Times the ops through hand-written statements: no validation, no promises, no engine or store layer. */
export function runHandWritten(raw: HandWritten, ops: readonly Op[]): TimedRound {
  const ms: PerOp = [0, 0, 0, 0, 0];
  const count: PerOp = [0, 0, 0, 0, 0];
  const latencies: TimedRound['latencies'] = [[], [], [], [], []];
  let rows = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (const op of ops) {
    const t0 = performance.now();
    switch (op.kind) {
      case 0: {
        const row = raw.getTask(op.id);
        if (row && rowToTask(row)) rows++;
        break;
      }
      case 1:
        raw.saveTask(saveTaskParams(op.task, Date.now()));
        break;
      case 2:
        if (raw.updateTaskStatus(op.status, Date.now(), op.id) === 0) throw new Error(`task ${op.id} not found`);
        break;
      case 3:
        rows += raw.listTasks(LIST_FILTER.status, LIST_FILTER.limit).map(rowToTask).length;
        break;
      case 4:
        if (raw.touchThreadSession(Date.now(), op.channel, op.threadTs) === 0) throw new Error('thread session not found');
        break;
    }
    const t = performance.now() - t0;
    ms[op.kind] += t;
    count[op.kind]++;
    latencies[op.kind].push(t);
  }
  return { ms, count, latencies, wallMs: performance.now() - start, cpuMs: cpuMs(cpu), rows };
}

// ---------------------------------------------------------------------------------------------
// Running the subjects and what is kept of them

/** Latency percentiles of one op kind over all measured rounds of a subject, ms. */
export interface OpLatency {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Everything measured of one subject: its rounds (without the single latencies) and their latency percentiles per op. */
export interface SubjectResults {
  readonly name: string;
  readonly warmup: RoundResult;
  readonly rounds: readonly RoundResult[];
  readonly latency: Record<OpName, OpLatency>;
}

function withoutLatencies(r: TimedRound): RoundResult {
  return { ms: r.ms, count: r.count, wallMs: r.wallMs, cpuMs: r.cpuMs, rows: r.rows };
}

/** Ops per block: within a round the subjects take turns block by block (see {@link runSubjects}). */
export const BLOCK_OPS = 500;

/** `b` added into `a` (the same op kinds), as one longer run. */
function accumulate(a: TimedRound | undefined, b: TimedRound): TimedRound {
  if (!a) return b;
  const add = (x: PerOp, y: PerOp): PerOp => x.map((v, k) => v + (y[k] ?? 0)) as PerOp;
  a.latencies.forEach((l, k) => {
    for (const x of b.latencies[k] ?? []) l.push(x);
  });
  return { ms: add(a.ms, b.ms), count: add(a.count, b.count), latencies: a.latencies, wallMs: a.wallMs + b.wallMs, cpuMs: a.cpuMs + b.cpuMs, rows: a.rows + b.rows };
}

/**
 * Runs every subject on the same warm-up, then the same rounds. Within a round the subjects take
 * turns in blocks of {@link BLOCK_OPS} ops (A B C on a block, C B A on the next, …), so that what
 * the machine does meanwhile (other processes, the disk's other writers: a file subject's writes
 * each wait for an fsync) reaches every subject alike, not one subject's whole round. A full GC
 * before each round, a scavenge before each block, so that a subject's young garbage is collected
 * in its own time. Checks that every subject read the same number of rows.
 */
export async function runSubjects(subjects: readonly Subject[], workload: Workload, log: (line: string) => void, tag: string): Promise<SubjectResults[]> {
  const warm: RoundResult[] = [];
  for (const s of subjects) {
    collectGarbage();
    warm.push(withoutLatencies(await s.run(workload.warmup)));
  }
  const rounds = new Map<Subject, RoundResult[]>(subjects.map((s) => [s, []]));
  const latencies = new Map<Subject, number[][]>(subjects.map((s) => [s, [[], [], [], [], []]]));
  let turn = 0;
  for (let r = 0; r < workload.sequence.length; r++) {
    const ops = workload.sequence[r] as Op[];
    const round = new Map<Subject, TimedRound>();
    collectGarbage();
    for (let at = 0; at < ops.length; at += BLOCK_OPS) {
      const block = ops.slice(at, at + BLOCK_OPS);
      for (const s of turn++ % 2 === 0 ? subjects : [...subjects].reverse()) {
        collectGarbage('minor');
        round.set(s, accumulate(round.get(s), await s.run(block)));
      }
    }
    for (const s of subjects) {
      const result = round.get(s) as TimedRound;
      rounds.get(s)?.push(withoutLatencies(result));
      const all = latencies.get(s) as number[][];
      result.latencies.forEach((l, k) => {
        for (const x of l) all[k]?.push(x);
      });
    }
    const line = subjects.map((s) => `${s.name} ${Math.round(overallRate(rounds.get(s)?.[r] as RoundResult)).toLocaleString('en-US')}`);
    log(`${tag}: round ${r + 1}/${workload.sequence.length} (ops/s): ${line.join(', ')}`);
  }
  const results = subjects.map((s, i) => {
    const all = latencies.get(s) as number[][];
    const latency = Object.fromEntries(
      OPS.map((op, k) => {
        const values = all[k] ?? [];
        return [op, { count: values.length, p50: percentile(values, 0.5), p99: percentile(values, 0.99), p999: percentile(values, 0.999), max: Math.max(...values) }];
      }),
    ) as Record<OpName, OpLatency>;
    return { name: s.name, warmup: warm[i] as RoundResult, rounds: rounds.get(s) ?? [], latency };
  });
  checkSameRows(results);
  return results;
}

/** Fails when the subjects read different numbers of rows (they would not have done the same work). */
export function checkSameRows(results: readonly SubjectResults[]): void {
  const rowCounts = results.map((s) => [s.warmup.rows, ...s.rounds.map((x) => x.rows)].join('/'));
  if (new Set(rowCounts).size !== 1) {
    throw new Error(`agent-mix: the subjects read different rows: ${results.map((s, i) => `${s.name} ${rowCounts[i]}`).join(' vs ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** A rate measured per round: one op kind's ops/s, their geometric mean, or all ops per wall or CPU second. */
export interface Metric {
  readonly label: string;
  readonly share: string;
  rate(r: RoundResult): number;
}

const totalOps = (r: RoundResult): number => r.count.reduce((a, b) => a + b, 0);
const opRate = (r: RoundResult, k: number): number => ((r.count[k] ?? 0) * 1000) / (r.ms[k] ?? Number.NaN);
const overallRate = (r: RoundResult): number => (totalOps(r) * 1000) / r.wallMs;

/**
 * The five ops, their geometric mean (of the per-op ops/s, so a ratio of two of them is the
 * geometric mean of the per-op ratios: every op weighs the same, whatever its share or speed), and
 * the whole mix per second of wall time and of CPU time.
 */
export const METRICS: readonly Metric[] = [
  ...OPS.map((op, k) => ({ label: op, share: `${MIX[op]}%`, rate: (r: RoundResult) => opRate(r, k) })),
  { label: '**geometric mean**', share: '', rate: (r) => Math.exp(OPS.reduce((sum, _, k) => sum + Math.log(opRate(r, k)), 0) / OPS.length) },
  { label: 'mix, wall time', share: '100%', rate: overallRate },
  { label: 'mix, CPU time', share: '100%', rate: (r) => (totalOps(r) * 1000) / r.cpuMs },
];
/** Index in METRICS of the geometric mean. */
export const GEOMEAN = OPS.length;
/** Index in METRICS of the whole mix per wall second. */
export const MIX_WALL = OPS.length + 1;

/** One metric of subject `a` against subject `b`: a's median rate and the median of the per-round ratios a/b, with its range. */
export interface Comparison {
  readonly rate: number;
  readonly ratio: number;
  readonly min: number;
  readonly max: number;
}

/** Per metric: the median over rounds of `a`'s rate, and of the per-round paired ratio a/b with its range. */
export function compare(a: SubjectResults, b: SubjectResults): Comparison[] {
  return METRICS.map((m) => {
    const ratios = a.rounds.map((r, i) => m.rate(r) / m.rate(b.rounds[i] as RoundResult));
    return { rate: median(a.rounds.map(m.rate)), ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
  });
}

/** The median over rounds of a subject's rate for a metric. */
export function rateOf(s: SubjectResults, m: Metric): number {
  return median(s.rounds.map(m.rate));
}

// ---------------------------------------------------------------------------------------------
// The Node 22 child (bench/agent-mix-node22.ts)

/** What the parent asks for. */
export interface Node22Request extends WorkloadSpec {
  /** A directory on the repository's disk for the file-backed subjects (created and emptied here). */
  readonly diskDir: string;
  /** A directory in a tmpfs for the tmpfs subjects, or none to leave them out. */
  readonly tmpfsDir?: string;
}

/** What the child reports. */
export interface Node22Report {
  readonly node: string;
  readonly sqlite: string;
  readonly pendingAtStart: number;
  readonly pendingAtEnd: number;
  readonly subjects: readonly SubjectResults[];
}

/** The subjects' names, as the parent finds them in the report. */
export const NODE22_SUBJECTS = {
  engineFile: 'node:sqlite engine, file',
  rawFile: 'DatabaseSync, file',
  engineTmpfs: 'node:sqlite engine, tmpfs',
  rawTmpfs: 'DatabaseSync, tmpfs',
  rawMemory: 'DatabaseSync, :memory:',
} as const;

