/**
 * What every benchmark of `npm run bench` shares: the benchmark contract, a seeded PRNG, statistics
 * and table formatting. Benchmarks compare against a baseline measured in the same process run and
 * report ratios (machines are noisy); they print targets but never fail on timings.
 */

import { createRequire } from 'node:module';
import { arch, cpus, platform as osPlatform } from 'node:os';

/** Options every benchmark receives from bench/run.ts. */
export interface BenchOptions {
  /** A short smoke run (a few thousand ops) to check that the benchmark works; its numbers mean little. */
  readonly quick: boolean;
  /** Rounds per engine, overriding the benchmark's default. */
  readonly rounds?: number;
  /** Measured operations per round, overriding the benchmark's default. */
  readonly opsPerRound?: number;
  /** Progress lines go here (stderr), so stdout stays the report. */
  readonly log: (line: string) => void;
}

/** One target of a benchmark and whether this run met it. */
export interface TargetResult {
  readonly description: string;
  readonly met: boolean;
  readonly measured: string;
}

/** What a benchmark returns: a markdown report for stdout and the README, and JSON for bench/results/. */
export interface BenchResult {
  readonly markdown: string;
  readonly targets: readonly TargetResult[];
  readonly json: unknown;
}

/** A benchmark `bench/run.ts` can run. */
export interface Benchmark {
  /** File name of its results (`bench/results/<name>.json`) and what `npm run bench -- <name>` selects. */
  readonly name: string;
  readonly description: string;
  run(options: BenchOptions): Promise<BenchResult>;
}

/** mulberry32: a small, fast, seeded PRNG; the same seed gives the same sequence everywhere. */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A key of `weights` drawn with those relative weights. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [key, w] of entries) {
      r -= w;
      if (r < 0) return key;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }

  hex(length: number): string {
    let s = '';
    while (s.length < length) s += Math.floor(this.next() * 0x100000000).toString(16).padStart(8, '0');
    return s.slice(0, length);
  }

  /** A random version-4-shaped UUID. */
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  /** Lower-case words, about `length` characters. */
  words(length: number): string {
    const parts: string[] = [];
    let n = 0;
    while (n < length) {
      const w = this.pick(WORDS);
      parts.push(w);
      n += w.length + 1;
    }
    return parts.join(' ');
  }
}

const WORDS = [
  'deploy', 'service', 'error', 'timeout', 'retry', 'cluster', 'node', 'pod', 'restart', 'latency',
  'request', 'config', 'rollback', 'version', 'release', 'queue', 'worker', 'health', 'check', 'alert',
  'database', 'migration', 'cache', 'region', 'replica', 'scale', 'limit', 'memory', 'cpu', 'disk',
];

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The value at quantile `q` of `values` (nearest rank): `percentile(v, 0.999)` is the p99.9. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** Integer ops/s with thousands separators, e.g. `12,345`. */
export function formatRate(opsPerSecond: number): string {
  return Number.isFinite(opsPerSecond) ? Math.round(opsPerSecond).toLocaleString('en-US') : 'n/a';
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a';
}

/** A GitHub-flavoured markdown table; columns after the first are right-aligned. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(Math.max(w - 1, 1))}:`)).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * Runs a full garbage collection when node was started with `--expose-gc` (npm run bench does);
 * `'minor'`: only the young generation (a scavenge, a few ms).
 */
export function collectGarbage(type: 'major' | 'minor' = 'major'): void {
  const gc = (globalThis as { gc?: (options?: { type: 'major' | 'minor' }) => void }).gc;
  if (gc) gc({ type });
}

const require = createRequire(import.meta.url);

/** The installed version of a package (`unknown` when it cannot be read). */
export function packageVersion(name: string): string {
  try {
    // sql.js has no ./package.json export, so read the file next to its resolved main entry.
    const main = require.resolve(name);
    const dir = main.slice(0, main.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
    return (require(`${dir}package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The machine, for a report: OS, architecture, cores and CPU model. */
export function platform(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${osPlatform()}-${arch()}, ${cpus().length} × ${cpu}`;
}
