/**
 * `npm run test:crash:node22 [-- --kills N] [--seed S]`: the node:sqlite crash campaign of
 * test/node22/crash.test.ts, longer (1,000 kills by default), on Node 22. Exits non-zero at the
 * first lost write or half-applied batch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../crash/built.js';
import { runNodeSqliteCrashCampaign } from './campaign.js';

const { values } = parseArgs({ options: { kills: { type: 'string', default: '1000' }, seed: { type: 'string' } } });
const kills = Number(values.kills);
if (!Number.isSafeInteger(kills) || kills <= 0) throw new Error(`--kills takes a positive integer, not ${values.kills}`);
ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'pa-node22-crash-soak-'));
const started = Date.now();
try {
  const result = await runNodeSqliteCrashCampaign({ dir, kills, seed: values.seed === undefined ? Date.now() : Number(values.seed), log: (line) => console.log(line) });
  console.log(`\n${JSON.stringify(result, null, 2)}\n${kills} kills in ${((Date.now() - started) / 1000).toFixed(0)} s: no acknowledged write lost, no batch half applied`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
