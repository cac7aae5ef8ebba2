import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A mounted 1 MiB tmpfs, for a real ENOSPC. */
export interface SmallDisk {
  /** Its mount point. */
  readonly dir: string;
  /** Unmounts it (lazily: a file still open on it, after a failed test, must not leave the mount behind) and removes the mount point. */
  remove(): void;
}

/** Mounts a 1 MiB tmpfs where this process may (root on Linux); `undefined` elsewhere. */
export function mountSmallDisk(name: string): SmallDisk | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const dir = join(tmpdir(), `${name}-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmdirSync(dir);
    return undefined;
  }
  return {
    dir,
    remove: () => {
      execFileSync('umount', ['-l', dir]);
      rmdirSync(dir);
    },
  };
}
