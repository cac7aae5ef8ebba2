/**
 * The journal on real files: a torn tail cut at every byte of the last record, damage in an earlier
 * record, and crash-consistency of what the fs adapter leaves on disk.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileAdapter, fileAdapterPaths } from '../../adapters/fs.js';
import { CorruptDatabaseError, openStore, parseJournal, SCHEMA_VERSION, type PersistenceAdapter, type StoreWarning } from '../../src/index.js';
import { independentReaders } from '../helpers/independent-sqlite.js';
import { journalRecordsOf } from '../helpers/files.js';
import { tempDir } from '../helpers/go-db.js';

const dir = tempDir('pa-fs-journal-');
afterAll(() => dir.remove());
let n = 0;

/** Writes `count` tasks durably, then "crashes": the adapter lets go of its files, nothing is checkpointed. */
async function crashedDatabase(count: number): Promise<string> {
  const folder = dir.file(`case-${n++}`);
  mkdirSync(folder);
  const path = join(folder, 'agent.db');
  const adapter: PersistenceAdapter = createFileAdapter({ path });
  const store = await openStore({ adapter, durability: 'write' });
  for (let i = 0; i < count; i++) await store.saveTask({ id: `t${i}`, command: 'deploy', params: { i, pad: 'x'.repeat(i * 7) } });
  expect(store.health().journalBytes).toBeGreaterThan(0);
  // The process dies: no close(), no checkpoint. (Its lock would be taken over as a dead pid's; in
  // this process the adapter gives it up by hand.)
  await adapter.close();
  return path;
}

/** A copy of the database's image and journal in a new folder, the journal cut or changed by `edit`. */
function copyWith(path: string, edit: (journal: Buffer) => Buffer): string {
  const folder = dir.file(`case-${n++}`);
  mkdirSync(folder);
  const target = join(folder, 'agent.db');
  copyFileSync(path, target);
  writeFileSync(fileAdapterPaths(target).journal, edit(journalRecordsOf(fileAdapterPaths(path).journal)), { mode: 0o600 });
  return target;
}

describe('the journal on files', () => {
  it('a torn tail, cut at every byte offset of its last record, loses only that record', async () => {
    const path = await crashedDatabase(4);
    const journal = journalRecordsOf(fileAdapterPaths(path).journal);
    const records = parseJournal(journal).records;
    expect(records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
    const last = records[3];
    if (!last) throw new Error('no last record');
    for (let cut = last.offset; cut < journal.length; cut++) {
      const target = copyWith(path, (j) => j.subarray(0, cut));
      const warnings: StoreWarning[] = [];
      const store = await openStore({ adapter: createFileAdapter({ path: target }), durability: 'write', onWarning: (w) => warnings.push(w) });
      expect((await store.listTasks()).map((t) => t.id).sort(), `cut at ${cut}`).toEqual(['t0', 't1', 't2']);
      expect(warnings.map((w) => w.code)).toEqual(cut === last.offset ? [] : ['TORN_TAIL']);
      // The next durable write replaces the torn bytes; the journal reads back whole.
      await store.saveTask({ id: 'next', command: 'deploy', params: {} });
      const after = parseJournal(journalRecordsOf(fileAdapterPaths(target).journal));
      expect(after.tornBytes).toBe(0);
      expect(after.records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
      await store.close();
      const reopened = await openStore({ adapter: createFileAdapter({ path: target }), readOnly: true });
      expect(await reopened.listTasks()).toHaveLength(4);
      await reopened.close();
    }
  });

  it('the zeros the adapter writes ahead of its records are no torn tail after a crash; a last record whose end the disk never wrote (zeros in its place) is one, and is dropped', async () => {
    const path = await crashedDatabase(4);
    const file = readFileSync(fileAdapterPaths(path).journal);
    const records = journalRecordsOf(fileAdapterPaths(path).journal);
    // The file is larger than its records: zeros follow them, as the crash left them.
    expect(file.length).toBeGreaterThan(records.length);
    expect(file.subarray(records.length).every((b) => b === 0)).toBe(true);
    const last = parseJournal(records).records[3];
    if (!last) throw new Error('no last record');
    for (const unwritten of [0, 1, last.size - 20, last.size]) {
      const target = copyWith(path, () => Buffer.concat([records.subarray(0, records.length - unwritten), Buffer.alloc(file.length - records.length + unwritten)]));
      const warnings: StoreWarning[] = [];
      const store = await openStore({ adapter: createFileAdapter({ path: target }), durability: 'write', onWarning: (w) => warnings.push(w) });
      expect((await store.listTasks()).map((t) => t.id).sort(), `${unwritten} bytes unwritten`).toEqual(unwritten === 0 ? ['t0', 't1', 't2', 't3'] : ['t0', 't1', 't2']);
      // A record none of whose bytes were written is no torn tail: it is not there at all.
      expect(warnings.map((w) => w.code)).toEqual(unwritten === 0 || unwritten === last.size ? [] : ['TORN_TAIL']);
      await store.saveTask({ id: 'next', command: 'deploy', params: {} });
      const after = parseJournal(journalRecordsOf(fileAdapterPaths(target).journal));
      expect(after.tornBytes).toBe(0);
      expect(after.records.map((r) => r.sequence)).toEqual(unwritten === 0 ? [1, 2, 3, 4, 5] : [1, 2, 3, 4]);
      await store.close();
      const reopened = await openStore({ adapter: createFileAdapter({ path: target }), readOnly: true });
      expect(await reopened.listTasks()).toHaveLength(unwritten === 0 ? 5 : 4);
      await reopened.close();
    }
  });

  it('a last append whose sectors reached the disk out of order (a sector never written, zeros, intact records of it after) is a torn tail; garbage in its place is damage', async () => {
    // Records of ~1.3 KB: the last three stand for one group commit, written over the zeros ahead.
    const folder = dir.file(`case-${n++}`);
    mkdirSync(folder);
    const path = join(folder, 'agent.db');
    const adapter = createFileAdapter({ path });
    const store = await openStore({ adapter, durability: 'write' });
    for (let i = 0; i < 6; i++) await store.saveTask({ id: `t${i}`, command: 'deploy', params: { i, pad: 'x'.repeat(1200) } });
    await adapter.close();
    const records = journalRecordsOf(fileAdapterPaths(path).journal);
    const parsed = parseJournal(records).records;
    expect(parsed.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    const appendStart = (parsed[3] as { offset: number }).offset;
    const last = parsed[5] as { offset: number };
    const sector = (offset: number): number => Math.ceil(offset / 512) * 512;
    const cases: { what: string; from: number; to: number; fill: number; torn: boolean }[] = [
      // A whole sector inside the append's first record never written: its later records intact.
      { what: 'a whole sector', from: sector(appendStart + 1), to: sector(appendStart + 1) + 512, fill: 0, torn: true },
      // The append's start up to the end of its first sector never written (the sector it shares
      // with the records before it, which were durable).
      { what: 'the start to its sector end', from: appendStart, to: sector(appendStart + 4), fill: 0, torn: true },
      // The same bytes, not zeros: no write leaves that; damage.
      { what: 'a sector of garbage', from: sector(appendStart + 1), to: sector(appendStart + 1) + 512, fill: 0xa5, torn: false },
    ];
    for (const c of cases) {
      expect(c.to, c.what).toBeLessThan(last.offset);
      const target = copyWith(path, (j) => {
        const edited = Buffer.from(j);
        edited.fill(c.fill, c.from, c.to);
        return edited;
      });
      const warnings: StoreWarning[] = [];
      const opened = await openStore({ adapter: createFileAdapter({ path: target }), durability: 'write', onWarning: (w) => warnings.push(w) }).catch((e: unknown) => e);
      if (!c.torn) {
        expect(opened, c.what).toBeInstanceOf(CorruptDatabaseError);
        continue;
      }
      if (opened instanceof Error) throw opened;
      const reopened = opened as Awaited<ReturnType<typeof openStore>>;
      expect((await reopened.listTasks()).map((t) => t.id).sort(), c.what).toEqual(['t0', 't1', 't2']);
      expect(warnings.map((w) => w.code)).toEqual(['TORN_TAIL']);
      // The next durable write goes where the torn append began; the journal reads back whole.
      await reopened.saveTask({ id: 'next', command: 'deploy', params: {} });
      const after = parseJournal(journalRecordsOf(fileAdapterPaths(target).journal));
      expect(after.tornBytes).toBe(0);
      expect(after.records.map((r) => r.sequence)).toEqual([1, 2, 3, 4]);
      await reopened.close();
    }
  });

  it('a damaged byte in an earlier record is a CORRUPT error and leaves every file as it was', async () => {
    const path = await crashedDatabase(3);
    const journal = journalRecordsOf(fileAdapterPaths(path).journal);
    const first = parseJournal(journal).records[0];
    if (!first) throw new Error('no first record');
    // Every byte of the first record's header, and a spread of its payload.
    const offsets = [...Array.from({ length: 20 }, (_, i) => first.offset + i), ...Array.from({ length: 8 }, (_, i) => first.offset + 20 + Math.floor(((first.size - 20) * i) / 8))];
    for (const at of offsets) {
      const target = copyWith(path, (j) => {
        const damaged = Buffer.from(j);
        damaged[at] = (damaged[at] as number) ^ 0xff;
        return damaged;
      });
      const files = fileAdapterPaths(target);
      const before = { image: readFileSync(target), journal: readFileSync(files.journal) };
      const error = await openStore({ adapter: createFileAdapter({ path: target }) }).catch((e: unknown) => e);
      expect(error, `byte ${at}`).toBeInstanceOf(CorruptDatabaseError);
      expect((error as Error).message).toMatch(/journal/);
      expect(readFileSync(target).equals(before.image)).toBe(true);
      expect(readFileSync(files.journal).equals(before.journal)).toBe(true);
      // Nothing left behind: the lock was given back, no temp file was written.
      expect(readdirSync(join(target, '..')).sort()).toEqual(['agent.db', 'agent.db.pa-journal']);
    }
  });

  it('after a crash the image alone is a sound SQLite file that sqlite3 reads; after close() it holds everything', async () => {
    const path = await crashedDatabase(5);
    for (const reader of independentReaders()) {
      expect(reader.query(path, 'PRAGMA integrity_check'), reader.name).toEqual([{ integrity_check: 'ok' }]);
    }
    const store = await openStore({ adapter: createFileAdapter({ path }) });
    expect(await store.listTasks()).toHaveLength(5);
    await store.close();
    expect(existsSync(fileAdapterPaths(path).lock)).toBe(false);
    expect(readFileSync(fileAdapterPaths(path).journal).length).toBe(0);
    for (const reader of independentReaders()) {
      expect(reader.query(path, 'SELECT count(*) AS n FROM tasks'), reader.name).toEqual([{ n: 5 }]);
      expect(reader.query(path, "SELECT value FROM meta WHERE key = 'schema_version'")).toEqual([{ value: String(SCHEMA_VERSION) }]);
    }
  });
});
