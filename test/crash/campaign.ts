/**
 * The crash campaign: a child process writes to a file-backed store and prints each write as its
 * promise resolves; the parent kills it with SIGKILL at a random moment (sometimes while it is still
 * opening, replaying or checkpointing), then reopens the files and checks that the image is a sound
 * SQLite file, that every acknowledged write is present and that no batch is half applied.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fileAdapterPaths, createFileAdapter } from '../../adapters/fs.js';
import { openStore } from '../../src/index.js';
import { repoRoot } from '../helpers/go-db.js';

/** What a campaign saw. */
export interface CampaignResult {
  readonly kills: number;
  /** Kills that hit before the child printed `ready` (during open, replay or the first checkpoint). */
  readonly killsDuringOpen: number;
  readonly acknowledged: number;
  readonly batches: number;
  /** Reopens that found (and dropped) a torn journal tail. */
  readonly tornTails: number;
  /** Reopens that found a journal beside the image (a crash between checkpoints). */
  readonly journalsReplayed: number;
  readonly tasksInStore: number;
}

/** Options of {@link runCrashCampaign}. */
export interface CampaignOptions {
  readonly dir: string;
  readonly kills: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

const writer = join(repoRoot, 'test/crash/writer.mjs');

function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Life {
  readonly acks: string[];
  readonly ready: boolean;
  readonly stderr: string;
}

/** Runs the writer until `killAfterMs` after start (or after ready), kills it, waits for its exit. */
function liveAndDie(path: string, seed: number, killAtMs: number, afterReady: boolean): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, path, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: string[] = [];
    let ready = false;
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
      resolve({ acks, ready, stderr });
    });
  });
}

function integrity(db: Database.Database): string {
  return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
}

/** Runs the campaign; throws at the first violation, with what was expected and found. */
export async function runCrashCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const random = mulberry(options.seed ?? 20261127);
  const path = join(options.dir, 'agent.db');
  const files = fileAdapterPaths(path);
  const acknowledged = new Set<string>();
  const batches = new Set<string>();
  let killsDuringOpen = 0;
  let tornTails = 0;
  let journalsReplayed = 0;
  let tasksInStore = 0;

  for (let kill = 1; kill <= options.kills; kill++) {
    // Mostly after the store is open (while writing); sometimes from the start, so the kill can land
    // inside the open itself: the takeover of the dead owner's lock, replay, the first checkpoint.
    const afterReady = random() < 0.85;
    const killAt = afterReady ? Math.floor(random() * 350) : Math.floor(random() * 450);
    const life = await liveAndDie(path, Math.floor(random() * 2 ** 31), killAt, afterReady);
    if (!life.ready) killsDuringOpen++;
    for (const line of life.acks) {
      const [kind, id] = line.split(' ');
      if (!id || !kind) throw new Error(`kill ${kill}: the writer printed ${JSON.stringify(line)}`);
      acknowledged.add(id);
      if (kind === 'T') batches.add(id);
    }
    if (!existsSync(path)) {
      if (acknowledged.size > 0) throw new Error(`kill ${kill}: the image is gone after ${acknowledged.size} acknowledged writes`);
      continue;
    }
    if (existsSync(files.journal) && statSync(files.journal).size > 0) journalsReplayed++;

    // The image on disk is always a complete, sound SQLite file on its own.
    const onDisk = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const result = integrity(onDisk);
      if (result !== 'ok') throw new Error(`kill ${kill}: integrity_check of the image file: ${result}`);
    } finally {
      onDisk.close();
    }

    // Reopen: read-only most times (the next child then replays the same journal and takes over the
    // lock); sometimes as the owner, which drops a torn tail and checkpoints at close.
    const readOnly = random() < 0.7;
    let torn = false;
    const store = await openStore({ adapter: createFileAdapter({ path }), readOnly, onWarning: (w) => (torn ||= w.code === 'TORN_TAIL') });
    if (torn) tornTails++;
    try {
      const image = await store.exportImage();
      const copy = new Database(Buffer.from(image));
      try {
        const result = integrity(copy);
        if (result !== 'ok') throw new Error(`kill ${kill}: integrity_check after replay: ${result}`);
      } finally {
        copy.close();
      }
      const ids = new Set((await store.listTasks()).map((t) => t.id));
      tasksInStore = ids.size;
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
      // No batch half applied, acknowledged or not.
      const parts = new Map<string, number>();
      for (const id of ids) {
        if (!id.startsWith('T.')) continue;
        const batch = id.slice(0, id.lastIndexOf('.'));
        parts.set(batch, (parts.get(batch) ?? 0) + 1);
      }
      for (const [batch, count] of parts) if (count !== 3) throw new Error(`kill ${kill}: batch ${batch} is half applied (${count} of 3 tasks)`);
      const audits = await store.listAudit({ action: 'batch' });
      if (audits.length !== parts.size) throw new Error(`kill ${kill}: ${parts.size} batches but ${audits.length} batch audit entries`);
    } finally {
      await store.close();
    }
    if (kill % 10 === 0) options.log?.(`kill ${kill}/${options.kills}: ${acknowledged.size} acknowledged, ${tasksInStore} tasks, ${killsDuringOpen} during open, ${tornTails} torn tails`);
  }
  return { kills: options.kills, killsDuringOpen, acknowledged: acknowledged.size, batches: batches.size, tornTails, journalsReplayed, tasksInStore };
}
