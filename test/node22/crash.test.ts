import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../crash/built.js';
import { tempDir, type TempDir } from '../helpers/go-schema.js';
import { runNodeSqliteCrashCampaign } from './campaign.js';

/** Kills per run (the issue asks for at least 200); `npm run test:crash:node22` soaks with many more. */
const KILLS = 200;

describe('crash safety of the node:sqlite engine (SIGKILL at random moments)', () => {
  let dir: TempDir;
  beforeAll(() => {
    ensureBuilt();
    dir = tempDir('pa-node22-crash-');
  });
  afterAll(() => dir?.remove());

  it(`loses no acknowledged write and never half-applies a batch over ${KILLS} kills`, { timeout: 600_000 }, async () => {
    const result = await runNodeSqliteCrashCampaign({ dir: dir.dir, kills: KILLS, log: (line) => console.log(line) });
    console.log(`node:sqlite crash campaign: ${JSON.stringify(result)}`);
    expect(result.kills).toBe(KILLS);
    // The campaign must have exercised what it claims to: writes, batches, kills during open, WALs left behind.
    expect(result.acknowledged).toBeGreaterThan(KILLS * 5);
    expect(result.batches).toBeGreaterThan(KILLS);
    expect(result.killsDuringOpen).toBeGreaterThan(0);
    expect(result.walsLeft).toBeGreaterThan(KILLS / 4);
    expect(result.tasksInStore).toBeGreaterThanOrEqual(result.acknowledged);
  });
});
