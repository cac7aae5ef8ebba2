import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** SHA-256 of every file in `dir`, by name (a directory as `directory`): what a refusal must leave as it was. */
export function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    out[name] = statSync(path).isFile() ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'directory';
  }
  return out;
}

/**
 * The fs adapter's journal file at `journalPath` without the zeros it writes ahead of its records
 * (what `load()` hands the store): the bytes up to the last nonzero one.
 */
export function journalRecordsOf(journalPath: string): Buffer {
  const file = readFileSync(journalPath);
  let end = file.length;
  while (end > 0 && file[end - 1] === 0) end--;
  return file.subarray(0, end);
}
