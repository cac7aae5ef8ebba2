/**
 * The corpus of bad files through the built `agent-store` command: each cause gets one exit code
 * and one `--json` error code (and reason), whichever command meets it, and every file in its
 * directory keeps its SHA-256 (no file appears either).
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryAdapter, createMemoryVolume } from '../../adapters/memory.js';
import { openStore, parseJournal } from '../../src/index.js';
import { ensureBuilt } from '../crash/built.js';
import { digests } from '../helpers/files.js';
import { goSchemaSql, openGoDatabase, tempDir, type TempDir } from '../helpers/go-db.js';
import { cli } from './run.js';

let tmp: TempDir;
afterAll(() => tmp?.remove());

/** A store's image and journal after three durable writes and a crash. */
async function crashed(label: string): Promise<{ image: Uint8Array; journal: Uint8Array }> {
  const volume = createMemoryVolume();
  const store = await openStore({ adapter: createMemoryAdapter({ volume }), durability: 'write', onWarning: () => undefined });
  for (let i = 1; i <= 3; i++) await store.saveTask({ id: `${label}-${i}`, command: 'deploy', params: { i } });
  volume.owner = undefined;
  return { image: volume.image as Uint8Array, journal: volume.journal.slice(0, volume.journalLength) };
}


/** One bad file: how to make it in an empty directory, and what every command must say. */
interface Case {
  readonly name: string;
  /** Makes the database at `path`; may return something to release after the test (a live connection). */
  readonly make: (path: string) => Promise<(() => void) | void> | (() => void) | void;
  readonly exitCode: number;
  readonly code: string;
  readonly reason?: string;
  /** What `check` (whose output is a report, not an error) says about it. */
  readonly check: RegExp;
}

let ours: { image: Uint8Array; journal: Uint8Array };
let foreign: { image: Uint8Array; journal: Uint8Array };

beforeAll(async () => {
  ensureBuilt();
  tmp = tempDir('pa-cli-bad-');
  ours = await crashed('ours');
  foreign = await crashed('foreign');
}, 180_000);

const flip = (bytes: Uint8Array, at: number) => {
  const copy = bytes.slice();
  copy[at] = (copy[at] as number) ^ 0xff;
  return copy;
};

const CASES: readonly Case[] = [
  { name: 'a missing file', make: () => {}, exitCode: 3, code: 'NOT_FOUND', check: /no database at/ },
  { name: 'a directory', make: (path) => mkdirSync(path), exitCode: 3, code: 'NOT_A_FILE', check: /is a directory, not a database file/ },
  { name: 'a zero-byte file', make: (path) => writeFileSync(path, ''), exitCode: 5, code: 'CORRUPT', reason: 'EMPTY', check: /is empty \(0 bytes\)/ },
  { name: 'a file that is not SQLite', make: (path) => writeFileSync(path, 'id,command\nt1,deploy\n'), exitCode: 5, code: 'CORRUPT', reason: 'NOT_SQLITE', check: /not a SQLite database/ },
  {
    name: "another program's SQLite database (tables, none of the agent's)",
    make: (path) => {
      const other = new Database(path);
      other.exec("CREATE TABLE recipes (name TEXT NOT NULL); INSERT INTO recipes VALUES ('soup')");
      other.close();
    },
    exitCode: 5,
    code: 'CORRUPT',
    reason: 'NOT_AGENT_DATABASE',
    check: /not an agent database: it has tables \(recipes\)/,
  },
  { name: 'a database one byte short', make: (path) => writeFileSync(path, ours.image.subarray(0, ours.image.length - 1)), exitCode: 5, code: 'CORRUPT', reason: 'TRUNCATED', check: /cut short/ },
  {
    name: 'a database with a byte past its end',
    make: (path) => writeFileSync(path, Buffer.concat([ours.image, Buffer.from([0])])),
    exitCode: 5,
    code: 'CORRUPT',
    reason: 'TRAILING_BYTES',
    check: /longer than the \d+ pages/,
  },
  {
    name: "another database's journal, its sequences lined up",
    make: (path) => {
      writeFileSync(path, ours.image);
      writeFileSync(`${path}.pa-journal`, foreign.journal);
    },
    exitCode: 5,
    code: 'CORRUPT',
    reason: 'JOURNAL_MISMATCH',
    check: /the journal continues image [0-9a-f]{32}, not this one/,
  },
  {
    name: 'its own journal with a flipped byte in a record',
    make: (path) => {
      writeFileSync(path, ours.image);
      const second = parseJournal(ours.journal).records[1];
      writeFileSync(`${path}.pa-journal`, flip(ours.journal, (second?.offset ?? 0) + 30));
    },
    exitCode: 5,
    code: 'CORRUPT',
    reason: 'JOURNAL_DAMAGED',
    check: /the journal is damaged at byte/,
  },
  {
    name: 'a live WAL (the Go agent running)',
    make: (path) => {
      const go = openGoDatabase(path);
      go.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES ('go', 'pending', 'x', '{}', 'U1', 1, 1)").run();
      return () => go.close();
    },
    exitCode: 4,
    code: 'SQLITE_JOURNAL',
    check: /write-ahead log/,
  },
  {
    name: 'a hot rollback journal',
    make: (path) => {
      const live = tmp.file(`hot-source-${Math.random().toString(36).slice(2)}.db`);
      const writer = new Database(live);
      writer.exec(goSchemaSql());
      writer.pragma('journal_mode = DELETE');
      writer.pragma('cache_size = 1');
      writer.exec('BEGIN');
      const insert = writer.prepare("INSERT INTO tasks (id, status, command, params, caller_id, created_at, updated_at) VALUES (?, 'pending', 'x', ?, 'U1', 2, 2)");
      for (let i = 0; i < 400; i++) insert.run(`u-${i}`, JSON.stringify({ pad: 'y'.repeat(300) }));
      copyFileSync(live, path);
      copyFileSync(`${live}-journal`, `${path}-journal`);
      writer.exec('ROLLBACK');
      writer.close();
    },
    exitCode: 4,
    code: 'SQLITE_JOURNAL',
    check: /hot SQLite rollback journal/,
  },
];

/** The commands every case goes through: reading ones, and ones that write. */
const COMMANDS: readonly ((path: string, dir: string) => string[])[] = [
  (path) => ['info', path],
  (path) => ['tasks', path],
  (path) => ['export', path],
  (path, dir) => ['backup', path, join(dir, '..', `${Math.random().toString(36).slice(2)}-backup.db`)],
  (path) => ['history', path, 'ours-1'],
  (path) => ['checkpoint', path],
  (path) => ['retention', path],
  (path) => ['replay', path, 'ours-1'],
];

describe('the corpus of bad files, through every command', () => {
  let dirs = 0;
  for (const c of CASES) {
    it(`${c.name}: exit ${c.exitCode} (${c.code}${c.reason ? `, ${c.reason}` : ''}) from every command, every file untouched`, async () => {
      const dir = tmp.file(`case-${++dirs}`);
      mkdirSync(dir);
      const path = join(dir, 'agent.db');
      const release = await c.make(path);
      try {
        const before = digests(dir);
        for (const make of COMMANDS) {
          const args = make(path, dir);
          const ran = await cli([...args, '--json']);
          expect(ran.code, `${args[0]}: ${ran.stderr}`).toBe(c.exitCode);
          const { error } = JSON.parse(ran.stdout) as { error: { code: string; reason?: string; exitCode: number } };
          expect(error, args[0]).toMatchObject({ code: c.code, exitCode: c.exitCode, ...(c.reason ? { reason: c.reason } : {}) });
          expect(digests(dir), `${args[0]} changed a file`).toEqual(before);
        }
        // check reports (a table, or --json checks) rather than failing with an error, but with the same exit code.
        const ran = await cli(['check', path, '--json']);
        expect(ran.code, ran.stderr).toBe(c.exitCode);
        expect(`${ran.stdout}${ran.stderr}`).toMatch(c.check);
        // Where check reports the refusal as a failed check, it names the same reason.
        if (c.reason === 'NOT_AGENT_DATABASE') expect((JSON.parse(ran.stdout) as { checks: { reason?: string }[] }).checks.map((x) => x.reason)).toContain(c.reason);
        expect(`${ran.stdout}${ran.stderr}`).not.toContain('all checks passed');
        expect(digests(dir)).toEqual(before);
      } finally {
        if (typeof release === 'function') release();
      }
    });
  }
});
