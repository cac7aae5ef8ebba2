/**
 * The task engine across processes on the node:sqlite engine: one file, several processes claiming
 * from one queue (SQLite's write lock makes each claim exactly-once), and workers killed with
 * SIGKILL in the middle of their tasks, whose tasks come back once their leases expire and finish.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { openStore, type Store } from '../../src/index.js';
import { ensureBuilt } from '../crash/built.js';
import { repoRoot, tempDir, type TempDir } from '../helpers/go-schema.js';
import { integrity, DatabaseSync } from './sqlite.js';

const worker = join(repoRoot, 'test/node22/queue-worker.mjs');
let tmp: TempDir;
beforeAll(() => {
  ensureBuilt();
  tmp = tempDir('pa-node22-queue-');
});
afterAll(() => tmp?.remove());

interface Child {
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(): void;
  /** Resolves once the child printed `line`. */
  printed(line: string): Promise<void>;
}

function start(args: string[]): Child {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting: { line: string; resolve: () => void }[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiting.filter((x) => x.line === line)) w.resolve();
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return {
    lines,
    exited,
    kill: () => child.kill('SIGKILL'),
    printed: (line) => (lines.includes(line) ? Promise.resolve() : new Promise((resolve) => waiting.push({ line, resolve }))),
  };
}

async function enqueued(path: string, count: number, maxAttempts = 1): Promise<Store> {
  const store = await openStore({ engine: createNodeSqliteEngine({ path }) });
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, k) => store.enqueueTask({ id: `q${String(i + k).padStart(5, '0')}`, command: 'work', params: { n: i + k }, maxAttempts })));
  }
  return store;
}

describe('the task engine across processes (node:sqlite)', () => {
  it('4 processes x 2 workers claim 5,000 tasks: each completed exactly once, by the worker that claimed it', { timeout: 300_000 }, async () => {
    const path = tmp.file('shared-queue.db');
    const store = await enqueued(path, 5000);
    const children = Array.from({ length: 4 }, (_, p) => start([path, 'work', '2', `p${p}`]));
    const ends = await Promise.all(children.map((c) => c.exited));
    for (const end of ends) expect(end.code, end.stderr).toBe(0);
    const done = new Map<string, string>();
    const claimed = new Map<string, number>();
    for (const line of children.flatMap((c) => c.lines)) {
      const [event, id, by] = line.split(' ');
      if (event === 'claimed') claimed.set(id as string, (claimed.get(id as string) ?? 0) + 1);
      if (event === 'done') {
        expect(done.has(id as string), `${id} completed twice`).toBe(false);
        done.set(id as string, by as string);
      }
    }
    expect(done.size).toBe(5000);
    expect([...claimed.values()].every((n) => n === 1)).toBe(true);
    // Every process took a share.
    for (let p = 0; p < 4; p++) expect([...done.values()].some((w) => w.startsWith(`p${p}.`)), `process ${p} worked`).toBe(true);
    const stats = await store.queueStats();
    expect(stats).toMatchObject({ due: 0, running: 0 });
    for (const [id, by] of [...done].slice(0, 200)) {
      expect(await store.getTask(id)).toMatchObject({ status: 'completed', result: { worker: by } });
      expect((await store.taskHistory(id)).map((t) => t.to)).toEqual(['pending', 'running', 'completed']);
    }
    await store.close();
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      expect(integrity(db)).toBe('ok');
      expect(db.prepare("SELECT count(*) AS n FROM tasks WHERE status = 'completed'").get()).toEqual({ n: 5000 });
    } finally {
      db.close();
    }
  });

  it('workers SIGKILLed mid-task: their tasks come back once the lease expires and finish; the expiry is recorded', { timeout: 120_000 }, async () => {
    const path = tmp.file('killed-workers.db');
    // Attempts to spare: a task whose lease expires on its last attempt fails instead.
    const store = await enqueued(path, 30, 3);
    // A process claims 6 tasks under a 1.5 s lease, and dies before finishing any of them.
    const doomed = start([path, 'hold', '2', 'doomed', '1500', '6']);
    await doomed.printed('holding');
    doomed.kill();
    expect((await doomed.exited).signal).toBe('SIGKILL');
    const orphans = doomed.lines.filter((l) => l.startsWith('claimed ')).map((l) => l.split(' ')[1] as string);
    expect(orphans).toHaveLength(6);
    for (const id of orphans) expect(await store.getTask(id)).toMatchObject({ status: 'running' });
    // Healthy workers: the other 24 at once, the 6 only once their leases expire (a worker stops
    // after a few empty claims; the next round starts another).
    const done: string[] = [];
    for (let round = 0; done.length < 30 && round < 60; round++) {
      const healthy = start([path, 'work', '2', `healthy${round}`, '60000']);
      const end = await healthy.exited;
      expect(end.code, end.stderr).toBe(0);
      done.push(...healthy.lines.filter((l) => l.startsWith('done ')).map((l) => l.split(' ')[1] as string));
    }
    expect(done.length).toBe(30);
    expect(new Set(done).size).toBe(30);
    for (const id of orphans) {
      const task = await store.getTask(id);
      expect(task).toMatchObject({ status: 'completed' });
      const history = await store.taskHistory(id);
      expect(history.map((t) => `${t.from ?? ''}>${t.to}`)).toEqual(['>pending', 'pending>running', 'running>running', 'running>completed']);
      expect(history[2]).toMatchObject({ workerId: expect.stringMatching(/^doomed\./), attempt: 1, error: expect.stringContaining('lease expired') });
      // Taken over only once the dead worker's lease had run out.
      expect(history[2]?.at).toBeGreaterThanOrEqual((history[1]?.at ?? 0) + 1500);
      expect(history[3]).toMatchObject({ workerId: expect.stringMatching(/^healthy/), attempt: 2 });
    }
    await store.close();
  });
});
