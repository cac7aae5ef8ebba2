/**
 * What every crash campaign shares, whatever the engine: a writer child process (test/crash/writer.mjs)
 * run until a SIGKILL at a chosen moment, its acknowledged writes collected, and the check, on a
 * store reopened afterwards, that every one of them is there and no batch is half applied. Nothing
 * here loads a native addon, so the node:sqlite campaign (on Node 22) uses it too.
 */
import { spawn } from 'node:child_process';
import type { Store } from '../../src/index.js';

/** A seeded pseudo-random generator (mulberry32), in [0, 1). */
export function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a writer did before it was killed. */
export interface Life {
  readonly acks: string[];
  readonly ready: boolean;
  readonly stderr: string;
  /** Whether the writer said a checkpoint was running when it was killed (its `~1`/`~0` lines). */
  readonly inCheckpoint: boolean;
  /** How many checkpoints it said it started. */
  readonly checkpoints: number;
}

/**
 * Runs `node <args>` (a writer) until `killAtMs` after its start (or after it printed `ready`),
 * kills it with SIGKILL and waits for its exit; every line it printed is read.
 */
export function liveAndDie(args: readonly string[], killAtMs: number, afterReady: boolean): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: string[] = [];
    let ready = false;
    let inCheckpoint = false;
    let checkpoints = 0;
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    if (!afterReady) timer = setTimeout(kill, killAtMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') {
          ready = true;
          if (afterReady) timer = setTimeout(kill, killAtMs);
        } else if (line === '~1' || line === '~0') {
          inCheckpoint = line === '~1';
          if (inCheckpoint) checkpoints++;
        } else acks.push(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    // 'close' comes after the exit and after stdout is drained: every line the child wrote is read.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`the writer ended by itself (code ${code}, signal ${signal}) before the kill:\n${stderr}`));
        return;
      }
      resolve({ acks, ready, stderr, inCheckpoint, checkpoints });
    });
  });
}

/** Adds a life's acknowledgement lines (`S <id>`, `T <batch>`, `C <id>`) to what was acknowledged. */
export function recordAcks(acks: readonly string[], acknowledged: Set<string>, batches: Set<string>, kill: number): void {
  for (const line of acks) {
    const [kind, id] = line.split(' ');
    if (!id || !kind) throw new Error(`kill ${kill}: the writer printed ${JSON.stringify(line)}`);
    acknowledged.add(id);
    if (kind === 'T') batches.add(id);
  }
}

/**
 * Checks a store reopened after a kill: every acknowledged write is there (a batch with all three
 * tasks, a completed task completed), no batch is half applied, acknowledged or not, and there is
 * one audit entry per batch. Throws at the first violation; returns the number of tasks.
 */
export async function checkAcknowledged(store: Store, acknowledged: ReadonlySet<string>, kill: number): Promise<number> {
  const ids = new Set((await store.listTasks()).map((t) => t.id));
  for (const id of acknowledged) {
    if (id.startsWith('T.')) {
      for (const part of ['a', 'b', 'c']) if (!ids.has(`${id}.${part}`)) throw new Error(`kill ${kill}: acknowledged batch ${id} lacks part ${part}`);
    } else if (!ids.has(id)) {
      throw new Error(`kill ${kill}: acknowledged write ${id} is missing`);
    }
  }
  for (const id of acknowledged) {
    if (id.endsWith('.done') && (await store.getTask(id))?.status !== 'completed') throw new Error(`kill ${kill}: ${id} was acknowledged completed`);
  }
  const parts = new Map<string, number>();
  for (const id of ids) {
    if (!id.startsWith('T.')) continue;
    const batch = id.slice(0, id.lastIndexOf('.'));
    parts.set(batch, (parts.get(batch) ?? 0) + 1);
  }
  for (const [batch, count] of parts) if (count !== 3) throw new Error(`kill ${kill}: batch ${batch} is half applied (${count} of 3 tasks)`);
  const audits = await store.listAudit({ action: 'batch' });
  if (audits.length !== parts.size) throw new Error(`kill ${kill}: ${parts.size} batches but ${audits.length} batch audit entries`);
  return ids.size;
}
