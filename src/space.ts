/**
 * Free space in the database file, and giving it back: deleted rows leave free pages that SQLite
 * reuses but never returns to the file system; `VACUUM` rebuilds the file without them.
 */
import type { Context } from './context.js';
import { ValidationError } from './errors.js';

/** How much of the database file is in use. */
export interface SpaceUse {
  /** The database's size: `page_count × page_size` (as `dbSizeBytes()`). */
  readonly fileBytes: number;
  /** Bytes in free pages (`freelist_count × page_size`): what a vacuum gives back. */
  readonly freeBytes: number;
}

/** When {@link Store.reclaimSpace} rebuilds the file: only when both hold. */
export interface ReclaimSpaceOptions {
  /** The least share of the file in free pages, from 0 to 1 (default 0.25). */
  readonly minFreeRatio?: number;
  /** The least free space in bytes (default 1 MiB). */
  readonly minFreeBytes?: number;
}

/** What {@link Store.reclaimSpace} did. */
export interface ReclaimSpaceReport {
  /** Whether the file was rebuilt. */
  readonly vacuumed: boolean;
  /** Why not: too little free space for the limits, or an engine that keeps its own storage (Cloudflare D1). */
  readonly reason?: 'below-threshold' | 'unsupported';
  /** Before and after (`after` equals `before` when nothing was done); absent where the engine does not report pages (D1). */
  readonly before?: SpaceUse;
  readonly after?: SpaceUse;
  /** How long the rebuild took (ms), the checkpoint that writes the smaller image included; 0 when none ran. */
  readonly ms: number;
}

export const DEFAULT_RECLAIM: Required<ReclaimSpaceOptions> = { minFreeRatio: 0.25, minFreeBytes: 1024 * 1024 };

/** The limits, checked: a `ValidationError` names what is wrong. */
export function reclaimLimits(options: ReclaimSpaceOptions | undefined): Required<ReclaimSpaceOptions> {
  if (options === undefined) return DEFAULT_RECLAIM;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw ValidationError.of('reclaimSpace options', 'must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'minFreeRatio' && key !== 'minFreeBytes') throw ValidationError.of('reclaimSpace options', `unknown option "${key}" (minFreeRatio, minFreeBytes)`);
  }
  const { minFreeRatio = DEFAULT_RECLAIM.minFreeRatio, minFreeBytes = DEFAULT_RECLAIM.minFreeBytes } = options;
  if (typeof minFreeRatio !== 'number' || !(minFreeRatio >= 0 && minFreeRatio <= 1)) {
    throw ValidationError.of('reclaimSpace options', `minFreeRatio must be a number from 0 to 1, not ${String(minFreeRatio)}`);
  }
  if (!Number.isSafeInteger(minFreeBytes) || minFreeBytes < 0) {
    throw ValidationError.of('reclaimSpace options', `minFreeBytes must be a non-negative integer, not ${String(minFreeBytes)}`);
  }
  return { minFreeRatio, minFreeBytes };
}

/** The file's size and its free pages, or `undefined` where the engine does not report pages. */
export async function spaceUse(ctx: Context): Promise<SpaceUse | undefined> {
  let rows;
  try {
    rows = await ctx.port.all('SELECT c.page_count AS pages, f.freelist_count AS free, s.page_size AS size FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s');
  } catch {
    return undefined;
  }
  const row = rows[0];
  const pages = Number(row?.pages);
  const free = Number(row?.free);
  const size = Number(row?.size);
  if (!row || !Number.isFinite(pages) || !Number.isFinite(free) || !(size > 0)) return undefined;
  return { fileBytes: pages * size, freeBytes: free * size };
}

/** Whether `use` has enough free space for `limits` to be worth a rebuild (and any at all). */
export function worthReclaiming(use: SpaceUse, limits: Required<ReclaimSpaceOptions>): boolean {
  return use.freeBytes > 0 && use.freeBytes >= limits.minFreeBytes && use.freeBytes >= limits.minFreeRatio * use.fileBytes;
}
