import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '../helpers/go-db.js';
import { ensureBuilt } from './built.js';
import { runCrashCampaign } from './campaign.js';

/** Kills per CI run (the issue asks for at least 100); `npm run test:crash` soaks with many more. */
const KILLS = 100;

describe('crash safety (SIGKILL at random moments)', () => {
  let dir: TempDir;
  beforeAll(() => {
    ensureBuilt();
    dir = tempDir('pa-crash-');
  });
  afterAll(() => dir?.remove());

  it(`loses no acknowledged write and never half-applies a batch over ${KILLS} kills`, { timeout: 600_000 }, async () => {
    const result = await runCrashCampaign({ dir: dir.dir, kills: KILLS, log: (line) => console.log(line) });
    console.log(`crash campaign: ${JSON.stringify(result)}`);
    expect(result.kills).toBe(KILLS);
    // The campaign must have exercised what it claims to: writes, batches, kills during open, replays.
    expect(result.acknowledged).toBeGreaterThan(KILLS * 5);
    expect(result.batches).toBeGreaterThan(KILLS);
    expect(result.killsDuringOpen).toBeGreaterThan(0);
    // Checkpoints run beside the writes (the store's export in steps, the image written while the
    // journal grows, the journal before the marker dropped), and kills land inside them.
    expect(result.checkpoints).toBeGreaterThan(KILLS / 4);
    expect(result.killsDuringCheckpoints).toBeGreaterThan(0);
    expect(result.journalsReplayed).toBeGreaterThan(KILLS / 4);
    expect(result.tasksInStore).toBeGreaterThanOrEqual(result.acknowledged);
  });
});
