/**
 * Durable writes in real Chromium: a `saveTask` whose promise resolves once its IndexedDB
 * transaction committed (the IndexedDB adapter, `durability: 'strict'`, the store's default
 * `durability: 'write'`), at images of 1 and 50 MiB, for two subjects:
 * - **store, journal**: one small journal entry per save;
 * - **store, whole image**: `journal: false`, the whole image rewritten per save;
 * against the platform's floor, measured in the same page and run: **IndexedDB put**, a raw
 * readwrite transaction with `durability: 'strict'` putting one value the size of a journal record
 * into a database of its own. Extra rows: the journal and the put with `durability: 'relaxed'`, the
 * adapter's `append` alone, and the put in an off-the-record context (the test harness's default
 * contexts, see below).
 *
 * Then the browser half of checkpoint-stalls (issue 16): sequential durable saves on the 50 MiB
 * seed for long enough to cross three checkpoints (an explicit one at the half), with the event
 * loop sampled by a 1 ms timer, against the strict put floor: p50/p99/p99.9/max, saves over
 * 100 ms, loop lag, throughput, the checkpoints and the bytes given to the adapter.
 *
 * The page (bench/browser/durable-page.ts) builds each seed image once (a memory store filled with
 * tasks of a few KB), and every subject, size and round starts on a fresh IndexedDB database seeded
 * with it through the adapter's own `lock/load/checkpoint/close`. Chromium runs with a persistent
 * profile on disk: the test harness's `newContext()` contexts are off the record, where IndexedDB
 * lives in memory and a strict commit never reaches the disk (no fdatasync at all).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, chromiumPath, startBrowserHarness, type BrowserHarness } from '../test/browser/harness.js';
import { IMAGE_CHUNK_BYTES } from '../adapters/indexeddb.js';
import { checkpointThreshold } from '../src/index.js';
import type { DurablePage, StallsRun, StoreRun, WorkerStallsRun } from './browser/durable-page.js';
import { percentile } from './durable-common.js';
import { formatRatio, markdownTable, median, packageVersion, platform, type BenchOptions, type BenchResult, type Benchmark, type TargetResult } from './harness.js';

// ---------------------------------------------------------------------------------------------
// Parameters

const MiB = 2 ** 20;

interface SizeSpec {
  readonly label: string;
  readonly bytes: number;
  /** Timed saves in whole-image mode (every one writes the whole image). */
  readonly imageSaves: number;
}

interface Params {
  readonly sizes: readonly SizeSpec[];
  readonly rounds: number;
  /** Timed saves of the journal subjects, and timed puts of the floor. */
  readonly saves: number;
  /** Untimed saves (puts) after the open, before the timed ones. */
  readonly warmup: number;
  readonly imageWarmup: number;
  /** Checkpoint stalls: the seed they run on, the checkpoints they cross, the floor's puts. */
  readonly stalls: {
    readonly size: string;
    /** A fixed threshold (quick runs), or undefined for the store's adaptive one. */
    readonly checkpointBytes: number | undefined;
    readonly checkpoints: number;
    readonly floorPuts: number;
  };
}

const DEFAULTS: Params = {
  sizes: [
    { label: '1 MiB', bytes: 1 * MiB, imageSaves: 50 },
    { label: '50 MiB', bytes: 50 * MiB, imageSaves: 15 },
  ],
  rounds: 3,
  saves: 500,
  warmup: 30,
  imageWarmup: 2,
  stalls: { size: '50 MiB', checkpointBytes: undefined, checkpoints: 3, floorPuts: 20_000 },
};

const QUICK: Params = {
  sizes: [
    { label: '1 MiB', bytes: 1 * MiB, imageSaves: 10 },
    { label: '8 MiB', bytes: 8 * MiB, imageSaves: 4 },
  ],
  rounds: 1,
  saves: 60,
  warmup: 5,
  imageWarmup: 1,
  stalls: { size: '8 MiB', checkpointBytes: 256 * 1024, checkpoints: 3, floorPuts: 500 },
};

/** The issue's target: a durable journal save under 5 ms at every size. */
const TARGET_P50_MS = 5;
/** Checkpoint stalls' targets (issue 16), as checkpoint-stalls' at 256 MiB in Node, against the strict put floor. */
const STALL_TARGET_MAX_MS = 100;
const STALL_TARGET_LAG_MS = 50;
const STALL_TARGET_P999_RATIO = 3;
const STALL_TARGET_THROUGHPUT_RATIO = 0.8;
/** Saves of the calibration that measures a journal record's size. */
const RECORD_SAMPLE = 50;
/** The longest one call into the page may take (a stuck page fails the run instead of hanging it). */
const CALL_TIMEOUT_MS = 10 * 60_000;

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const DATA_DIR = join(BENCH_DIR, 'results', 'browser-durable');
const ENTRY = 'durable-page';

const SUBJECTS = ['journal', 'image', 'journal-relaxed', 'append', 'put', 'put-relaxed', 'put-off-record'] as const;
type SubjectId = (typeof SUBJECTS)[number];

const LABELS: Record<SubjectId, string> = {
  journal: 'store, journal',
  image: 'store, whole image',
  'journal-relaxed': 'store, journal, relaxed',
  append: 'adapter append',
  put: 'IndexedDB put (floor)',
  'put-relaxed': 'IndexedDB put, relaxed',
  'put-off-record': 'IndexedDB put, off-the-record',
};

const isStore = (s: SubjectId): boolean => s === 'journal' || s === 'image' || s === 'journal-relaxed';

// ---------------------------------------------------------------------------------------------
// The browser

/** Where the pages run: a persistent profile (IndexedDB on disk) and an off-the-record context. */
interface Browser {
  readonly harness: BrowserHarness;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly offRecordPage: Page;
  readonly profileDir: string;
}

/**
 * Serves the pages cross-origin isolated (COOP + COEP): only then does Chromium time
 * `performance.now()` to 5 µs instead of 100 µs, which matters for ~1 ms saves.
 */
async function isolate(context: BrowserContext, origin: string): Promise<void> {
  await context.route(`${origin}/**`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } });
  });
}

async function startBrowser(): Promise<Browser> {
  const harness = await startBrowserHarness({ entries: { [ENTRY]: 'bench/browser/durable-page.ts', 'durable-worker': 'bench/browser/durable-worker.ts' } });
  // On the repository's disk (like durable-writes' files), not a tmpfs: fdatasync must mean something.
  const profileDir = join(DATA_DIR, `profile-${process.pid}`);
  let context: BrowserContext | undefined;
  try {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
    context = await chromium.launchPersistentContext(profileDir, { executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], headless: true });
    await isolate(context, harness.origin);
    const page = await harness.openEntry(ENTRY, context);
    for (const blank of context.pages()) if (blank !== page) await blank.close();
    const offRecord = await harness.newContext();
    await isolate(offRecord, harness.origin);
    const offRecordPage = await harness.openEntry(ENTRY, offRecord);
    return { harness, context, page, offRecordPage, profileDir };
  } catch (e) {
    await context?.close().catch(() => undefined);
    await harness.close();
    rmSync(profileDir, { recursive: true, force: true });
    throw e;
  }
}

async function stopBrowser(b: Browser): Promise<void> {
  await b.context.close().catch(() => undefined);
  await b.harness.close();
  rmSync(b.profileDir, { recursive: true, force: true });
}

/** Calls `bench[method](...args)` in `page`; fails with what the page logged when it throws or stops answering. */
async function call<K extends keyof DurablePage>(b: Browser, page: Page, method: K, ...args: Parameters<DurablePage[K]>): Promise<Awaited<ReturnType<DurablePage[K]>>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      page.evaluate(
        ({ method, args }) => (globalThis as unknown as { bench: Record<string, (...a: unknown[]) => unknown> }).bench[method]!(...args),
        { method: method as string, args: args as unknown[] },
      ) as Promise<Awaited<ReturnType<DurablePage[K]>>>,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer after ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
      }),
    ]);
  } catch (e) {
    const log = b.harness.consoleOf(page);
    throw new Error(`browser-durable: ${String(method)} failed in the page: ${b.harness.mapStack((e as Error).message)}${log.length ? `\n${log.slice(-30).join('\n')}` : ''}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

/** A full garbage collection in the page (through the DevTools protocol), so one subject's garbage does not land in the next one's timings. */
async function collectPageGarbage(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('HeapProfiler.collectGarbage');
  } finally {
    await cdp.detach();
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Seed {
  readonly size: SizeSpec;
  readonly bytes: number;
  readonly tasks: number;
  readonly buildMs: number;
}

interface Latency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One subject at one size in one round. */
interface Measurement {
  readonly latency: Latency;
  /** Store subjects only. */
  readonly store?: Omit<StoreRun, 'latencies'> & { readonly seedMs: number };
}

function latencyOf(values: readonly number[]): Latency {
  return { count: values.length, p50Ms: percentile(values, 0.5), p99Ms: percentile(values, 0.99), maxMs: Math.max(...values) };
}

let databases = 0;

async function measure(b: Browser, subject: SubjectId, seed: Seed, params: Params, recordBytes: number, round: number): Promise<Measurement> {
  const name = `bd-${process.pid}-r${round}-${subject}-${seed.size.bytes}-${++databases}`;
  if (subject === 'append') {
    await collectPageGarbage(b.page);
    return { latency: latencyOf(await call(b, b.page, 'measureAppend', { name, bytes: recordBytes, warmup: params.warmup, count: params.saves })) };
  }
  if (!isStore(subject)) {
    const page = subject === 'put-off-record' ? b.offRecordPage : b.page;
    await collectPageGarbage(page);
    const latencies = await call(b, page, 'measurePut', {
      database: name,
      durability: subject === 'put-relaxed' ? 'relaxed' : 'strict',
      bytes: recordBytes,
      warmup: params.warmup,
      count: params.saves,
    });
    return { latency: latencyOf(latencies) };
  }
  const s0 = performance.now();
  await call(b, b.page, 'seed', name, seed.size.bytes);
  const seedMs = performance.now() - s0;
  await collectPageGarbage(b.page);
  const image = subject === 'image';
  try {
    const { latencies, ...run } = await call(b, b.page, 'measureStore', {
      name,
      journal: !image,
      durability: subject === 'journal-relaxed' ? 'relaxed' : 'strict',
      warmup: image ? params.imageWarmup : params.warmup,
      count: image ? seed.size.imageSaves : params.saves,
    });
    return { latency: latencyOf(latencies), store: { ...run, seedMs } };
  } finally {
    await call(b, b.page, 'drop', name);
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint stalls (issue 16 in the browser)

interface StallsResult {
  readonly seed: Seed;
  readonly run: Omit<StallsRun, 'latencies'>;
  readonly saves: number;
  readonly store: StoreStats;
  /** The same saves with the store in a dedicated Worker, driven from the page (each save posted, its answer awaited). */
  readonly inWorker: { readonly run: Omit<WorkerStallsRun, 'latencies'>; readonly store: StoreStats };
  readonly floor: Floor;
  /** The same puts in a dedicated Worker (the page posts each and awaits the answer): IndexedDB off the page's thread. */
  readonly workerFloor: Floor;
}

interface StoreStats {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly over100: number;
  readonly savesPerSecond: number;
  /** The page's event-loop lag during the saves. */
  readonly loopLagMaxMs: number;
}

function storeStats(latencies: readonly number[], run: { totalMs: number; maxTickGapMs: number; medianTickGapMs: number }): StoreStats {
  return {
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    p999Ms: percentile(latencies, 0.999),
    maxMs: Math.max(...latencies),
    over100: latencies.filter((ms) => ms > 100).length,
    savesPerSecond: (latencies.length / run.totalMs) * 1000,
    loopLagMaxMs: Math.max(0, run.maxTickGapMs - run.medianTickGapMs),
  };
}

interface Floor {
  readonly puts: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly over100: number;
  /** The page's event-loop lag during the puts (as the store's). */
  readonly loopLagMaxMs: number;
  readonly putsPerSecond: number;
}

/** Pools runs of the floor: their latencies, and the worst lag of any. */
function floorOf(runs: readonly { latencies: number[]; maxTickGapMs: number; medianTickGapMs: number }[]): Floor {
  const puts = runs.flatMap((r) => r.latencies);
  return {
    puts: puts.length,
    p50Ms: percentile(puts, 0.5),
    p99Ms: percentile(puts, 0.99),
    p999Ms: percentile(puts, 0.999),
    maxMs: Math.max(...puts),
    over100: puts.filter((ms) => ms > 100).length,
    loopLagMaxMs: Math.max(...runs.map((r) => Math.max(0, r.maxTickGapMs - r.medianTickGapMs))),
    putsPerSecond: (puts.length / puts.reduce((a, v) => a + v, 0)) * 1000,
  };
}

/**
 * Sequential durable saves on the seed for long enough to cross `params.stalls.checkpoints`
 * checkpoints (an explicit one at the half among them), between two runs of the strict put floor
 * (their latencies pooled): the browser half of checkpoint-stalls.
 */
async function measureStalls(b: Browser, seed: Seed, params: Params, recordBytes: number, log: (line: string) => void): Promise<StallsResult> {
  const threshold = checkpointThreshold(params.stalls.checkpointBytes, seed.bytes);
  // The explicit checkpoint at the half empties the journal: (n + 0.3) thresholds of records cross
  // n - 1 automatic ones and the explicit one.
  const saves = Math.ceil(((params.stalls.checkpoints + 0.3) * threshold) / recordBytes);
  const floor = async (where: 'page' | 'worker', count: number) => {
    await collectPageGarbage(b.page);
    return call(b, b.page, 'measurePutLag', { database: `bd-${process.pid}-stall-put-${++databases}`, where, bytes: recordBytes, warmup: params.warmup, count });
  };
  // Half of the worker's puts before the saves and half after, as the page's.
  const workerPuts = Math.ceil(params.stalls.floorPuts / 2);
  log(
    `browser-durable: checkpoint stalls at ${seed.size.label}: ${saves.toLocaleString('en-US')} saves (threshold ${mib(threshold)} MiB), ` +
      `floor ${params.stalls.floorPuts.toLocaleString('en-US')} puts before and after (and ${workerPuts.toLocaleString('en-US')} in a Worker)`,
  );
  const before = [await floor('page', params.stalls.floorPuts), await floor('worker', workerPuts)];
  const name = `bd-${process.pid}-stalls-${seed.size.bytes}-${++databases}`;
  await call(b, b.page, 'seed', name, seed.size.bytes);
  await collectPageGarbage(b.page);
  let latencies: number[];
  let run: Omit<StallsRun, 'latencies'>;
  try {
    ({ latencies, ...run } = await call(b, b.page, 'measureStalls', { name, count: saves, ...(params.stalls.checkpointBytes ? { checkpointBytes: params.stalls.checkpointBytes } : {}) }));
  } finally {
    await call(b, b.page, 'drop', name);
  }
  // The same saves again, on a fresh copy of the seed, with the store in a Worker.
  const workerName = `bd-${process.pid}-stalls-worker-${seed.size.bytes}-${++databases}`;
  await call(b, b.page, 'seed', workerName, seed.size.bytes);
  await collectPageGarbage(b.page);
  let inWorker: StallsResult['inWorker'];
  try {
    const { latencies: workerLatencies, ...workerRun } = await call(b, b.page, 'measureStallsInWorker', {
      name: workerName,
      count: saves,
      ...(params.stalls.checkpointBytes ? { checkpointBytes: params.stalls.checkpointBytes } : {}),
    });
    inWorker = { run: workerRun, store: storeStats(workerLatencies, workerRun) };
  } finally {
    await call(b, b.page, 'drop', workerName);
  }
  const after = [await floor('worker', workerPuts), await floor('page', params.stalls.floorPuts)];
  const result: StallsResult = {
    seed,
    run,
    saves,
    store: storeStats(latencies, run),
    inWorker,
    floor: floorOf([before[0]!, after[1]!]),
    workerFloor: floorOf([before[1]!, after[0]!]),
  };
  log(
    `browser-durable: stalls: store p50 ${formatMs(result.store.p50Ms)} ms, p99.9 ${formatMs(result.store.p999Ms)} ms, max ${formatMs(result.store.maxMs)} ms, ` +
      `loop lag max ${formatMs(result.store.loopLagMaxMs)} ms, ${Math.round(result.store.savesPerSecond)} saves/s, ${run.checkpoints} checkpoints (${run.checkpointMs.map((ms) => formatMs(ms)).join(', ')} ms); ` +
      `floor p50 ${formatMs(result.floor.p50Ms)} ms, p99.9 ${formatMs(result.floor.p999Ms)} ms, max ${formatMs(result.floor.maxMs)} ms, loop lag max ${formatMs(result.floor.loopLagMaxMs)} ms, ${Math.round(result.floor.putsPerSecond)} puts/s; ` +
      `in a Worker max ${formatMs(result.workerFloor.maxMs)} ms, loop lag max ${formatMs(result.workerFloor.loopLagMaxMs)} ms, ${Math.round(result.workerFloor.putsPerSecond)} puts/s`,
  );
  log(
    `browser-durable: stalls, store in a Worker: p50 ${formatMs(inWorker.store.p50Ms)} ms, p99.9 ${formatMs(inWorker.store.p999Ms)} ms, max ${formatMs(inWorker.store.maxMs)} ms, ` +
      `page loop lag max ${formatMs(inWorker.store.loopLagMaxMs)} ms, ${Math.round(inWorker.store.savesPerSecond)} saves/s, ${inWorker.run.checkpoints} checkpoints (${inWorker.run.checkpointMs.map((ms) => formatMs(ms)).join(', ')} ms)`,
  );
  for (const [where, crossed] of [['page', run.checkpoints], ['Worker', inWorker.run.checkpoints]] as const) {
    if (crossed < params.stalls.checkpoints) log(`browser-durable: WARNING: the saves (store in the ${where}) crossed ${crossed} checkpoints, fewer than ${params.stalls.checkpoints}`);
  }
  return result;
}

function stallTargets(r: StallsResult): TargetResult[] {
  return [
    ...targetsFor(r, 'store in the page', r.store, r.run.checkpoints),
    ...targetsFor(r, 'store in a Worker, driven from the page', r.inWorker.store, r.inWorker.run.checkpoints),
  ];
}

function targetsFor(r: StallsResult, where: string, store: StoreStats, checkpoints: number): TargetResult[] {
  const label = `${r.seed.size.label} in Chromium (IndexedDB, strict), ${where}, across ${checkpoints} checkpoints`;
  return [
    {
      description: `${label}: durable saveTask max <= ${STALL_TARGET_MAX_MS} ms`,
      met: store.maxMs <= STALL_TARGET_MAX_MS,
      measured: `${formatMs(store.maxMs)} ms (${store.over100} saves over 100 ms; the put floor's own max ${formatMs(r.floor.maxMs)} ms, in a Worker ${formatMs(r.workerFloor.maxMs)} ms)`,
    },
    {
      description: `${label}: event-loop lag max <= ${STALL_TARGET_LAG_MS} ms`,
      met: store.loopLagMaxMs <= STALL_TARGET_LAG_MS,
      measured: `${formatMs(store.loopLagMaxMs)} ms (during the put floor ${formatMs(r.floor.loopLagMaxMs)} ms, with the puts in a Worker ${formatMs(r.workerFloor.loopLagMaxMs)} ms)`,
    },
    {
      description: `${label}: p99.9 <= ${STALL_TARGET_P999_RATIO}x the IndexedDB put floor's`,
      met: store.p999Ms <= STALL_TARGET_P999_RATIO * r.floor.p999Ms,
      measured: `${formatMs(store.p999Ms)} ms vs ${formatMs(r.floor.p999Ms)} ms (${formatRatio(store.p999Ms / r.floor.p999Ms)})`,
    },
    {
      description: `${label}: throughput >= ${STALL_TARGET_THROUGHPUT_RATIO}x the IndexedDB put floor's`,
      met: store.savesPerSecond >= STALL_TARGET_THROUGHPUT_RATIO * r.floor.putsPerSecond,
      measured: `${Math.round(store.savesPerSecond)} saves/s vs ${Math.round(r.floor.putsPerSecond)} puts/s (${formatRatio(store.savesPerSecond / r.floor.putsPerSecond)})`,
    },
  ];
}

function stallsMarkdown(r: StallsResult, params: Params): string {
  const dash = '—';
  const rows = [
    [
      'store, journal (strict)',
      mib(r.run.imageBytes),
      r.saves.toLocaleString('en-US'),
      formatMs(r.store.p50Ms),
      formatMs(r.store.p99Ms),
      formatMs(r.store.p999Ms),
      formatMs(r.store.maxMs),
      String(r.store.over100),
      formatMs(r.store.loopLagMaxMs),
      Math.round(r.store.savesPerSecond).toLocaleString('en-US'),
      `${r.run.checkpoints} (${r.run.checkpointMs.map((ms) => formatMs(ms)).join(', ')} ms)`,
      `${mib(r.run.journalBytes)} / ${mib(r.run.imageBytesWritten)}`,
    ],
    [
      'store, journal (strict), in a Worker',
      mib(r.inWorker.run.imageBytes),
      r.saves.toLocaleString('en-US'),
      formatMs(r.inWorker.store.p50Ms),
      formatMs(r.inWorker.store.p99Ms),
      formatMs(r.inWorker.store.p999Ms),
      formatMs(r.inWorker.store.maxMs),
      String(r.inWorker.store.over100),
      formatMs(r.inWorker.store.loopLagMaxMs),
      Math.round(r.inWorker.store.savesPerSecond).toLocaleString('en-US'),
      `${r.inWorker.run.checkpoints} (${r.inWorker.run.checkpointMs.map((ms) => formatMs(ms)).join(', ')} ms)`,
      dash,
    ],
    ...(
      [
        ['IndexedDB put, strict (floor)', r.floor],
        ['IndexedDB put, strict, in a Worker', r.workerFloor],
      ] as const
    ).map(([label, f]) => [
      label,
      dash,
      f.puts.toLocaleString('en-US'),
      formatMs(f.p50Ms),
      formatMs(f.p99Ms),
      formatMs(f.p999Ms),
      formatMs(f.maxMs),
      String(f.over100),
      formatMs(f.loopLagMaxMs),
      Math.round(f.putsPerSecond).toLocaleString('en-US'),
      dash,
      dash,
    ]),
  ];
  return [
    `### checkpoint stalls in Chromium: sequential durable saveTask across checkpoints at ${r.seed.size.label} (IndexedDB adapter, strict)`,
    '',
    markdownTable(['subject', 'image MiB', 'saves', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', '> 100 ms', 'loop lag max ms', 'per s', 'checkpoints (each)', 'journal / image MiB written'], rows),
    '',
    `The store opens the seeded database (open ${formatMs(r.run.openMs)} ms), checkpoints once, then saves ${r.saves.toLocaleString('en-US')} new tasks one after another, each awaited, ` +
      `with an explicit \`checkpoint()\` started at the half; the others start when the journal reaches ${mib(r.run.checkpointThresholdBytes)} MiB ` +
      `(${params.stalls.checkpointBytes ? `\`checkpointBytes\` set for this quick run` : 'the adaptive threshold: the larger of 16 MiB and an eighth of the image'}). ` +
      'Each checkpoint exports the image in steps between saves and writes it in staged chunks while the saves go on into the next journal segment. ' +
      '**in a Worker**: the same saves on a fresh copy of the seed with the store in a dedicated Worker (bench/browser/durable-worker.ts, the IndexedDB adapter there), the page posting each save and awaiting the answer: its latency includes that round trip, and the loop lag is the page\'s. ' +
      `**loop lag**: the longest gap between two ticks of a 1 ms \`setInterval\` during the saves minus the median gap (${formatMs(r.run.medianTickGapMs)} ms, Chromium's clamp). ` +
      `**journal / image written**: the bytes the adapter was given to append and the images it was given to write. ` +
      `Close ${formatMs(r.run.closeMs)} ms; a clean close (open again, close with nothing written) ${formatMs(r.run.cleanCloseMs)} ms writing ${r.run.cleanCloseBytes.toLocaleString('en-US')} bytes. ` +
      `The floor: ${params.stalls.floorPuts.toLocaleString('en-US')} strict puts of a journal record's size before the saves and as many after, pooled; its rate is puts over their summed latencies, its loop lag the worse of its two runs. ` +
      `**in a Worker**: ${(2 * Math.ceil(params.stalls.floorPuts / 2)).toLocaleString('en-US')} of the same puts made by a dedicated Worker, each posted by the page and timed until the worker's answer, the page's loop sampled meanwhile. ` +
      'Both show what IndexedDB itself costs: a major garbage collection of the thread that made the transactions runs the pre-finalizers of the IndexedDB objects of the thousands of transactions since the last one, ' +
      'in one atomic pause (`CppGC.SweepInvokePreFinalizers` in a Chromium trace) of 50–190 ms; off the page, in a Worker, that pause delays a write but not the page.',
  ].join('\n');
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

interface Summary {
  readonly subject: SubjectId;
  readonly seed: Seed;
  readonly rounds: readonly Measurement[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Medians over rounds of this subject's p50 (p99) / the floor's in the same round and size. */
  readonly p50VsPut: number;
  readonly p99VsPut: number;
  /** Median over rounds of this subject's p50 / the journal's (strict) in the same round and size. */
  readonly p50VsJournal: number;
  readonly openMs: number;
  readonly closeMs: number;
  readonly imageBytes: number;
  readonly journalBytesPerSave: number;
}

function summarize(subject: SubjectId, seed: Seed, rounds: readonly Measurement[], put: readonly Measurement[], journal: readonly Measurement[]): Summary {
  const paired = (base: readonly Measurement[], f: (m: Measurement) => number): number =>
    median(rounds.map((m, i) => f(m) / f(base[i] as Measurement)));
  const ofStore = (f: (s: NonNullable<Measurement['store']>) => number): number => (isStore(subject) ? median(rounds.map((m) => f(m.store!))) : Number.NaN);
  return {
    subject,
    seed,
    rounds,
    p50Ms: median(rounds.map((m) => m.latency.p50Ms)),
    p99Ms: median(rounds.map((m) => m.latency.p99Ms)),
    p50VsPut: paired(put, (m) => m.latency.p50Ms),
    p99VsPut: paired(put, (m) => m.latency.p99Ms),
    p50VsJournal: paired(journal, (m) => m.latency.p50Ms),
    openMs: ofStore((s) => s.openMs),
    closeMs: ofStore((s) => s.closeMs),
    imageBytes: ofStore((s) => s.imageBytes),
    journalBytesPerSave: ofStore((s) => s.journalBytesPerSave),
  };
}

function targetsOf(summaries: readonly Summary[]): TargetResult[] {
  const put = (s: Summary): Summary => summaries.find((x) => x.subject === 'put' && x.seed === s.seed) as Summary;
  return summaries
    .filter((s) => s.subject === 'journal')
    .map((s) => ({
      description: `${s.seed.size.label}: durable journal saveTask p50 < ${TARGET_P50_MS} ms in Chromium (IndexedDB, strict)`,
      met: s.p50Ms < TARGET_P50_MS,
      measured: `${formatMs(s.p50Ms)} ms (IndexedDB put floor ${formatMs(put(s).p50Ms)} ms, ${formatRatio(s.p50VsPut)})`,
    }));
}

interface Environment {
  readonly chromium: string;
  readonly userAgent: string;
  readonly crossOriginIsolated: boolean;
  readonly recordBytes: number;
  readonly durationMs: number;
}

function report(summaries: readonly Summary[], seeds: readonly Seed[], params: Params, env: Environment): BenchResult {
  const dash = '—';
  const rows = summaries.map((s) => {
    const store = isStore(s.subject);
    const saves = s.rounds[0]?.latency.count.toLocaleString('en-US') ?? '';
    return [
      LABELS[s.subject],
      s.seed.size.label,
      store ? mib(s.imageBytes) : dash,
      saves,
      formatMs(s.p50Ms),
      formatMs(s.p99Ms),
      s.subject === 'put' ? dash : formatRatio(s.p50VsPut),
      s.subject === 'put' ? dash : formatRatio(s.p99VsPut),
      s.subject === 'image' || s.subject === 'journal-relaxed' ? formatRatio(s.p50VsJournal) : dash,
      store ? formatMs(s.openMs) : dash,
    ];
  });
  const targets = targetsOf(summaries);
  const of = (subject: SubjectId): Summary[] => summaries.filter((s) => s.subject === subject);
  const perSize = (subject: SubjectId, f: (s: Summary) => string): string => of(subject).map(f).join(' / ');
  const journal = of('journal');
  const [first, last] = [journal[0], journal[journal.length - 1]];
  const sizes = seeds.map((s) => s.size.label).join(' / ');

  const markdown = [
    `### durable saveTask in Chromium (IndexedDB adapter, strict), images of ${seeds.map((s) => s.size.label).join(' and ')}`,
    '',
    markdownTable(['subject', 'size', 'image MiB', 'saves', 'p50 ms', 'p99 ms', 'p50 vs put', 'p99 vs put', 'p50 vs journal', 'open ms'], rows),
    '',
    `Medians of ${params.rounds} round(s) in one page of a persistent Chromium profile on disk; per size the subjects run interleaved (in order, then reversed), ` +
      'each store subject on a fresh IndexedDB database seeded with the same image. Ratios are the median of the per-round ratios against the subject in the same round and size: ' +
      '"vs put" against the IndexedDB put floor, "vs journal" against store, journal. ' +
      `Seeds: ${seeds.map((s) => `${s.size.label} = ${mib(s.bytes)} MiB, ${s.tasks.toLocaleString('en-US')} tasks`).join('; ')} (params of about 2–4 KB each).`,
    '',
    `- **saves**: durable \`saveTask\`s of new pending tasks (small params), one after another, each awaited, timed with \`performance.now()\` in the page ` +
      `(${env.crossOriginIsolated ? 'cross-origin isolated: 5 µs resolution' : 'not cross-origin isolated: 100 µs resolution'}), after ${params.warmup} untimed ones (whole image: ${params.imageWarmup}). ` +
      `A save appends one journal entry of ${perSize('journal', (s) => `${Math.round(s.journalBytesPerSave)}`)} bytes (${sizes}); whole-image mode writes the image in ${IMAGE_CHUNK_BYTES / MiB} MiB chunks, a transaction each.`,
    `- **IndexedDB put (floor)**: in the same page, a readwrite transaction with \`{ durability: 'strict' }\` putting one ${env.recordBytes}-byte value ` +
      `(a journal record's size, measured as \`health().journalBytes\` per save over ${RECORD_SAMPLE} saves) under a new key of a database of its own, awaited until \`complete\`. ` +
      '**relaxed**: the same with `durability: \'relaxed\'` (the store: `createIndexedDbAdapter({ name, durability: \'relaxed\' })`): committed without waiting for the disk.',
    '- **adapter append**: the IndexedDB adapter alone (`lock()`, `load()`, then `append(record, at)` one after another) with records of that size, on a new database: ' +
      'one strict transaction that adds the record, with the read of the stored `meta` (the ownership check) in the same transaction (before format 2 of the layout it also put a new `meta`). The store\'s save is that plus its own work (validation, SQL in sql.js, encoding the record).',
    '- **off-the-record**: the strict put in a context of the test harness (`harness.newContext()`, an incognito-like profile): its IndexedDB is in memory and never syncs, ' +
      'which is why this benchmark runs Chromium with a persistent profile (`launchPersistentContext`, on the repository\'s disk).',
    `- **open**: \`openStore()\` on the seeded database (sql.js already loaded in the page): reading the image from IndexedDB and opening it. ` +
      `**close** (the final checkpoint, writing the whole image): ${perSize('journal', (s) => `${formatMs(s.closeMs)} ms`)} (journal). ` +
      `Seeding a fresh database through the adapter's \`lock/load/checkpoint/close\`: ${perSize('journal', (s) => `${formatMs(median(s.rounds.map((m) => m.store?.seedMs ?? Number.NaN)))} ms`)}.` +
      (first && last && first !== last ? ` Journal p50 at ${last.seed.size.label} / at ${first.seed.size.label}: ${formatRatio(last.p50Ms / first.p50Ms)}.` : ''),
    '',
    `Chromium ${env.chromium} (headless, the harness's flags), Node ${process.version}, sql.js ${packageVersion('sql.js')}, playwright-core ${packageVersion('playwright-core')}, ${platform()}. ` +
      `The run took ${(env.durationMs / 60_000).toFixed(1)} min.`,
    '',
    `Targets: ${targets.map((x) => `${x.description}: ${x.measured} ${x.met ? 'PASS' : 'MISS'}`).join('; ')}.`,
  ].join('\n');

  const json = {
    benchmark: 'browser-durable',
    date: new Date().toISOString(),
    environment: { ...env, node: process.version, sqljs: packageVersion('sql.js'), playwrightCore: packageVersion('playwright-core'), platform: platform() },
    parameters: params,
    seeds: seeds.map((s) => ({ label: s.size.label, bytes: s.bytes, tasks: s.tasks, buildMs: s.buildMs })),
    results: summaries.map(({ seed, ...s }) => ({ size: seed.size.label, ...s })),
    targets,
  };
  return { markdown, targets, json };
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async function run(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const started = performance.now();
  const base = options.quick ? QUICK : DEFAULTS;
  const params: Params = { ...base, rounds: options.rounds ?? base.rounds, saves: options.opsPerRound ?? base.saves };
  mkdirSync(DATA_DIR, { recursive: true });
  const b = await startBrowser();
  try {
    const chromiumVersion = b.harness.browser.version();
    const info = await call(b, b.page, 'info');
    log(`browser-durable: Chromium ${chromiumVersion}, cross-origin isolated: ${info.crossOriginIsolated}`);

    const seeds: Seed[] = [];
    for (const size of params.sizes) {
      const built = await call(b, b.page, 'buildSeed', size.bytes);
      seeds.push({ size, bytes: built.bytes, tasks: built.tasks, buildMs: built.ms });
      log(`browser-durable: built the ${size.label} seed (${built.tasks.toLocaleString('en-US')} tasks, ${mib(built.bytes)} MiB) in ${Math.round(built.ms)} ms`);
    }
    const recordBytes = Math.round(await call(b, b.page, 'recordBytes', `bd-${process.pid}-record`, RECORD_SAMPLE));
    log(`browser-durable: one saveTask appends ${recordBytes} journal bytes: the floor puts values of that size`);

    const results = new Map<string, Measurement[]>();
    for (let round = 0; round < params.rounds; round++) {
      for (const seed of seeds) {
        const order = round % 2 === 0 ? SUBJECTS : [...SUBJECTS].reverse();
        for (const subject of order) {
          const m = await measure(b, subject, seed, params, recordBytes, round);
          const key = `${subject}@${seed.size.bytes}`;
          results.set(key, [...(results.get(key) ?? []), m]);
          log(
            `browser-durable: round ${round + 1}/${params.rounds}, ${seed.size.label}, ${LABELS[subject]}: ` +
              `p50 ${formatMs(m.latency.p50Ms)} ms, p99 ${formatMs(m.latency.p99Ms)} ms (${m.latency.count} saves)` +
              (m.store ? `, open ${formatMs(m.store.openMs)} ms, close ${formatMs(m.store.closeMs)} ms` : ''),
          );
        }
      }
    }

    const stallSeed = seeds.find((s) => s.size.label === params.stalls.size);
    if (!stallSeed) throw new Error(`browser-durable: no seed of ${params.stalls.size} for the checkpoint stalls`);
    const stalls = await measureStalls(b, stallSeed, params, recordBytes, log);

    const summaries = seeds.flatMap((seed) => {
      const rounds = (subject: SubjectId): Measurement[] => results.get(`${subject}@${seed.size.bytes}`) ?? [];
      return SUBJECTS.map((subject) => summarize(subject, seed, rounds(subject), rounds('put'), rounds('journal')));
    });
    const durationMs = performance.now() - started;
    log(`browser-durable: took ${(durationMs / 1000).toFixed(0)} s`);
    const result = report(summaries, seeds, params, { chromium: chromiumVersion, userAgent: info.userAgent, crossOriginIsolated: info.crossOriginIsolated, recordBytes, durationMs });
    const targets = [...result.targets, ...stallTargets(stalls)];
    return {
      markdown: `${result.markdown}\n\n${stallsMarkdown(stalls, params)}\n\nTargets: ${stallTargets(stalls).map((x) => `${x.description}: ${x.measured} ${x.met ? 'PASS' : 'MISS'}`).join('; ')}.`,
      targets,
      json: { ...(result.json as object), stalls: { ...stalls, seed: stalls.seed.size.label }, targets },
    };
  } finally {
    await stopBrowser(b);
  }
}

export const browserDurable: Benchmark = {
  name: 'browser-durable',
  description: 'durable saveTask in Chromium with the IndexedDB adapter at 1 and 50 MiB images: journal vs whole image vs a raw strict IndexedDB put; and saves across checkpoints at 50 MiB (tails, event-loop lag, throughput)',
  run,
};
