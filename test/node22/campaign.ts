/**
 * The crash campaign on the node:sqlite engine: the crash campaign's writer (test/crash/writer.mjs,
 * engine `node-sqlite`, a Node 22 child on the built package) writes durably until a SIGKILL at a
 * random moment, sometimes while it is still starting or opening; after each kill SQLite's
 * `integrity_check` on a connection of its own (which recovers the WAL the writer left) must be
 * ok, and a store reopened on the file must hold every acknowledged write and no half batch.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeSqliteEngine } from '../../engines/node-sqlite.js';
import { openStore } from '../../src/index.js';
import { checkAcknowledged, liveAndDie, mulberry, recordAcks } from '../crash/lives.js';
import { repoRoot } from '../helpers/go-schema.js';
import { DatabaseSync, integrity } from './sqlite.js';

/** What a campaign saw. */
export interface NodeSqliteCampaignResult {
  readonly kills: number;
  /** Kills that hit before the writer printed `ready` (while it started, opened or migrated). */
  readonly killsDuringOpen: number;
  readonly acknowledged: number;
  readonly batches: number;
  /** Kills after which SQLite's -wal held frames (recovered by the next connection). */
  readonly walsLeft: number;
  readonly tasksInStore: number;
}

/** Options of {@link runNodeSqliteCrashCampaign}. */
export interface NodeSqliteCampaignOptions {
  readonly dir: string;
  readonly kills: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

const writer = join(repoRoot, 'test/crash/writer.mjs');

/** Runs the campaign; throws at the first violation, with what was expected and found. */
export async function runNodeSqliteCrashCampaign(options: NodeSqliteCampaignOptions): Promise<NodeSqliteCampaignResult> {
  const random = mulberry(options.seed ?? 20261204);
  const path = join(options.dir, 'agent.db');
  const acknowledged = new Set<string>();
  const batches = new Set<string>();
  let killsDuringOpen = 0;
  let walsLeft = 0;
  let tasksInStore = 0;

  for (let kill = 1; kill <= options.kills; kill++) {
    const afterReady = random() < 0.85;
    const killAt = afterReady ? Math.floor(random() * 120) : Math.floor(random() * 200);
    const life = await liveAndDie([writer, path, String(Math.floor(random() * 2 ** 31)), 'node-sqlite'], killAt, afterReady);
    if (!life.ready) killsDuringOpen++;
    recordAcks(life.acks, acknowledged, batches, kill);
    if (!existsSync(path)) {
      if (acknowledged.size > 0) throw new Error(`kill ${kill}: the database is gone after ${acknowledged.size} acknowledged writes`);
      continue;
    }
    if (existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0) walsLeft++;

    // SQLite's own check, half the time from a read-only connection.
    const db = new DatabaseSync(path, { readOnly: random() < 0.5 });
    try {
      const result = integrity(db);
      if (result !== 'ok') throw new Error(`kill ${kill}: integrity_check: ${result}`);
    } finally {
      db.close();
    }

    // Reopen through the store, read-only most times (the next writer then recovers the same WAL).
    const store = await openStore({ engine: createNodeSqliteEngine({ path, readOnly: random() < 0.6 }) });
    try {
      tasksInStore = await checkAcknowledged(store, acknowledged, kill);
    } finally {
      await store.close();
    }
    if (kill % 20 === 0) options.log?.(`kill ${kill}/${options.kills}: ${acknowledged.size} acknowledged, ${tasksInStore} tasks, ${killsDuringOpen} during open, ${walsLeft} WALs left`);
  }
  return { kills: options.kills, killsDuringOpen, acknowledged: acknowledged.size, batches: batches.size, walsLeft, tasksInStore };
}
