/**
 * `npm run bench`: runs every benchmark (or those named: `npm run bench -- agent-mix`), prints each
 * one's markdown report on stdout and writes its results to bench/results/<name>.json.
 * Options: `--quick` (a smoke run, numbers mean little), `--rounds N`, `--ops N` (ops per round).
 * Progress goes to stderr. Missed targets are reported, never an exit code: this is a benchmark.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { agentMix } from './agent-mix.js';
import { browserDurable } from './browser-durable.js';
import { checkpointStalls } from './checkpoint-stalls.js';
import { cliCommands } from './cli-commands.js';
import { queueThroughput } from './queue-throughput.js';
import { durableWrites } from './durable-writes.js';
import type { Benchmark } from './harness.js';

/** Every benchmark, in the order `npm run bench` runs them. Add new ones here. */
const BENCHMARKS: readonly Benchmark[] = [agentMix, durableWrites, checkpointStalls, queueThroughput, browserDurable, cliCommands];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    ops: { type: 'string' },
  },
});

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} takes a positive integer, not ${value}`);
  return n;
}

const unknown = positionals.filter((name) => !BENCHMARKS.some((b) => b.name === name));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected = positionals.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => positionals.includes(b.name));
if (!(globalThis as { gc?: unknown }).gc) console.error('note: run node with --expose-gc (npm run bench does) to collect garbage between rounds');

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(resultsDir, { recursive: true });

for (const benchmark of selected) {
  console.error(`\n== ${benchmark.name}: ${benchmark.description}`);
  const result = await benchmark.run({
    quick: values.quick ?? false,
    rounds: positiveInt('rounds', values.rounds),
    opsPerRound: positiveInt('ops', values.ops),
    log: (line) => console.error(line),
  });
  const file = join(resultsDir, `${benchmark.name}.json`);
  writeFileSync(file, `${JSON.stringify(result.json, null, 2)}\n`);
  console.log(`\n${result.markdown}\n`);
  for (const target of result.targets) console.log(`${target.met ? 'PASS' : 'MISS'}  ${target.description}: ${target.measured}`);
  console.error(`(results written to ${file})`);
}
