/**
 * What the durable-writes benchmark (bench/durable-writes.ts) and its child processes
 * (bench/durable-child.ts) share: the subjects, the tasks they save, and the messages between them.
 */
import type { TaskInput, TaskStatus } from '../src/records.js';
import { Prng } from './harness.js';

export { percentile } from './harness.js';

/**
 * The ways of keeping the database durably on disk that the benchmark compares: the sql.js store
 * with its journal or writing its whole image, better-sqlite3 in WAL mode (the baseline), and the
 * node:sqlite engine (its children run under Node 22).
 */
export const SUBJECTS = ['journal', 'image', 'better-sqlite3', 'node-sqlite'] as const;
export type SubjectId = (typeof SUBJECTS)[number];

/** How each subject is named in the report. */
export const SUBJECT_LABELS: Record<SubjectId, string> = {
  journal: 'store, journal',
  image: 'store, whole image',
  'better-sqlite3': 'better-sqlite3 WAL',
  'node-sqlite': 'node:sqlite engine',
};

/** The subjects whose children run under Node 22 (node:sqlite), the others under the Node running the benchmark. */
export const NODE22_SUBJECTS: readonly SubjectId[] = ['node-sqlite'];

/** What a child process is asked to do (its single command-line argument, as JSON). */
export type ChildRequest =
  | {
      /** Open the database at `path`, then time saves one after another and by `writers` concurrent loops; close it. */
      readonly kind: 'measure';
      readonly subject: SubjectId;
      readonly path: string;
      readonly seed: number;
      readonly warmupOps: number;
      readonly sequentialOps: number;
      readonly writers: number;
      readonly opsPerWriter: number;
    }
  | {
      /**
       * Save `records` tasks, each its own commit, with nothing checkpointed (no image for the store,
       * no WAL checkpoint for better-sqlite3), make them reach the file, then die by SIGKILL.
       */
      readonly kind: 'crash-after-writes';
      readonly subject: Exclude<SubjectId, 'image'>;
      readonly path: string;
      readonly seed: number;
      readonly records: number;
    }
  | {
      /** Time opening the database at `path` and reading the task `probeId`; exit without closing. */
      readonly kind: 'open';
      readonly subject: SubjectId;
      readonly path: string;
      readonly probeId: string;
    };

/** Latencies of a series of saves, ms. */
export interface Latency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

/** Memory of a child process: its RSS just before it opened the database (after a full GC), and its peak. */
export interface Memory {
  /** RSS before the open, bytes: Node, tsx, the modules and the benchmark's own data. */
  readonly rssBeforeBytes: number;
  /** Peak RSS of the process (Linux: `VmHWM`; elsewhere `maxRSS`), bytes. */
  readonly maxRssBytes: number;
  /** The size of the database when the child was done with it (after its writes), bytes. */
  readonly databaseBytes: number;
}

/** What a `measure` child reports. */
export interface MeasureReport extends Memory {
  readonly kind: 'measure';
  /** The first save after the open (the first of the warm-up), ms. */
  readonly firstSaveMs: number;
  /** The sequential saves. */
  readonly sequential: Latency;
  /**
   * The event loop's delay during the sequential saves (`monitorEventLoopDelay`, 1 ms resolution;
   * the loop turns between saves): the longest time the loop was blocked, ms. A synchronous
   * engine blocks it for a whole save, its fsync included; the sql.js store waits for its fsync off the loop.
   */
  readonly loopLagMaxMs: number;
  /** The same delay's p99, ms. */
  readonly loopLagP99Ms: number;
  /** All saves of the concurrent writers and the wall time they took together, ms. */
  readonly concurrentOps: number;
  readonly concurrentMs: number;
  /** Whether the store wrote an image during the saves (every flush does, in whole-image mode). */
  readonly checkpointed: boolean;
  /** Time of `close()`, ms: the store's final checkpoint, better-sqlite3's WAL checkpoint. */
  readonly closeMs: number;
}

/** What a `crash-after-writes` child reports, just before it kills itself. */
export interface CrashReport {
  readonly kind: 'crash-after-writes';
  /** The id of the last task saved: the probe of the next open. */
  readonly lastId: string;
  /** What the crash left next to the image: the store's journal, or better-sqlite3's WAL, bytes. */
  readonly leftoverBytes: number;
}

/** What an `open` child reports. */
export interface OpenReport extends Memory {
  readonly kind: 'open';
  /** Opening plus the first read, ms. */
  readonly openMs: number;
  /** Journal records replayed (the store), or WAL frames found (better-sqlite3). */
  readonly replayed: number;
}

export type ChildReport = MeasureReport | CrashReport | OpenReport;


// ---------------------------------------------------------------------------------------------
// Tasks

const COMMANDS = ['deploy', 'restart_service', 'scale', 'rollback', 'run_query', 'fetch_logs', 'create_ticket', 'check_status'];
const ENVS = ['prod', 'staging', 'dev'];
const REGIONS = ['eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-1'];
const STEPS = ['drain', 'snapshot', 'apply', 'verify', 'notify', 'migrate', 'warm', 'canary'];
const DAY = 86_400_000;

/** Makes the tasks of a benchmark: the same sequence for every subject given the same seed. */
export class TaskFactory {
  readonly #prng: Prng;
  readonly #users: readonly string[];
  readonly #channels: readonly string[];

  constructor(seed: number) {
    const prng = new Prng(seed);
    this.#prng = prng;
    this.#users = Array.from({ length: 200 }, () => `U${prng.hex(10).toUpperCase()}`);
    this.#channels = Array.from({ length: 50 }, () => `C${prng.hex(10).toUpperCase()}`);
  }

  /** A task's params as an agent plans it: a JSON object of about 1–2 KB. */
  #params(): TaskInput['params'] {
    const p = this.#prng;
    return {
      service: `svc-${p.pick(['api', 'web', 'worker', 'billing', 'auth'])}-${p.int(0, 39)}`,
      env: p.pick(ENVS),
      region: p.pick(REGIONS),
      version: `v${p.int(1, 9)}.${p.int(0, 40)}.${p.int(0, 200)}`,
      replicas: p.int(1, 12),
      requestedBy: p.pick(this.#users),
      reason: p.words(p.int(150, 500)),
      plan: Array.from({ length: p.int(3, 8) }, () => ({
        step: p.pick(STEPS),
        target: `${p.pick(REGIONS)}/${p.hex(8)}`,
        timeoutSec: p.pick([30, 60, 300, 900]),
        note: p.words(p.int(20, 80)),
      })),
      options: { dryRun: p.next() < 0.2, atomic: p.next() < 0.5, notify: p.next() < 0.7 },
    };
  }

  /** A new task as the agent saves it: pending, timestamps now (the store's clock). */
  newTask(): TaskInput {
    const p = this.#prng;
    return {
      id: p.uuid(),
      command: p.pick(COMMANDS),
      params: this.#params(),
      callerId: p.pick(this.#users),
      responseChannel: p.pick(this.#channels),
      responseThread: `${Math.floor(Date.now() / 1000) - p.int(0, 86_400)}.${String(p.int(0, 999_999)).padStart(6, '0')}`,
    };
  }

  /** A task of a database's history: created in the 30 days before `end`, mostly finished. */
  pastTask(end: number): TaskInput {
    const p = this.#prng;
    const status = p.weighted<TaskStatus>({ completed: 80, failed: 11, cancelled: 2, running: 3, awaiting_approval: 2.5, pending: 1.5 });
    const createdAt = end - p.int(60_000, 30 * DAY);
    const updatedAt = createdAt + (status === 'pending' ? 0 : p.int(200, 15 * 60_000));
    const task: TaskInput = { ...this.newTask(), status, createdAt, updatedAt };
    if (status === 'completed' || status === 'failed' || status === 'cancelled') task.completedAt = updatedAt;
    if (status === 'completed') task.result = { ok: true, output: p.words(p.int(30, 200)), durationMs: updatedAt - createdAt };
    if (status === 'failed') task.error = `${p.pick(['timeout', 'exit status 1', 'permission denied'])}: ${p.words(p.int(20, 80))}`;
    return task;
  }
}
