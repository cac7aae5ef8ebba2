/**
 * The crash campaign: a child process writes to a file-backed store and prints each write as its
 * promise resolves; the parent kills it with SIGKILL at a random moment (sometimes while it is still
 * opening, replaying or checkpointing), then reopens the files and checks that the image is a sound
 * SQLite file, that every acknowledged write is present and that no batch is half applied.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fileAdapterPaths, createFileAdapter } from '../../adapters/fs.js';
import { openStore } from '../../src/index.js';
import { repoRoot } from '../helpers/go-db.js';
import { checkAcknowledged, liveAndDie, mulberry, recordAcks } from './lives.js';

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
  /** Kills that landed while a checkpoint ran (writes going on beside it). */
  readonly killsDuringCheckpoints: number;
  /** Checkpoints the writers started. */
  readonly checkpoints: number;
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
  let killsDuringCheckpoints = 0;
  let checkpoints = 0;
  let tornTails = 0;
  let journalsReplayed = 0;
  let tasksInStore = 0;

  for (let kill = 1; kill <= options.kills; kill++) {
    // Mostly after the store is open (while writing); sometimes from the start, so the kill can land
    // inside the open itself: the takeover of the dead owner's lock, replay, the first checkpoint.
    const afterReady = random() < 0.85;
    const killAt = afterReady ? Math.floor(random() * 350) : Math.floor(random() * 450);
    const life = await liveAndDie([writer, path, String(Math.floor(random() * 2 ** 31))], killAt, afterReady);
    if (!life.ready) killsDuringOpen++;
    if (life.inCheckpoint) killsDuringCheckpoints++;
    checkpoints += life.checkpoints;
    recordAcks(life.acks, acknowledged, batches, kill);
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
      tasksInStore = await checkAcknowledged(store, acknowledged, kill);
    } finally {
      await store.close();
    }
    if (kill % 10 === 0) options.log?.(`kill ${kill}/${options.kills}: ${acknowledged.size} acknowledged, ${tasksInStore} tasks, ${killsDuringOpen} during open, ${killsDuringCheckpoints} during checkpoints (of ${checkpoints}), ${tornTails} torn tails`);
  }
  return { kills: options.kills, killsDuringOpen, killsDuringCheckpoints, checkpoints, acknowledged: acknowledged.size, batches: batches.size, tornTails, journalsReplayed, tasksInStore };
}
