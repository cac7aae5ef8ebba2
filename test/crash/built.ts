/**
 * The crash test's child runs the built package (a fast start matters when it is started a hundred
 * times). `npm test` builds first; run on its own, this rebuilds when dist/ is missing or older
 * than the sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/go-schema.js';

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(file) : statSync(file).mtimeMs);
  }
  return latest;
}

/** Builds dist/ unless it is newer than every source file. */
export function ensureBuilt(): void {
  const outputs = ['dist/index.js', 'dist/adapters/fs.js', 'dist/adapters/indexeddb.js', 'dist/adapters/kv.js', 'dist/engines/d1.js', 'dist/engines/node-sqlite.js', 'dist/browser.js', 'dist/sql-wasm.wasm', 'dist/cli/agent-store.js', 'dist/dashboard/app.js', 'dist/dashboard/index.html'].map((f) => join(repoRoot, f));
  const sources = Math.max(...['src', 'adapters', 'engines', 'browser', 'cli', 'dashboard'].map((dir) => newest(join(repoRoot, dir))));
  if (outputs.every((f) => existsSync(f) && statSync(f).mtimeMs >= sources)) return;
  execFileSync(join(repoRoot, 'node_modules/.bin/tsup'), ['--silent'], { cwd: repoRoot, stdio: 'inherit' });
}
