/**
 * Checkpoint stalls (issue 16): sequential durable `saveTask` long enough to cross at least three
 * of the store's checkpoints, with an explicit `checkpoint()` in the middle, at images of 1, 50 and
 * 256 MiB, against what a user writes instead, a hand-written prepared insert on better-sqlite3 in
 * WAL mode with `synchronous=FULL` (its own checkpoints, automatic and one explicit), in the same
 * run: latency p50/p99/p99.9/max, saves over 100 ms, the event loop's longest stall, throughput,
 * the checkpoints and the bytes written; and the open, the close, and a clean close (nothing
 * written) of each file. Each subject runs in a process of its own (bench/stalls-child.ts) on a
 * copy of the durable-writes benchmark's seed databases.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointThreshold } from '../src/durability-types.js';
import { placeSeed, seedDatabase, type Seed, type SizeSpec } from './durable-writes.js';
import { formatRatio, markdownTable, median, packageVersion, platform, type BenchOptions, type BenchResult, type Benchmark, type TargetResult } from './harness.js';
import type { StallsReport, StallsRequest } from './stalls-child.js';

const MiB = 2 ** 20;
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const CHILD = join(BENCH_DIR, 'stalls-child.ts');
const WORK_DIR = join(BENCH_DIR, 'results', 'checkpoint-stalls');
const SEED = 0x5_7a11;
/** About how many journal bytes one save adds (a task of 1-2 KB of params, framed): to size the runs. */
const BYTES_PER_SAVE = 1727; // measured: 48.0 MiB of journal over 29,140 saves
/** Automatic checkpoints each run must cross (the explicit one comes on top). */
const CHECKPOINTS = 3;

// Targets at 256 MiB (issue 16).
const TARGET_MAX_MS = 100;
const TARGET_LOOP_LAG_MS = 50;
const TARGET_P999_RATIO = 3;
const TARGET_THROUGHPUT_RATIO = 0.8;

interface Parameters {
  readonly sizes: readonly SizeSpec[];
  readonly rounds: number;
  /** Saves per run: enough to cross the checkpoints at that size (0: computed). */
  readonly saves: (size: SizeSpec) => number;
}

// The explicit checkpoint at the half empties the journal too, so the journal is filled
// CHECKPOINTS + 1 times over, with a margin: 4.5 thresholds give automatic ones at 1, 2, 3.25 and
// 4.25 of them, the explicit one at 2.25 (still 4 with saves 5% smaller than measured).
const enough = (size: SizeSpec): number => Math.ceil(((CHECKPOINTS + 1.5) * checkpointThreshold(undefined, size.bytes)) / BYTES_PER_SAVE);

const DEFAULTS: Parameters = {
  sizes: [
    { label: '1 MiB', bytes: 1 * MiB, imageSequentialOps: 0 },
    { label: '50 MiB', bytes: 50 * MiB, imageSequentialOps: 0 },
    { label: '256 MiB', bytes: 256 * MiB, imageSequentialOps: 0 },
  ],
  rounds: 1,
  saves: enough,
};

const QUICK: Parameters = {
  sizes: [{ label: '1 MiB', bytes: 1 * MiB, imageSequentialOps: 0 }],
  rounds: 1,
  saves: () => 2000,
};

function runChild(request: StallsRequest): Promise<StallsReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, JSON.stringify(request)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) reject(new Error(`checkpoint-stalls: the ${request.subject} child ended with exit code ${code}`));
      else resolve(JSON.parse(line) as StallsReport);
    });
  });
}

async function measure(subject: StallsRequest['subject'], seed: Seed, saves: number, round: number): Promise<StallsReport> {
  const path = join(WORK_DIR, `${subject}-${seed.size.bytes}-${round}.db`);
  for (const suffix of ['', '-wal', '-shm', '.pa-journal', '.pa-lock']) rmSync(`${path}${suffix}`, { force: true });
  placeSeed(seed, path);
  try {
    return await runChild({ subject, path, seed: SEED + round, saves });
  } finally {
    for (const suffix of ['', '-wal', '-shm', '.pa-journal', '.pa-lock']) rmSync(`${path}${suffix}`, { force: true });
  }
}

const ms = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2));
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

async function run(options: BenchOptions): Promise<BenchResult> {
  const params = options.quick ? QUICK : DEFAULTS;
  const rounds = options.rounds ?? params.rounds;
  mkdirSync(WORK_DIR, { recursive: true });
  const rows: string[][] = [];
  const targets: TargetResult[] = [];
  const json: unknown[] = [];
  for (const size of params.sizes) {
    const seed = await seedDatabase(size, options.log);
    const saves = params.saves(size);
    const store: StallsReport[] = [];
    const native: StallsReport[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always meets a disk still busy with the other's writes.
      for (const subject of round % 2 === 0 ? (['store', 'better-sqlite3'] as const) : (['better-sqlite3', 'store'] as const)) {
        options.log(`checkpoint-stalls: ${size.label}, ${subject}, round ${round + 1}: ${saves.toLocaleString('en-US')} saves`);
        const r = await measure(subject, seed, saves, round);
        (subject === 'store' ? store : native).push(r);
        options.log(`  p50 ${ms(r.p50Ms)} ms, p99.9 ${ms(r.p999Ms)} ms, max ${ms(r.maxMs)} ms, loop lag max ${ms(r.loopLagMaxMs)} ms, ${Math.round((r.saves / r.totalMs) * 1000)} saves/s, ${r.checkpoints} checkpoints`);
      }
    }
    const pick = (reports: StallsReport[], f: (r: StallsReport) => number): number => median(reports.map(f));
    const rate = (r: StallsReport): number => (r.saves / r.totalMs) * 1000;
    for (const [label, reports] of [['store (sql.js, fs adapter)', store], ['better-sqlite3 WAL FULL, hand-written', native]] as const) {
      rows.push([
        label,
        `${mib(seed.bytes)} MiB`,
        pick(reports, (r) => r.saves).toLocaleString('en-US'),
        ms(pick(reports, (r) => r.p50Ms)),
        ms(pick(reports, (r) => r.p99Ms)),
        ms(pick(reports, (r) => r.p999Ms)),
        ms(pick(reports, (r) => r.maxMs)),
        String(pick(reports, (r) => r.over100)),
        ms(pick(reports, (r) => r.loopLagMaxMs)),
        Math.round(pick(reports, rate)).toLocaleString('en-US'),
        reports === store ? String(pick(reports, (r) => r.checkpoints)) : '1 + automatic',
        reports === store ? `${mib(pick(reports, (r) => r.journalBytes))} / ${mib(pick(reports, (r) => r.imageBytes))}` : '—',
        mib(pick(reports, (r) => r.diskBytes)),
        ms(pick(reports, (r) => r.openMs)),
        ms(pick(reports, (r) => r.closeMs)),
        `${ms(pick(reports, (r) => r.cleanCloseMs))} / ${mib(pick(reports, (r) => r.cleanCloseDiskBytes))}`,
      ]);
    }
    const p999Ratio = pick(store, (r) => r.p999Ms) / pick(native, (r) => r.p999Ms);
    const throughputRatio = pick(store, rate) / pick(native, rate);
    const autoCheckpoints = Math.min(...store.map((r) => r.checkpoints)) - 1;
    json.push({ size: size.label, imageBytes: seed.bytes, saves, threshold: checkpointThreshold(undefined, seed.bytes), store, native });
    targets.push({ description: `${size.label}: the store's run crossed at least ${CHECKPOINTS} automatic checkpoints (and the explicit one)`, met: autoCheckpoints >= CHECKPOINTS, measured: `${autoCheckpoints} automatic + 1 explicit` });
    if (size.bytes >= 200 * MiB) {
      targets.push(
        { description: `${size.label}: write max ≤ ${TARGET_MAX_MS} ms`, met: pick(store, (r) => r.maxMs) <= TARGET_MAX_MS, measured: `${ms(pick(store, (r) => r.maxMs))} ms` },
        { description: `${size.label}: event-loop lag max ≤ ${TARGET_LOOP_LAG_MS} ms`, met: pick(store, (r) => r.loopLagMaxMs) <= TARGET_LOOP_LAG_MS, measured: `${ms(pick(store, (r) => r.loopLagMaxMs))} ms` },
        { description: `${size.label}: p99.9 ≤ ${TARGET_P999_RATIO}x better-sqlite3`, met: p999Ratio <= TARGET_P999_RATIO, measured: `${formatRatio(p999Ratio)} (${ms(pick(store, (r) => r.p999Ms))} vs ${ms(pick(native, (r) => r.p999Ms))} ms)` },
        { description: `${size.label}: throughput ≥ ${TARGET_THROUGHPUT_RATIO}x better-sqlite3`, met: throughputRatio >= TARGET_THROUGHPUT_RATIO, measured: `${formatRatio(throughputRatio)} (${Math.round(pick(store, rate))} vs ${Math.round(pick(native, rate))} saves/s)` },
      );
    }
    targets.push({ description: `${size.label}: a clean close writes nothing`, met: pick(store, (r) => r.cleanCloseDiskBytes) < 64 * 1024, measured: `${mib(pick(store, (r) => r.cleanCloseDiskBytes))} MiB written in ${ms(pick(store, (r) => r.cleanCloseMs))} ms` });
  }
  const table = markdownTable(
    ['subject', 'image', 'saves', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', '> 100 ms', 'loop lag max ms', 'saves/s', 'checkpoints', 'journal / images MiB', 'disk written MiB', 'open ms', 'close ms', 'clean close ms / MiB'],
    rows,
  );
  const markdown = [
    `### checkpoint-stalls (${platform()}, sql.js ${packageVersion('sql.js')}, better-sqlite3 ${packageVersion('better-sqlite3')}; ${rounds} round${rounds === 1 ? '' : 's'}, medians)`,
    '',
    table,
    '',
    'Sequential durable saves (each awaited before the next), long enough to cross the store\'s checkpoints at its default threshold (the larger of 16 MiB and an eighth of the image), an explicit `checkpoint()` (better-sqlite3: `wal_checkpoint(TRUNCATE)`) in the middle. "journal / images": what the store wrote to its journal and in checkpoint images during the saves; "disk written": the process\'s `write_bytes`. "close": after the saves (the store writes a final image; better-sqlite3 checkpoints its WAL); "clean close": a second open and close with nothing written. Each task is made just before its save, that time taken off the run\'s (made up front, 60,000 tasks were ~150 MB of live heap whose full GCs counted as the subject\'s loop lag).',
  ].join('\n');
  return { markdown, targets, json };
}

export const checkpointStalls: Benchmark = {
  name: 'checkpoint-stalls',
  description: 'durable saves across checkpoints at 1, 50 and 256 MiB, against better-sqlite3 WAL FULL: latency tails, event-loop lag, throughput, bytes, open and close',
  run,
};
