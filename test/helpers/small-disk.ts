import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';

/** A mounted 1 MiB tmpfs, for a real ENOSPC. */
export interface SmallDisk {
  /** Its mount point. */
  readonly dir: string;
  /** Unmounts it (lazily: a file still open on it, after a failed test, must not leave the mount behind) and removes the mount point. */
  remove(): void;
}

const NEEDS = 'a 1 MiB tmpfs (for a real ENOSPC) needs mount rights: run the tests as root on Linux, as CI does';

/**
 * Mounts a 1 MiB tmpfs. Throws, saying why, where this process may not (not Linux, not root, mount
 * refused): a test that needs a full disk fails there; it is never skipped.
 */
export function mountSmallDisk(name: string): SmallDisk {
  if (process.platform !== 'linux') throw new Error(`${NEEDS} (this is ${process.platform})`);
  if (process.getuid?.() !== 0) throw new Error(`${NEEDS} (this is uid ${process.getuid?.()})`);
  const dir = join(tmpdir(), `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmdirSync(dir);
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${NEEDS}: mount -t tmpfs -o size=1m tmpfs ${dir} failed: ${stderr || (e as Error).message}`, { cause: e });
  }
  return {
    dir,
    remove: () => {
      execFileSync('umount', ['-l', dir]);
      rmdirSync(dir);
    },
  };
}

/**
 * A small disk for the tests of one file or describe block: mounted by the first test that asks
 * (so a machine that cannot mount fails those tests, each with the reason), emptied after each
 * test, unmounted after the last. Returns the function that gives its mount point.
 */
export function useSmallDisk(name: string): () => string {
  let disk: SmallDisk | undefined;
  afterEach(() => {
    if (!disk) return;
    for (const entry of readdirSync(disk.dir)) rmSync(join(disk.dir, entry), { recursive: true, force: true });
  });
  afterAll(() => disk?.remove());
  return () => (disk ??= mountSmallDisk(name)).dir;
}
